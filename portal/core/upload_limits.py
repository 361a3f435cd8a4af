"""Upload size limits, enforced before a request body is read or spooled to disk.

- A view that takes files says how big they may be (`upload_limits`); every other view takes a body of at
  most REQUEST_BODY_MAX_BYTES, files included.
- `RequestBodyLimitMiddleware` (before CSRF, the first to read a form) answers 413 when Content-Length is
  over the view's limit, without reading a byte of the body; a body without Content-Length (chunked) is
  read as empty under WSGI, and is refused with 411 where a file is expected.
- `LimitedUploadHandler` (first in FILE_UPLOAD_HANDLERS) counts the bytes as they stream in: a file past
  its cap is dropped at the cap (the handlers after it, which spool to memory or disk, never see more),
  and named on the form, which keeps everything else; the whole body past its cap stops the upload.

The proxy in front enforces the same numbers (docs/deployment.md, nginx `client_max_body_size`)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.http import JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

FORM_OVERHEAD_BYTES = 1024 * 1024  # the form's other fields and the multipart boundaries
API_PREFIXES = ("/api/", "/number-recycling/", "/oauth/")


def upload_limits(*, per_file: str, files: str | None = None):
    """Declare a view's upload limits by setting names (read per request, so tests can change them): each
    file at most settings.<per_file> bytes, and settings.<files> files (one when not given)."""

    def decorator(view):
        view.upload_limits = (per_file, files)
        return view

    return decorator


def limits_for(view) -> tuple[int, int]:
    """(bytes a file, bytes the whole body) for a view."""
    names = getattr(view, "upload_limits", None)
    if names is None:
        return settings.REQUEST_BODY_MAX_BYTES, settings.REQUEST_BODY_MAX_BYTES
    per_file = getattr(settings, names[0])
    count = getattr(settings, names[1]) if names[1] else 1
    return per_file, per_file * count + FORM_OVERHEAD_BYTES


def _refuse(request, status: int, message: str):
    if request.path.startswith(API_PREFIXES):
        response = JsonResponse(
            {"code": "too_large" if status == 413 else "length_required", "detail": message, "retry_at": None},
            status=status,
        )
    else:
        response = render(request, "portal/upload_refused.html", {"message": message}, status=status)
    return response  # the body is left unread: gunicorn's sync workers close the connection after each answer


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        per_file, total = limits_for(view)
        request.upload_limits = (per_file, total)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > total:
            return _refuse(
                request,
                413,
                _(
                    "What you sent is larger than we accept (at most %(max)s at once). Go back: "
                    "your browser keeps what you typed; attach smaller files."
                )
                % {"max": filesizeformat(total)},
            )
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not length and getattr(view, "upload_limits", None):
            return _refuse(
                request,
                411,
                _("Your browser sent the file without saying its size. Try again, or use another browser."),
            )
        return None


class LimitedUploadHandler(FileUploadHandler):
    """Counts what streams in and stops each file at its cap, and the body at its cap, so the handlers after
    it (memory, temporary file) never hold more than the limits."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.per_file, self.total = getattr(self.request, "upload_limits", None) or (
            settings.REQUEST_BODY_MAX_BYTES,
            settings.REQUEST_BODY_MAX_BYTES,
        )
        self.received = 0
        self.request.upload_refused = []

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.file_bytes = 0

    def receive_data_chunk(self, raw_data, start):
        self.file_bytes += len(raw_data)
        self.received += len(raw_data)
        if self.received > self.total:
            self.request.upload_refused.append(self.file_name)
            raise StopUpload(connection_reset=True)  # nothing more is read
        if self.file_bytes > self.per_file:
            self.request.upload_refused.append(self.file_name)
            raise SkipFile  # this file's handlers close (and delete) what they had; the rest of the form goes on
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler makes the file


def refused_files_on_form(request, form, field: str) -> None:
    """Name each file the handler stopped at its cap (it is not in request.FILES) on the form's field."""
    refused = getattr(request, "upload_refused", None)
    if not refused:
        return
    form.is_valid()  # the form's own checks first; its typed values stay
    per_file = request.upload_limits[0]
    for name in refused:
        form.add_error(
            field,
            ValidationError(
                _("“%(name)s” is larger than %(mb)d MB.") % {"name": name, "mb": per_file // 2**20}, code="file_too_big"
            ),
        )


def file_input_limits(per_file: int) -> dict:
    """The file input's attributes for the check in the browser (static/js/upload-limits.js), before sending."""
    return {
        "data-max-bytes": per_file,
        "data-too-large": _("“%(name)s” is larger than %(mb)d MB.") % {"name": "{name}", "mb": per_file // 2**20},
    }
