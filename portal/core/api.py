from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.core import refusals as services
from portal.core import serializers as s

REFUSAL_STATUS = {"lookup_daily_limit": 429, "daily_cap": 429, "sms_budget_spent": 503}


def error_response(code: str, detail: str, *, status: int = 400, retry_at=None) -> Response:
    """Every refusal in the API has one shape (RefusalSerializer): a code, a sentence, when to try again."""
    return Response(s.RefusalSerializer({"code": code, "detail": detail, "retry_at": retry_at}).data, status=status)


def refusal_response(refusal: services.Refusal) -> Response:
    return error_response(
        refusal.code, refusal.message, status=REFUSAL_STATUS.get(refusal.code, 400), retry_at=refusal.retry_at
    )


def invalid_response(error: ValidationError) -> Response:
    return error_response(getattr(error, "code", None) or "invalid", " ".join(error.messages))


class CitizenAPIView(APIView):
    authentication_classes: list = []  # citizens have no account: the SMS code and the lookup token prove it
    permission_classes = [AllowAny]
    # JSON only: a form, multipart or text/plain body is what any web page can make its visitors'
    # browsers post cross-site without asking (CORS lets JSON through only after a preflight, never given).
    parser_classes = [JSONParser]

    def handle_exception(self, exc):
        if isinstance(exc, UnsupportedMediaType):
            return error_response(
                "unsupported_media_type",
                _("Send the request body as JSON (Content-Type: application/json)."),
                status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        if isinstance(exc, ParseError):
            return error_response("invalid_json", _("The request body is not valid JSON."))
        return super().handle_exception(exc)
