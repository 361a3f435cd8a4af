"""Writes to the registry: status changes, signing keys, staff invitations."""

import secrets
from datetime import timedelta

from allauth.account.utils import user_pk_to_url_str
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.core.crypto import encrypt
from portal.core.privacy import token_hash
from registry import protocol
from registry.models import (
    AccessToken,
    Integration,
    IntegrationKey,
    Organisation,
    OrganisationStatusChange,
    StaffUser,
)

Status = Organisation.Status

# Which status may follow which. Withdrawal is possible from anywhere; it is final.
ALLOWED_TRANSITIONS = {
    Status.APPLIED: {Status.APPROVED, Status.WITHDRAWN},
    Status.APPROVED: {Status.ACTIVE, Status.SUSPENDED, Status.WITHDRAWN},
    Status.ACTIVE: {Status.SUSPENDED, Status.WITHDRAWN},
    Status.SUSPENDED: {Status.ACTIVE, Status.WITHDRAWN},
    Status.WITHDRAWN: set(),
}


@transaction.atomic
def organisation_set_status(
    *, organisation: Organisation, status: str, by: StaffUser | None, reason: str = ""
) -> Organisation:
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    current = Status(organisation.status)
    target = Status(status)
    if target == current:
        return organisation
    if target not in ALLOWED_TRANSITIONS[current]:
        raise ValidationError(
            _("%(name)s cannot go from “%(current)s” to “%(target)s”.")
            % {"name": organisation.legal_name, "current": current.label, "target": target.label}
        )
    now = timezone.now()
    OrganisationStatusChange.objects.create(
        organisation=organisation, from_status=current, to_status=target, changed_by=by, changed_at=now, reason=reason
    )
    organisation.status = target
    organisation.status_changed_at = now
    organisation.status_changed_by = by
    organisation.save(update_fields=["status", "status_changed_at", "status_changed_by"])
    return organisation


def organisation_record_creation(*, organisation: Organisation, by: StaffUser | None) -> None:
    """The first line of an organisation's status history."""
    OrganisationStatusChange.objects.create(
        organisation=organisation, from_status="", to_status=organisation.status, changed_by=by, reason=_("created")
    )


def _new_key_id() -> str:
    return "pk_" + secrets.token_hex(8)


@transaction.atomic
def integration_key_issue(
    *, integration: Integration, by: StaffUser | None, key_id: str = "", secret: str = ""
) -> tuple[IntegrationKey, str]:
    """Make a new signing key and return it with its secret, the only time the secret is seen in clear.

    At most two keys are valid at once: issuing a third revokes the oldest, so a member always has the
    previous key working while it deploys the new one.
    """
    Integration.objects.select_for_update().get(pk=integration.pk)
    secret = secret or protocol.new_secret()  # whsec_…; a given secret only for reproducible demo data
    key = IntegrationKey.objects.create(
        integration=integration, key_id=key_id or _new_key_id(), secret_encrypted=encrypt(secret), created_by=by
    )
    active = list(integration.keys.filter(revoked_at__isnull=True).order_by("-created_at", "-pk"))
    for old in active[IntegrationKey.MAX_ACTIVE :]:
        old.revoked_at = timezone.now()
        old.save(update_fields=["revoked_at"])
    return key, secret


def integration_key_revoke(*, key: IntegrationKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


def staff_invitation_link(*, user: StaffUser, request) -> str:
    """A one-time link where an invited staff member sets a password (allauth's reset-from-key page)."""
    from allauth.account.forms import (
        default_token_generator,  # allauth's own, which its reset page checks
    )

    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": default_token_generator.make_token(user)},
    )
    return request.build_absolute_uri(path)


