"""Members' systems authenticate to the API by signing each request like protocol v2 (Standard
Webhooks) with their integration's key, named by X-Portal-Key-Id: `request.auth` is then the
IntegrationKey (and through it the organisation)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from registry import protocol
from registry.models import IntegrationKey


class MemberSignatureAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        if not request.headers.get(protocol.HEADER_KEY_ID):
            return None
        found = []

        def secrets_for_key_id(k):  # asked only once the headers' shapes are checked
            found[:] = IntegrationKey.objects.select_related("integration__app__organisation").filter(
                key_id=k, revoked_at__isnull=True
            )[:1]
            return [key.secret() for key in found]

        try:
            protocol.verify_caller(
                request.headers,
                protocol.signed_bytes(request.method, request.get_full_path(), request.body),
                secrets_for_key_id=secrets_for_key_id,
                replay_scope="member-api",
            )
        except protocol.SignatureError as error:
            raise exceptions.AuthenticationFailed(error.reason) from error
        return (MemberSystem(found[0]), found[0])

    def authenticate_header(self, request):
        return protocol.HEADER_SIGNATURE


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
            "description": "Protocol v2 signature (docs/protocol.md), Standard Webhooks: X-Portal-Key-Id names the "
            "integration key; webhook-id, webhook-timestamp and webhook-signature = 'v1,' + base64 HMAC-SHA256 of "
            "id + '.' + timestamp + '.' + body (for GET, the path and query) with the key's whsec_ secret.",
        }
