from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from portal.core.upload_limits import file_input_limits


class BulkCheckFileForm(forms.Form):
    file = forms.FileField(
        label=_("File of numbers and dates (CSV)"),
        help_text=_("Two columns, number,date (YYYY-MM-DD); UTF-8; a header row is optional."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs.update(file_input_limits(settings.BULK_CHECK_FILE_MAX_BYTES))
