"""The API of bulk check files for members' systems: upload (multipart or a text/csv body), status with
progress, result download. Authenticated with the bearer token of /oauth/token (OAuth client credentials,
scope number-recycling:check, as CAMARA): a file is not signed, so its body streams to disk as it arrives
instead of being held whole to check a signature."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import authentication, exceptions, serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.bulkcheck import selectors, services
from portal.core import serializers as s
from portal.core.api import error_response
from portal.core.csv_export import csv_response
from portal.recycling.checks import CheckClient
from registry.models import Organisation
from registry.selectors import access_token_grant

SCOPE = "number-recycling:check"
BODY_CHUNK_BYTES = 64 * 1024
BAD_FILE = (
    "no_file, empty, columns, not_text, not_utf8, too_big, too_many_rows: the file cannot be checked; "
    "detail says why and what to do"
)


class CheckClientUser:
    """A member's check client (its OAuth token), as the request's user: what `registry.scoping` reads."""

    is_authenticated = is_active = is_member_staff = True
    is_administrator = is_staff = False

    def __init__(self, grant: dict):
        self.organisation_id = grant["organisation_id"]
        self.client = CheckClient(grant["organisation_id"], grant["integration_id"], grant["key_id"])


class BearerTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        grant = access_token_grant(token=header[7:])
        if grant is None or grant["expires_at"] <= timezone.now() or grant["revoked"]:
            raise exceptions.AuthenticationFailed(
                _("The access token is unknown, expired or revoked. Get a new one from /oauth/token.")
            )
        if SCOPE not in grant["scopes"]:
            raise exceptions.PermissionDenied(_("The access token lacks the scope %(scope)s.") % {"scope": SCOPE})
        return CheckClientUser(grant), None

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "oauthClientCredentials"

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/oauth/token",
                    "scopes": {SCOPE: "recycling checks: CAMARA and bulk check files"},
                }
            },
        }


class IsActiveMemberClient:
    message = "Only an active member may use this API."

    def has_permission(self, request, view):
        user = request.user
        return (
            isinstance(user, CheckClientUser)
            and Organisation.objects.filter(pk=user.organisation_id, status=Organisation.Status.ACTIVE).exists()
        )

    def has_object_permission(self, request, view, obj):
        return self.has_permission(request, view)


class BadRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="the line in the uploaded file")
    reason = serializers.CharField(help_text="columns, bad_number, bad_date, future_date")


class BulkCheckFileSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=["queued", "running", "completed", "failed"])
    state_label = serializers.CharField()
    done = serializers.BooleanField()
    percent = serializers.IntegerField(min_value=0, max_value=100)
    rows_total = serializers.IntegerField()
    rows_done = serializers.IntegerField(help_text="the progress: rows checked of rows_total")
    rows_yes = serializers.IntegerField()
    rows_no = serializers.IntegerField()
    rows_no_data = serializers.IntegerField()
    rows_invalid = serializers.IntegerField()
    bad_rows = BadRowSerializer(many=True, help_text="the first 20 bad rows; every one is in the result")
    result_available = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="the file and its result are deleted then (7 days)")
    error = serializers.CharField(allow_blank=True)
    status_url = serializers.CharField()
    result_url = serializers.CharField()


def _body(checked) -> dict:
    body = selectors.bulk_check_file_progress(checked)
    return body | {
        "status_url": reverse("api_bulk_check_file", args=[checked.public_id]),
        "result_url": reverse("api_bulk_check_file_result", args=[checked.public_id]),
    }


class BulkCheckAPIView(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsActiveMemberClient]
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(
            request, force=True
        )  # JSON, or the result's CSV, whatever Accept says

    def file_for(self, public_id):
        return selectors.bulk_check_files_for(self.request.user).filter(public_id=public_id).first()


COMMON = {
    401: OpenApiResponse(
        s.RefusalSerializer, description="not_authenticated, authentication_failed: no valid bearer token"
    ),
    403: OpenApiResponse(
        s.RefusalSerializer, description="permission_denied: not an active member, or the token lacks the scope"
    ),
}
NOT_FOUND = {404: OpenApiResponse(s.RefusalSerializer, description="not_found: no such file of this organisation")}


class BulkCheckFilesView(BulkCheckAPIView):
    parser_classes = [MultiPartParser]  # a text/csv body is read as a stream, below, never parsed whole

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary", "description": "CSV: number,date rows"}},
            },
            "text/csv": {"type": "string", "description": "number,date rows, a header row optional"},
        },
        responses={
            202: OpenApiResponse(BulkCheckFileSerializer, description="queued; follow status_url"),
            400: OpenApiResponse(s.RefusalSerializer, description=BAD_FILE),
            **COMMON,
            411: OpenApiResponse(s.RefusalSerializer, description="length_required: send Content-Length"),
            413: OpenApiResponse(s.RefusalSerializer, description="too_large: over the byte limit, refused unread"),
            415: OpenApiResponse(
                s.RefusalSerializer, description="unsupported_media_type: multipart/form-data or text/csv"
            ),
            429: OpenApiResponse(
                s.RefusalSerializer, description="busy: the organisation's files in progress are at the limit"
            ),
        },
        summary="Upload a file of up to 250,000 number,date rows to check in the background",
        tags=["number-checks"],
    )
    def post(self, request):
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type == "text/csv":
            if (
                int(request.META.get("CONTENT_LENGTH") or 0) > settings.BULK_CHECK_FILE_MAX_BYTES
            ):  # the form's overhead is no file
                return error_response(
                    "too_large",
                    _("The file is larger than %(max)s. Split it into several files.")
                    % {"max": filesizeformat(settings.BULK_CHECK_FILE_MAX_BYTES)},
                    status=413,
                )
            name, chunks = "upload.csv", iter(lambda: request._request.read(BODY_CHUNK_BYTES), b"")
        elif content_type == "multipart/form-data":
            upload = request.FILES.get("file")
            if upload is None:
                if getattr(request._request, "upload_refused", None):
                    return error_response(
                        "too_big",
                        _("The file is larger than %(max)s. Split it into several files.")
                        % {"max": filesizeformat(settings.BULK_CHECK_FILE_MAX_BYTES)},
                    )
                return error_response("no_file", _("Send the file in the form field “file”."))
            name, chunks = upload.name, upload.chunks()
        else:
            return error_response(
                "unsupported_media_type",
                _("Send the file as multipart/form-data (field “file”) or as a text/csv body."),
                status=415,
            )
        try:
            checked = services.bulk_check_file_create(
                organisation=Organisation.objects.get(pk=request.user.organisation_id),
                name=name,
                chunks=chunks,
                client=request.user.client,
            )
        except ValidationError as error:
            code = getattr(error, "code", None) or "invalid"
            return error_response(code, " ".join(error.messages), status=429 if code == "busy" else 400)
        response = Response(_body(checked), status=202)
        response["Location"] = reverse("api_bulk_check_file", args=[checked.public_id])
        return response


class BulkCheckFileView(BulkCheckAPIView):
    @extend_schema(
        responses={200: BulkCheckFileSerializer, **COMMON, **NOT_FOUND},
        summary="A bulk check file's state and progress",
        tags=["number-checks"],
    )
    def get(self, request, public_id):
        checked = self.file_for(public_id)
        if checked is None:
            return error_response("not_found", _("No such file."), status=404)
        return Response(_body(checked))


class BulkCheckFileResultView(BulkCheckAPIView):
    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                {"type": "string"},
                description="UTF-8 with BOM: row,phone_number,date,answer,reason,reason_text; "
                "answer yes, no, no_data, or invalid for a bad row",
            ),
            **COMMON,
            **NOT_FOUND,
            409: OpenApiResponse(s.RefusalSerializer, description="not_ready: still being checked; failed"),
            410: OpenApiResponse(s.RefusalSerializer, description="deleted: past the 7 days the result is kept"),
        },
        summary="A bulk check file's result as CSV",
        tags=["number-checks"],
    )
    def get(self, request, public_id):
        checked = self.file_for(public_id)
        if checked is None:
            return error_response("not_found", _("No such file."), status=404)
        if checked.purged_at:
            return error_response(
                "deleted",
                _("The result was deleted: results are kept %(days)d days.")
                % {"days": settings.BULK_CHECK_FILE_RETENTION_DAYS},
                status=410,
            )
        if checked.state == checked.State.FAILED:
            return error_response("failed", checked.error or _("The file could not be checked."), status=409)
        if not checked.is_done:
            return error_response(
                "not_ready",
                _("The file is still being checked (%(percent)d%%).") % {"percent": checked.percent},
                status=409,
            )
        return csv_response(services.bulk_check_result_rows(checked), f"bulk-check-{checked.public_id}.csv")
