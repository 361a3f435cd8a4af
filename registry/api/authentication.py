"""Members' systems authenticate to the API by signing each request like protocol v2, with their
integration's key: `request.auth` is then the IntegrationKey (and through it the organisation)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from registry import protocol
from registry.models import IntegrationKey


class MemberSignatureAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        key_id = request.headers.get(protocol.HEADER_KEY_ID)
        if not key_id:
            return None
        found = []

        def secrets_for_key_id(k):  # asked only once verify has checked the headers' shape
            found[:] = IntegrationKey.objects.select_related("integration__app__organisation").filter(key_id=k, revoked_at__isnull=True)[:1]
            return [key.secret() for key in found]

        try:
            protocol.verify(
                request.headers, protocol.signed_bytes(request.method, request.get_full_path(), request.body),
                secrets_for_key_id=secrets_for_key_id, replay_scope="member-api",
            )
        except protocol.SignatureError as error:
            raise exceptions.AuthenticationFailed(error.reason) from error
        return (MemberSystem(found[0]), found[0])

    def authenticate_header(self, request):
        return "X-Portal-Signature"


class MemberSystem:
    """The member's system, as the request's user: authenticated, but no staff account."""

    is_authenticated = True
    is_active = True
    is_staff = False
    # What `registry.scoping.scope_for_user` reads: a member's system sees its own organisation's rows.
    is_administrator = False
    is_member_staff = True

    def __init__(self, key: IntegrationKey):
        self.key = key
        self.organisation = key.integration.app.organisation
        self.organisation_id = self.organisation.pk
        self.app = key.integration.app

    def __str__(self):
        return f"{self.organisation} ({self.key.key_id})"


class IsActiveMember:
    """Any active member's system."""

    message = "Only an active member may use this API."

    def has_permission(self, request, view):
        system = request.user
        return isinstance(system, MemberSystem) and system.organisation.status == "active"

    def has_object_permission(self, request, view, obj):
        return self.has_permission(request, view)


class IsActiveCarrier(IsActiveMember):
    """Only active basic carriers and MVNOs report number events."""

    message = "Only an active carrier or MVNO member may report number events."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.organisation.is_carrier


class MemberSignatureScheme(OpenApiAuthenticationExtension):
    target_class = MemberSignatureAuthentication
    name = "memberSignature"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": protocol.HEADER_SIGNATURE,
            "description": "Protocol v2 signature (docs/protocol.md): X-Portal-Key-Id, X-Portal-Timestamp and "
            "X-Portal-Signature = hex HMAC-SHA256 of timestamp + '.' + body with the integration key's secret.",
        }
