import base64

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from registry import services
from registry.api.serializers import MemberAppSerializer
from registry.models import MemberApp
from registry.scoping import scope_for_user


class ScopedViewSetMixin:
    """Every staff API view is scoped here: another organisation's rows are simply not found (404)."""

    def get_queryset(self):
        return scope_for_user(super().get_queryset(), self.request.user)


class StaffMemberAppViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = MemberApp.objects.select_related("organisation", "integration").prefetch_related("integration__keys")
    serializer_class = MemberAppSerializer
    filterset_fields = ["category", "supports_lookup", "supports_unbind"]


class TokenView(APIView):
    """OAuth 2.0 client credentials (RFC 6749 §4.4): a member's key id and secret for a bearer token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser, JSONParser]

    @extend_schema(
        request={
            "application/x-www-form-urlencoded": {
                "type": "object",
                "properties": {
                    "grant_type": {"type": "string", "enum": ["client_credentials"]},
                    "client_id": {"type": "string"},
                    "client_secret": {"type": "string"},
                    "scope": {"type": "string", "example": "number-recycling:check"},
                },
            }
        },
        responses={
            200: {
                "type": "object",
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"type": "string"},
                    "expires_in": {"type": "integer"},
                    "scope": {"type": "string"},
                },
            }
        },
        summary="Get an access token with a member key (client credentials)",
    )
    def post(self, request):
        client_id, client_secret = request.data.get("client_id", ""), request.data.get("client_secret", "")
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            try:
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                pass
        if request.data.get("grant_type") != "client_credentials":
            return Response(
                {"error": "unsupported_grant_type", "error_description": "only client_credentials"}, status=400
            )
        if not all(isinstance(value, str) for value in (client_id, client_secret, request.data.get("scope", ""))):
            return Response(
                {"error": "invalid_request", "error_description": "client_id, client_secret and scope are strings"},
                status=400,
            )
        try:
            token, record = services.access_token_issue(
                client_id=client_id, client_secret=client_secret, scope=request.data.get("scope", "")
            )
        except services.TokenError as error:
            return Response({"error": error.error, "error_description": error.description}, status=error.status)
        return Response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": services.TOKEN_LIFETIME_SECONDS,
                "scope": record.scopes,
            },
            headers={"Cache-Control": "no-store"},
        )
