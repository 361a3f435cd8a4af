from django.contrib import admin

from complaints.models import Complaint, ComplaintEvent


class ComplaintEventInline(admin.TabularInline):
    model = ComplaintEvent
    fields = ("at", "actor_label", "action", "field", "old_value", "new_value", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Complaint)
class ComplaintAdmin(admin.ModelAdmin):
    """A read-only view for administrators; cases are worked in the staff console (/staff/complaints/),
    where every change goes through the services and is kept in the history."""

    list_display = ("reference", "received_at", "state", "category", "app", "respondent_name", "province", "timely")
    list_filter = ("state", "category", "timely", "province")
    search_fields = ("reference",)
    date_hierarchy = "received_at"
    list_select_related = ("app",)
    exclude = ("phone_hash", "phone_encrypted", "email_encrypted")
    inlines = [ComplaintEventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
