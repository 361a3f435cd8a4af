from django.contrib import admin

from portal.models import NoticeAttempt, NoticeDelivery, NoticeSubscription, NumberEvent


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

    list_display = ("phone_number", "type", "occurred_at", "carrier", "freeze_breach", "days_since_cancellation", "event_id")
    list_filter = ("freeze_breach", "type", "carrier")
    search_fields = ("phone_number", "event_id")
    date_hierarchy = "occurred_at"
    list_select_related = ("carrier",)


@admin.register(NoticeSubscription)
class NoticeSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("app", "webhook_url", "event_types", "enabled", "key_id", "notified_up_to", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("app__name", "webhook_url", "key_id")
    list_select_related = ("app",)


class NoticeAttemptInline(admin.TabularInline):
    model = NoticeAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "status_code", "error", "duration_ms")
    readonly_fields = fields


@admin.register(NoticeDelivery)
class NoticeDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "subscription", "numbers", "state", "attempts", "last_error", "created_at", "bindings_removed")
    list_filter = ("state",)
    search_fields = ("id",)
    date_hierarchy = "created_at"
    list_select_related = ("subscription__app",)
    inlines = [NoticeAttemptInline]
