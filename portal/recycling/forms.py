from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from portal.core.upload_limits import file_input_limits


class NumberEventUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Monthly file of number events (CSV)"),
        help_text=_("Columns event_id, phone_number, type, occurred_at; UTF-8; a header row is optional."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs.update(file_input_limits(settings.NUMBER_EVENT_UPLOAD_MAX_BYTES))
