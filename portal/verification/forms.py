from captcha.fields import CaptchaField, CaptchaTextInput
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.core.phone import normalize_phone
from portal.verification.services import normalize_id_last6


class PhoneForm(forms.Form):
    """The holder's number. Every field keeps its value when something is refused."""

    phone_number = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "138 1234 5678"}),
    )

    def clean_phone_number(self):
        return normalize_phone(self.cleaned_data["phone_number"])


class HolderForm(PhoneForm):
    """What the holder types first for a lookup."""

    id_last6 = forms.CharField(
        label=_("Last 6 characters of your ID card"),
        max_length=6,
        min_length=6,
        help_text=_("Five digits, then a digit or X. Checked, never stored."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "placeholder": "12345X"}),
    )

    def clean_id_last6(self):
        return normalize_id_last6(self.cleaned_data["id_last6"])


class CaptchaInput(CaptchaTextInput):
    """The picture and its answer box under a real <label>: a MultiWidget gets a fieldset legend, which
    labels no input, so screen readers announced the box without a name (axe: label, critical)."""

    use_fieldset = False


def captcha_field() -> CaptchaField:
    """The picture check before any SMS code is sent."""
    return CaptchaField(
        label=_("Type the characters in the picture"),
        widget=CaptchaInput(attrs={"autocomplete": "off"}),
        error_messages={"invalid": _("The characters do not match the picture. Try the new picture.")},
    )


class CodeFieldMixin(forms.Form):
    code = forms.CharField(
        label=_("SMS code"),
        max_length=6,
        min_length=6,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "placeholder": "______"}
        ),
    )

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if not code.isdigit():
            raise ValidationError(_("The code is 6 digits."), code="invalid_code")
        return code


class PhoneCaptchaForm(PhoneForm):
    """The number and the picture check, then an SMS code (unbind tracking, second-hand check, complaints)."""

    captcha = captcha_field()


class PhoneCodeForm(CodeFieldMixin, PhoneForm):
    """The SMS code, the number carried along hidden."""

    phone_number = forms.CharField(widget=forms.HiddenInput)
    field_order = ["phone_number", "code"]
