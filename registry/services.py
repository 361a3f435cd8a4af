"""Writes to the registry: status changes, signing keys, staff invitations."""

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.crypto import encrypt
from registry.models import Integration, IntegrationKey, Organisation, OrganisationStatusChange, StaffUser

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
def organisation_set_status(*, organisation: Organisation, status: str, by: StaffUser | None, reason: str = "") -> Organisation:
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
    secret = secret or secrets.token_urlsafe(32)  # a given secret only for reproducible demo data
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
    from allauth.account.forms import default_token_generator  # allauth's own, which its reset page checks
    from allauth.account.utils import user_pk_to_url_str
    from django.urls import reverse

    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": default_token_generator.make_token(user)},
    )
    return request.build_absolute_uri(path)


def staff_invite(*, user: StaffUser, request) -> None:
    """Email the invitation. There is no open sign-up: this is the only way in."""
    from django.core.mail import send_mail
    from django.template.loader import render_to_string

    context = {"user": user, "link": staff_invitation_link(user=user, request=request)}
    send_mail(
        subject=render_to_string("registry/email/invitation_subject.txt", context).strip(),
        message=render_to_string("registry/email/invitation_message.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
