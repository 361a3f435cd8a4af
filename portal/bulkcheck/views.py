"""The member console's bulk check files: upload, follow the progress bar, download the result."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from portal.bulkcheck import selectors, services
from portal.bulkcheck.forms import BulkCheckFileForm
from portal.core.csv_export import csv_response
from portal.core.upload_limits import refused_files_on_form, upload_limits


def _files_for(request):
    """The files this user may see: member staff see their organisation's; everyone else gets a 404."""
    user = request.user
    if not (user.is_member_staff and user.organisation_id):
        raise Http404
    return selectors.bulk_check_files_for(user)


def _file_for(request, public_id):
    return get_object_or_404(_files_for(request), public_id=public_id)


@upload_limits(per_file="BULK_CHECK_FILE_MAX_BYTES")
@login_required
def staff_bulk_check_files(request):
    """The organisation's files and the upload form."""
    files = _files_for(request)
    form = BulkCheckFileForm()
    if request.method == "POST":
        form = BulkCheckFileForm(request.POST, request.FILES)
        refused_files_on_form(request, form, "file")
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                checked = services.bulk_check_file_create(
                    organisation=request.user.organisation,
                    name=upload.name,
                    chunks=upload.chunks(),
                    uploaded_by=request.user,
                )
            except ValidationError as error:
                form.add_error("file", error)
            else:
                return redirect("staff_bulk_check_file", public_id=checked.public_id)
    context = {
        "files": files[:100],
        "form": form,
        "max_bytes": settings.BULK_CHECK_FILE_MAX_BYTES,
        "max_rows": settings.BULK_CHECK_FILE_MAX_ROWS,
        "retention_days": settings.BULK_CHECK_FILE_RETENTION_DAYS,
    }
    return render(request, "portal/bulkcheck/files.html", context, status=400 if form.errors else 200)


@never_cache
@login_required
def staff_bulk_check_file(request, public_id):
    checked = _file_for(request, public_id)
    progress = selectors.bulk_check_file_progress(checked)
    bad_rows = [(line, services.reason_text(code)) for line, code in checked.bad_rows]
    return render(request, "portal/bulkcheck/file.html", {"file": checked, "progress": progress, "bad_rows": bad_rows})


@never_cache
@login_required
def staff_bulk_check_file_progress(request, public_id):
    return JsonResponse(selectors.bulk_check_file_progress(_file_for(request, public_id)))


@login_required
def staff_bulk_check_file_result(request, public_id):
    """The result as CSV (UTF-8 with BOM, cells defused): each row with its answer and reason."""
    checked = _file_for(request, public_id)
    if not selectors.bulk_check_file_progress(checked)["result_available"]:
        raise Http404
    return csv_response(services.bulk_check_result_rows(checked), f"bulk-check-{checked.public_id}.csv")
