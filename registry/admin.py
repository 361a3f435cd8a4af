"""The administrators' registry. Actions call services; nothing here changes state on its own."""

from allauth.mfa.models import Authenticator
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db import models
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from registry import services
from registry.forms import StaffChangeForm, StaffInviteForm
from registry.models import (
    Integration,
    IntegrationKey,
    MemberApp,
    Organisation,
    OrganisationStatusChange,
    StaffUser,
)


class StatusChangeInline(admin.TabularInline):
    model = OrganisationStatusChange
    extra = 0
    can_delete = False
    fields = ("changed_at", "from_status", "to_status", "changed_by", "reason")
    readonly_fields = fields
    verbose_name_plural = _("status history")

    def has_add_permission(self, request, obj=None):
        return False


class MemberAppInline(admin.TabularInline):
    model = MemberApp
    extra = 0
    fields = ("name", "category", "go_live_date", "supports_lookup", "supports_unbind", "supports_recycling_notices")
    show_change_link = True


def _status_action(target: str, label):
    def action(modeladmin, request, queryset):
        changed = 0
        for organisation in queryset:
            try:
                services.organisation_set_status(organisation=organisation, status=target, by=request.user)
                changed += 1
            except ValidationError as error:
                modeladmin.message_user(request, "; ".join(error.messages), messages.ERROR)
        if changed:
            modeladmin.message_user(
                request,
                ngettext("%(count)d organisation updated.", "%(count)d organisations updated.", changed)
                % {"count": changed},
                messages.SUCCESS,
            )

    action.__name__ = f"set_status_{target}"
    action.short_description = label
    return action


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("legal_name", "kind", "credit_code", "status", "status_changed_at", "status_changed_by")
    list_filter = ("kind", "status")
    search_fields = ("legal_name", "credit_code", "contact_name", "contact_email")
    readonly_fields = ("status_changed_at", "status_changed_by", "created_at")
    inlines = [MemberAppInline, StatusChangeInline]
    actions = [
        _status_action(Organisation.Status.APPROVED, _("Approve the selected applications")),
        _status_action(Organisation.Status.ACTIVE, _("Activate the selected organisations")),
        _status_action(Organisation.Status.SUSPENDED, _("Suspend the selected organisations")),
        _status_action(Organisation.Status.WITHDRAWN, _("Mark the selected organisations as withdrawn")),
    ]

    def get_readonly_fields(self, request, obj=None):
        # After creation the status moves only through the actions, so every change is recorded.
        return self.readonly_fields + (("status",) if obj else ())

    def save_model(self, request, obj, form, change):
        if not change:
            obj.status_changed_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            services.organisation_record_creation(organisation=obj, by=request.user)


# Members' addresses are HTTPS; a URL typed without a scheme gets https:// (Django 6's default).
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


@admin.register(MemberApp)
class MemberAppAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = (
        "name",
        "organisation",
        "category",
        "supports_lookup",
        "supports_unbind",
        "supports_recycling_notices",
        "go_live_date",
    )
    list_filter = (
        "category",
        "organisation__status",
        "supports_lookup",
        "supports_unbind",
        "supports_recycling_notices",
    )
    search_fields = ("name", "organisation__legal_name")
    autocomplete_fields = ("organisation",)
    date_hierarchy = "go_live_date"


class IntegrationKeyInline(admin.TabularInline):
    model = IntegrationKey
    extra = 0
    can_delete = False
    fields = ("key_id", "created_at", "created_by", "revoked_at")
    readonly_fields = fields
    verbose_name_plural = _("signing keys (secrets are shown only once, when made)")

    def has_add_permission(self, request, obj=None):
        return False


def _show_issued_keys(modeladmin, request, issued):
    response = TemplateResponse(
        request,
        "admin/registry/integration/keys_issued.html",
        {**modeladmin.admin_site.each_context(request), "issued": issued, "title": _("New signing keys")},
    )
    response["Cache-Control"] = "no-store"  # the page holds secrets shown this one time
    return response


@admin.action(description=_("Rotate the signing key (issue a new one; the previous one stays valid)"))
def rotate_key(modeladmin, request, queryset):
    issued = []
    for integration in queryset.select_related("app"):
        key, secret = services.integration_key_issue(integration=integration, by=request.user)
        issued.append((integration, key, secret))
    return _show_issued_keys(modeladmin, request, issued)


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = (
        "app",
        "base_url",
        "enabled",
        "timeout_ms",
        "max_requests_per_second",
        "last_success_at",
        "consecutive_failures",
    )
    list_filter = ("enabled", "app__category", "app__organisation__kind")
    search_fields = ("app__name", "app__organisation__legal_name", "base_url", "keys__key_id")
    autocomplete_fields = ("app",)
    readonly_fields = ("last_success_at", "last_failure_at", "last_error", "consecutive_failures", "created_at")
    inlines = [IntegrationKeyInline]
    actions = [rotate_key]

    def response_add(self, request, obj, post_url_continue=None):
        # A new integration gets its first key at once, shown this one time.
        key, secret = services.integration_key_issue(integration=obj, by=request.user)
        return _show_issued_keys(self, request, [(obj, key, secret)])


@admin.register(StaffUser)
class StaffUserAdmin(UserAdmin):
    ordering = ("email",)
    list_display = ("email", "full_name", "role", "organisation", "province", "is_active", "has_totp", "last_login")
    list_filter = ("role", "is_active", "province")
    search_fields = ("email", "full_name", "organisation__legal_name")
    autocomplete_fields = ("organisation",)
    fieldsets = (
        (None, {"fields": ("email", "full_name", "password")}),
        (_("Role"), {"fields": ("role", "organisation", "province")}),
        (_("Access"), {"fields": ("is_active", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "role", "organisation", "province")}),
    )
    readonly_fields = ("last_login", "date_joined")
    actions = ["send_invitation", "reset_two_factor"]
    add_form = StaffInviteForm
    form = StaffChangeForm

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            services.staff_invite(user=obj, request=request)
            self.message_user(request, _("Invitation sent to %(email)s.") % {"email": obj.email}, messages.SUCCESS)

    @admin.display(boolean=True, description=_("TOTP set up"))
    def has_totp(self, obj):
        return Authenticator.objects.filter(user=obj, type=Authenticator.Type.TOTP).exists()

    @admin.action(description=_("Send the invitation again"))
    def send_invitation(self, request, queryset):
        for user in queryset:
            services.staff_invite(user=user, request=request)
        self.message_user(request, _("Invitations sent."), messages.SUCCESS)

    @admin.action(description=_("Reset two-factor authentication (lost phone)"))
    def reset_two_factor(self, request, queryset):
        Authenticator.objects.filter(user__in=queryset).delete()
        self.message_user(request, _("They will set up TOTP again at their next sign-in."), messages.SUCCESS)