def staff_invite(*, user: StaffUser, request) -> None:
    """Email the invitation. There is no open sign-up: this is the only way in."""
    context = {"user": user, "link": staff_invitation_link(user=user, request=request)}
    send_mail(
        subject=render_to_string("registry/email/invitation_subject.txt", context).strip(),
        message=render_to_string("registry/email/invitation_message.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


def integration_secrets(integration: Integration, key_id: str | None = None) -> list[str]:
    """The secrets of this integration's valid keys, newest first (two during a rotation): the portal
    signs with each, and an answer signed under any of them is accepted. With `key_id`, only that key's
    (none if it is unknown, revoked or another integration's)."""
    keys = integration.keys.filter(revoked_at__isnull=True).order_by("-created_at", "-pk")
    return [k.secret() for k in (keys.filter(key_id=key_id) if key_id is not None else keys)]


HEALTHY_REWRITE_SECONDS = 5  # a healthy member's row is rewritten at most this often, not on every call


def integration_health_record(*, succeeded: set[int], failed: dict[int, str], now) -> None:
    """After calls to members: successes reset the failure count, failures add to it (the circuit
    breaker reads it). A member that both succeeded and failed in one batch counts as healthy."""
    if succeeded:
        Integration.objects.filter(pk__in=succeeded).filter(
            Q(consecutive_failures__gt=0)
            | Q(last_success_at__isnull=True)
            | Q(last_success_at__lt=now - timedelta(seconds=HEALTHY_REWRITE_SECONDS))
        ).update(last_success_at=now, consecutive_failures=0)
    for integration_id, error in failed.items():
        if integration_id not in succeeded:
            Integration.objects.filter(pk=integration_id).update(
                last_failure_at=now, last_error=error[:500], consecutive_failures=F("consecutive_failures") + 1
            )


def member_call(
    integration: Integration,
    path: str,
    payload: dict,
    *,
    timeout_s: float | None = None,
    signed_statuses: tuple[int, ...] = (200,),
) -> protocol.Reply:
    """The one synchronous signed call to a member (protocol v2): the URL from the integration's base URL, the
    body signed with every valid key, sent under the outbound policy with redirects off; an answer whose
    status is in `signed_statuses` must carry a valid signature. Raises httpx.HTTPError, protocol.ProtocolError
    (protocol.SignatureError for an unsigned answer, protocol.DestinationRefused for a refused address)."""
    keys = integration_secrets(integration)
    url = integration.base_url.rstrip("/") + path
    reply = protocol.post_signed(url, payload, keys=keys, timeout_s=timeout_s or integration.timeout_ms / 1000)
    if reply.status in signed_statuses:
        protocol.verify(reply.headers, reply.body, keys=keys, remember=False)
    return reply


# --- OAuth 2.0 client credentials (members' systems) -----------------------------------------------------

TOKEN_SCOPES = {"number-recycling:check"}
TOKEN_LIFETIME_SECONDS = 3600


class TokenError(Exception):
    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def access_token_issue(*, client_id: str, client_secret: str, scope: str) -> tuple[str, AccessToken]:
    """Exchange a key id and its secret for a bearer token (RFC 6749 client credentials)."""
    # a key id is printable ASCII (a NUL would make PostgreSQL raise); secrets compare as bytes (as text,
    # compare_digest raises on non-ASCII)
    key = (
        (
            IntegrationKey.objects.select_related("integration__app__organisation")
            .filter(key_id=client_id, revoked_at__isnull=True)
            .first()
        )
        if protocol.KEY_ID.fullmatch(client_id or "")
        else None
    )
    if key is None or not secrets.compare_digest(key.secret().encode(), (client_secret or "").encode()):
        raise TokenError("invalid_client", "unknown client or wrong secret", status=401)
    if key.integration.app.organisation.status != Organisation.Status.ACTIVE:
        raise TokenError("unauthorized_client", "the member is not active", status=400)
    requested = set((scope or "").split()) or TOKEN_SCOPES
    if not requested <= TOKEN_SCOPES:
        raise TokenError("invalid_scope", f"scopes available: {' '.join(sorted(TOKEN_SCOPES))}")
    token = secrets.token_urlsafe(32)
    record = AccessToken.objects.create(
        key=key,
        token_hash=token_hash(token),
        scopes=" ".join(sorted(requested)),
        expires_at=timezone.now() + timedelta(seconds=TOKEN_LIFETIME_SECONDS),
    )
    return token, record
