from django import forms
from django.utils.translation import gettext_lazy as _

from portal.recycling.models import NumberEvent


class NoticeSubscriptionForm(forms.Form):
    webhook_url = forms.URLField(
        label=_("Webhook URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_("Notices are POSTed here as CloudEvents, signed like protocol v2."),
    )
    event_types = forms.MultipleChoiceField(
        label=_("Events to be told of"),
        widget=forms.CheckboxSelectMultiple,
        choices=NumberEvent.Type.choices,
    )
    enabled = forms.BooleanField(label=_("Send notices"), required=False, initial=True)
