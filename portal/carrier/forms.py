from django import forms
from django.utils.translation import gettext_lazy as _

from portal.carrier.services import REFERENCE
from portal.verification.forms import PhoneForm


class CounterNumberForm(PhoneForm):
    """The counter: the subscriber's number, and the member of staff's word that they checked the
    subscriber's ID (the carrier's own real-name check) just now."""

    reference = forms.RegexField(
        label=_("Your staff or desk reference"),
        regex=REFERENCE,
        max_length=64,
        help_text=_("Your carrier's own reference for you or this desk (letters, digits, _ . : @ / # -)."),
        error_messages={"invalid": _("Use 1 to 64 letters, digits or _ . : @ / # -.")},
    )
    verified = forms.BooleanField(label=_("I checked the subscriber's ID card against the real-name record just now"))


class CounterRenewalForm(forms.Form):
    """Start the renewal of the number whose history was just read: its action id, so the number is not
    in the page."""

    history = forms.UUIDField(widget=forms.HiddenInput)
    holder_since = forms.DateField(
        label=_("The subscriber has had the number since"),
        required=False,
        help_text=_("Needed when no re-assignment of the number was reported: bindings made before it are removed."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
