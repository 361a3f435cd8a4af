"""Administrators read every carrier action here: who attested the subscriber (channel, the carrier's
reference, when), through which key or staff member, on which number (masked; searchable by the number,
hashed as the rows keep it), and how it went. Rows are written by portal/carrier/services.py only."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.admin import ReadOnlyAdmin
from portal.carrier.models import CarrierAction
from portal.phone import normalize_phone
from portal.privacy import keyed_hash


@admin.register(CarrierAction)
class CarrierActionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "carrier", "kind", "channel", "reference", "verified_at", "via", "key_id",
                    "staff_user", "masked_phone_number", "state", "apps_done", "apps_refused", "callback_state")
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
