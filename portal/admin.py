from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.carrier.models import CarrierAction
from portal.core.phone import normalize_phone
from portal.core.privacy import keyed_hash
from portal.notices.models import NoticeAttempt, NoticeDelivery, NoticeSubscription
from portal.recycling.models import NumberCheckAudit, NumberEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by services only (carriers' reports through the API or uploads, subscriptions in the staff
    console or the API, notices by the workers); administrators read here and re-send parked notices at
    /staff/notices/."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NumberEvent)
class NumberEventAdmin(ReadOnlyAdmin):
    """Carriers' reports; filter "freeze-period breach" and a carrier to list its early re-assignments."""

    list_display = (
        "phone_number",
        "type",
        "occurred_at",
        "carrier",
        "freeze_breach",
        "days_since_cancellation",
        "event_id",
    )
    list_filter = ("freeze_breach", "type", "carrier")
    search_fields = ("phone_number", "event_id")
    date_hierarchy = "occurred_at"
    list_select_related = ("carrier",)


@admin.register(NoticeSubscription)
class NoticeSubscriptionAdmin(ReadOnlyAdmin):
    list_display = (
        "app",
        "webhook_url",
        "event_types",
        "enabled",
        "failing_since",
        "disabled_at",
        "key_id",
        "notified_up_to",
        "updated_at",
    )
    list_filter = ("enabled", ("disabled_at", admin.EmptyFieldListFilter))
    search_fields = ("app__name", "webhook_url", "key_id")
    list_select_related = ("app",)


class NoticeAttemptInline(admin.TabularInline):
    model = NoticeAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "status_code", "error", "duration_ms", "replay", "requested_by")
    readonly_fields = fields


@admin.register(NoticeDelivery)
class NoticeDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "subscription",
        "numbers",
        "state",
        "attempts",
        "last_error",
        "created_at",
        "bindings_removed",
    )
    list_filter = ("state",)
    search_fields = ("id",)
    date_hierarchy = "created_at"
    list_select_related = ("subscription__app",)
    inlines = [NoticeAttemptInline]


@admin.register(NumberCheckAudit)
class NumberCheckAuditAdmin(ReadOnlyAdmin):
    """Who checked which number: search by a number (it is hashed as the rows are) or a client's key id;
    filter by API, answer or organisation. Rows cannot be changed or deleted here; lookup_purge removes them."""

    list_display = ("checked_at", "api", "organisation", "key_id", "phone_hash", "specified_date", "answer")
    list_filter = ("api", "answer", "organisation")
    search_fields = ("key_id",)
    search_help_text = _("A phone number (13800138000 or +8613800138000) or a key id")
    date_hierarchy = "checked_at"
    list_select_related = ("organisation",)
    show_full_result_count = False  # a count of millions of rows on every page

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        try:
            return queryset.filter(phone_hash=keyed_hash("phone", normalize_phone(search_term.strip()))), False
        except ValidationError:  # not a number: the key id
            return super().get_search_results(request, queryset, search_term)


# Administrators read every carrier action here: who attested the subscriber (channel, the carrier's reference,
# when), through which key or staff member, on which number (masked; searchable by the number, hashed as the
# rows keep it), and how it went. Rows are written by portal/carrier/services.py only.
@admin.register(CarrierAction)
class CarrierActionAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "carrier",
        "kind",
        "channel",
        "reference",
        "verified_at",
        "via",
        "key_id",
        "staff_user",
        "masked_phone_number",
        "state",
        "apps_done",
        "apps_refused",
        "callback_state",
    )
    list_filter = ("kind", "channel", "via", "state", "carrier")
    search_fields = ("reference", "key_id")
    search_help_text = _("A phone number, the carrier's reference or a key id")
    date_hierarchy = "created_at"
    list_select_related = ("carrier", "staff_user")
    exclude = ("phone_number", "phone_hash")
    readonly_fields = ("masked_phone_number",)

    @admin.display(description=_("phone number"))
    def masked_phone_number(self, obj):
        return obj.masked_phone_number

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        try:
            return queryset.filter(phone_hash=keyed_hash("phone", normalize_phone(search_term.strip()))), False
        except ValidationError:  # not a number: a reference or a key id
            return super().get_search_results(request, queryset, search_term)
