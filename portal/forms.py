from captcha.fields import CaptchaField
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.phone import normalize_phone
from portal.services import normalize_id_last6


class HolderForm(forms.Form):
    """What the holder types first. Every field keeps its value when something is refused."""

    phone_number = forms.CharField(
        label=_("Mobile number"), max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "138 1234 5678"}),
    )
    id_last6 = forms.CharField(
        label=_("Last 6 characters of your ID card"), max_length=6, min_length=6,
        help_text=_("Five digits, then a digit or X. Checked, never stored."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "placeholder": "12345X"}),
    )

    def clean_phone_number(self):
        return normalize_phone(self.cleaned_data["phone_number"])

    def clean_id_last6(self):
        return normalize_id_last6(self.cleaned_data["id_last6"])


class LookupStartForm(HolderForm):
    captcha = CaptchaField(label=_("Type the characters in the picture"), error_messages={"invalid": _("The characters do not match the picture. Try the new picture.")})


class LookupCodeForm(HolderForm):
    phone_number = forms.CharField(widget=forms.HiddenInput)
    id_last6 = forms.CharField(widget=forms.HiddenInput)
    code = forms.CharField(
        label=_("SMS code"), max_length=6, min_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "placeholder": "______"}),
    )

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if not code.isdigit():
            raise ValidationError(_("The code is 6 digits."), code="invalid_code")
        return code


class NumberEventUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Monthly file of number events (CSV)"),
        help_text=_("Columns event_id, phone_number, type, occurred_at; UTF-8; a header row is optional."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
