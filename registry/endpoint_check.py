"""“Test my endpoint”: a member's integration checked against protocol v2, point by point, as its staff see it."""

import secrets
from dataclasses import dataclass

import httpx
from django.utils.translation import gettext as _

from portal.outbound import clients as outbound
from registry import protocol
from registry.models import Integration
from registry.services import integration_secrets, member_call

TEST_NUMBER = "+8613800000000"  # a number no one holds: the member answers, nothing is looked up for real


@dataclass(frozen=True)
class CheckPoint:
    name: str
    passed: bool
    detail: str


def integration_check_endpoint(*, integration: Integration) -> list[CheckPoint]:
    key = integration.signing_key()
    if key is None:
        return [
            CheckPoint(_("Signing key"), False, _("This integration has no valid key; ask the working group for one."))
        ]
    url = integration.base_url.rstrip("/") + protocol.ACCOUNT_LOOKUP_PATH
    timeout_s = integration.timeout_ms / 1000
    payload = protocol.account_lookup_request(
        request_id="selftest-" + secrets.token_hex(8),
        phone_e164=TEST_NUMBER,
        holder_since=None,
        id_challenge=protocol.id_challenge(),
    )
    try:
        reply = member_call(integration, protocol.ACCOUNT_LOOKUP_PATH, payload, timeout_s=timeout_s, signed_statuses=())
    except (httpx.HTTPError, protocol.ProtocolError) as error:
        return [_not_answered(error, integration=integration, url=url)]
    points = [
        CheckPoint(_("Reachable"), True, url),
        CheckPoint(
            _("Answers in time"),
            reply.elapsed_ms <= integration.timeout_ms,
            _("%(elapsed)d ms (limit %(limit)d ms)") % {"elapsed": reply.elapsed_ms, "limit": integration.timeout_ms},
        ),
    ]
    if 300 <= reply.status < 400:
        points.append(
            CheckPoint(
                _("Answers without a redirect"),
                False,
                _("HTTP %(status)d: the portal never follows redirects; give the final address.")
                % {"status": reply.status},
            )
        )
        return points
    points += _answer_points(reply, integration=integration, key_id=key.key_id)
    points.append(_forged_signature_point(url, payload, timeout_s=timeout_s))
    return points


def _not_answered(error: Exception, *, integration: Integration, url: str) -> CheckPoint:
    if isinstance(error, httpx.TimeoutException):
        return CheckPoint(
            _("Answers in time"), False, _("No answer within %(ms)d ms.") % {"ms": integration.timeout_ms}
        )
    if isinstance(error, protocol.DestinationRefused):
        return CheckPoint(_("Reachable"), False, _("Not called: %(reason)s") % {"reason": error.refusal.reason})
    if isinstance(error, httpx.HTTPError):
        return CheckPoint(
            _("Reachable"),
            False,
            _("Could not connect to %(url)s (%(error)s).") % {"url": url, "error": type(error).__name__},
        )
    return CheckPoint(_("Answer size"), False, error.reason)


def _answer_points(reply: protocol.Reply, *, integration: Integration, key_id: str) -> list[CheckPoint]:
    points = [
        CheckPoint(
            _("Accepts the portal's signature"),
            reply.status in (200, 202),
            _("HTTP %(status)d") % {"status": reply.status},
        )
    ]
    if reply.status != 200:
        return points
    try:
        protocol.verify(
            reply.headers, reply.body, keys=integration_secrets(integration), replay_scope=f"selftest:{integration.pk}"
        )
        points.append(CheckPoint(_("Signs its answer"), True, key_id))
    except protocol.SignatureError as error:
        points.append(CheckPoint(_("Signs its answer"), False, error.reason))
    try:
        accounts = protocol.parse_account_lookup_answer(reply.body)
        points.append(
            CheckPoint(
                _("Answer follows protocol v2"),
                True,
                _("%(count)d account(s) for the test number") % {"count": len(accounts)},
            )
        )
    except protocol.ProtocolError as error:
        points.append(CheckPoint(_("Answer follows protocol v2"), False, error.reason))
    return points


def _forged_signature_point(url: str, payload: dict, *, timeout_s: float) -> CheckPoint:
    """The same request under a key nobody issued: a member must answer 401."""
    bad = protocol.encode(payload | {"request_id": "selftest-" + secrets.token_hex(8)})
    forged = {"Content-Type": "application/json", **protocol.sign(bad, keys=protocol.new_secret())}
    try:
        refused = protocol.post(url, bad, forged, timeout_s=timeout_s)
    except (httpx.HTTPError, protocol.ProtocolError) as error:
        reason = getattr(error, "reason", "") or outbound.failure_reason(error)
        return CheckPoint(_("Refuses a forged signature"), False, reason)
    return CheckPoint(
        _("Refuses a forged signature"),
        refused.status == 401,
        _("HTTP %(status)d (expected 401)") % {"status": refused.status},
    )
