from django.contrib import admin

from portal.models import NumberEvent


@admin.register(NumberEvent)
class NumberEventAdmin(admin.ModelAdmin):
    """Carriers' reports; filter "freeze-period breach" and a carrier to list its early re-assignments."""

    list_display = ("phone_number", "type", "occurred_at", "carrier", "freeze_breach", "days_since_cancellation", "event_id")
    list_filter = ("freeze_breach", "type", "carrier")
    search_fields = ("phone_number", "event_id")
    date_hierarchy = "occurred_at"
    list_select_related = ("carrier",)

    def has_add_permission(self, request):
        return False  # carriers report; administrators read

    def has_change_permission(self, request, obj=None):
        return False
