"""Development-only pages."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404

from portal.core.csv_export import csv_response
from portal.devtools.demo import DEMO_CARRIER_FILE_NAME, demo_carrier_file_rows
from portal.recycling.views import _uploads_for


@login_required
def staff_number_event_demo_file(request):
    """Development only: the demo carrier's made-up monthly file, to try the upload with."""
    if not settings.DEBUG:
        raise Http404
    _uploads_for(request)
    return csv_response(demo_carrier_file_rows(), DEMO_CARRIER_FILE_NAME, bom=False)
