from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from portal.core.csv_export import csv_response
from portal.core.upload_limits import refused_files_on_form, upload_limits
from portal.recycling import selectors, services
from portal.recycling.forms import NumberEventUploadForm
from portal.recycling.models import NumberEvent
from portal.recycling.uploads import number_event_upload_create
from registry.models import StaffUser


def _uploads_for(request):
    """The uploads this user may see; a 404 for staff who neither report events nor administer."""
    user = request.user
    if not (user.is_administrator or (user.role == StaffUser.Role.CARRIER_STAFF and user.organisation_id)):
        raise Http404
    return selectors.number_event_upload_list(user=user)


@upload_limits(per_file="NUMBER_EVENT_UPLOAD_MAX_BYTES")
@login_required
def staff_number_event_uploads(request):
    """Upload history, and the upload form for carrier staff."""
    uploads = _uploads_for(request)
    can_upload = request.user.role == StaffUser.Role.CARRIER_STAFF
    form = NumberEventUploadForm()
    if request.method == "POST" and can_upload:
        form = NumberEventUploadForm(request.POST, request.FILES)
        refused_files_on_form(request, form, "file")
        if form.is_valid():
            try:
                upload = number_event_upload_create(
                    carrier=request.user.organisation, uploaded_by=request.user, file=form.cleaned_data["file"]
                )
            except ValidationError as error:
                form.add_error("file", error)
            else:
                return redirect("staff_number_event_upload", pk=upload.pk)
    context = {
        "uploads": uploads[:100],
        "form": form if can_upload else None,
        "demo_file": settings.DEBUG,
        "max_bytes": settings.NUMBER_EVENT_UPLOAD_MAX_BYTES,
        "types": NumberEvent.Type.choices,
    }
    return render(request, "portal/staff_number_event_uploads.html", context, status=400 if form.errors else 200)


@never_cache
@login_required
def staff_number_event_upload(request, pk: int):
    upload = get_object_or_404(_uploads_for(request), pk=pk)
    context = {"upload": upload, "progress": selectors.number_event_upload_progress(upload)}
    return render(request, "portal/staff_number_event_upload.html", context)


@never_cache
@login_required
def staff_number_event_upload_progress(request, pk: int):
    upload = get_object_or_404(_uploads_for(request), pk=pk)
    return JsonResponse(selectors.number_event_upload_progress(upload))


@login_required
def staff_number_event_upload_rejected(request, pk: int):
    """The rejected rows as CSV (UTF-8 with BOM, so spreadsheets show the Chinese reasons): the line in
    the uploaded file, the reason in the reader's language, and the row as given."""
    upload = get_object_or_404(_uploads_for(request), pk=pk)
    fields = list(services.NUMBER_EVENT_FIELDS)

    def rows():
        yield [_("line"), _("reason"), *fields]
        for line, code, detail, cells in selectors.number_event_upload_rejected_rows(upload=upload):
            if len(cells) == len(upload.columns):
                cells = [dict(zip(upload.columns, cells)).get(field, "") for field in fields]
            yield [line, services.number_event_rejection_text(code, detail), *cells]

    return csv_response(rows(), f"rejected-rows-{upload.pk}.csv")
