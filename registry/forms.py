from django import forms
from django.contrib.auth.forms import UserChangeForm

from registry.models import StaffUser


class StaffInviteForm(forms.ModelForm):
    """Administrators create staff without a password; the invitation link lets them choose one."""

    class Meta:
        model = StaffUser
        fields = ("email", "full_name", "role", "organisation", "province")

    def save(self, commit=True):
        user = super().save(commit=False)
        user.set_unusable_password()
        if commit:
            user.save()
        return user


class StaffChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = StaffUser
        fields = "__all__"
        field_classes: dict = {}
