import logging
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.core.backoff import backoff_seconds
from portal.core.enqueue import enqueue_each
from portal.core.phone import to_e164
from portal.core.refusals import Refusal
from portal.core.workdays import add_working_days
from portal.outbound import clients as outbound
from portal.sms.models import SmsMessage
from portal.sms.services import sms_send
from portal.unbinding import selectors
from portal.unbinding.models import UnbindRequest
from registry import protocol
from registry.services import (
    integration_health_record,
    member_call,
)

logger = logging.getLogger(__name__)


class UnbindRetry(Exception):
    """Delivery failed; the task tries again after `countdown` seconds."""

    def __init__(self, reason: str, *, countdown: int):
        super().__init__(reason)
        self.countdown = countdown


UNBIND_LEASE_SECONDS = 60  # a delivery claimed by a worker that died is swept up after this


def _unbind_delivery_for(app) -> str:
    """Push to platforms that take `/v2/unbind` and can be reached; the others fetch from the queue."""
    integration = getattr(app, "integration", None)
    if (
        app.supports_unbind
        and integration is not None
        and integration.enabled
        and integration.signing_key() is not None
    ):
        return UnbindRequest.Delivery.PUSH
    return UnbindRequest.Delivery.PULL


def unbind_request_create(*, lookup, app_ids: list[int] | None = None) -> list[UnbindRequest]:
    """Ask member apps to remove the bindings of the previous holder that a lookup found: the given
    apps, or all of them (一键解绑). One request per lookup and app; asking again returns the request
    already made (`created_now` tells them apart). Push deliveries are sent once this commits."""
    if lookup.purged_at or not lookup.phone_number:
        raise Refusal(_("This lookup is too old: its details were deleted. Run a new lookup."), code="lookup_purged")
    candidates = selectors.unbind_candidates(lookup)
    if app_ids is not None:
        wanted = {int(a) for a in app_ids}
        unknown = wanted - {q.app_id for q in candidates}
        if unknown:
            raise Refusal(
                _("This app found no account likely to be the previous holder's, so there is nothing to unbind."),
                code="nothing_to_unbind",
            )
        candidates = [q for q in candidates if q.app_id in wanted]
    if not candidates:
        raise Refusal(
            _("No app found an account likely to be the previous holder's, so there is nothing to unbind."),
            code="nothing_to_unbind",
        )
    now = timezone.now()
    deadline = add_working_days(now, settings.UNBIND_WORKING_DAYS)
    made = []
    with transaction.atomic():
        existing = {r.app_id: r for r in UnbindRequest.objects.select_for_update().filter(lookup=lookup)}
        for query in candidates:
            if query.app_id in existing:
                existing[
                    query.app_id
                ].app = query.app  # the candidate's app: unbind_view reads its name without a query
                existing[query.app_id].created_now = False
                made.append(existing[query.app_id])
                continue
            previous = [a for a in query.accounts if a.get("likely_previous")]
            delivery = _unbind_delivery_for(query.app)
            made.append(
                UnbindRequest.objects.create(
                    lookup=lookup,
                    app=query.app,
                    delivery=delivery,
                    accounts=[{"account_ref": a["account_ref"], "registered_on": a["registered_on"]} for a in previous],
                    accounts_count=len(previous),
                    created_at=now,
                    deadline_at=deadline,
                    next_attempt_at=now if delivery == UnbindRequest.Delivery.PUSH else None,
                )
            )
            made[-1].created_now = True
        push = [(r.pk,) for r in made if r.delivery == UnbindRequest.Delivery.PUSH and r.app_id not in existing]
        enqueue_each("portal.tasks.unbind_request_deliver", push)  # refused: unbind_sweep sends them
    return made


def unbind_dispatch(*, request_ids: list[int]) -> None:
    enqueue_each("portal.tasks.unbind_request_deliver", [(pk,) for pk in request_ids], after_commit=False)


def unbind_deliver(*, request_id: int) -> str:
    """Send one unbind request to its platform (protocol v2 `POST /v2/unbind`) and record the answer.

    Idempotent: only a queued push request whose attempt is due is claimed (one UPDATE), so a repeated
    or late message changes nothing. Raises UnbindRetry while attempts are left."""
    now = timezone.now()
    claimed = UnbindRequest.objects.filter(
        pk=request_id,
        state=UnbindRequest.State.QUEUED,
        delivery=UnbindRequest.Delivery.PUSH,
        next_attempt_at__isnull=False,
        next_attempt_at__lte=now + timedelta(seconds=2),
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=UNBIND_LEASE_SECONDS))
    if not claimed:
        return "skipped"
    request = UnbindRequest.objects.select_related("app__integration", "lookup").get(pk=request_id)
    integration = request.app.integration
    key = integration.signing_key()
    try:
        if not request.lookup.phone_number or key is None:
            raise protocol.ProtocolError("the number was purged" if key else "the integration has no valid key")
        payload = protocol.unbind_request(
            request_id=str(request.public_id),
            phone_e164=to_e164(request.lookup.phone_number),
            holder_since=request.lookup.holder_since,
            accounts=request.accounts,
        )
        reply = member_call(
            integration,
            protocol.UNBIND_PATH,
            payload,
            timeout_s=settings.UNBIND_TIMEOUT_SECONDS,
            signed_statuses=(200, 202),
        )
        answer = protocol.parse_unbind_answer(reply.status, reply.body)
    except (httpx.HTTPError, protocol.ProtocolError) as error:
        reason = getattr(error, "reason", "") or outbound.failure_reason(error)
        final = request.attempts >= settings.UNBIND_MAX_ATTEMPTS
        countdown = backoff_seconds(request.attempts, base=settings.UNBIND_RETRY_BASE_SECONDS)
        UnbindRequest.objects.filter(pk=request.pk, state=UnbindRequest.State.QUEUED).update(
            last_error=reason[:500],
            next_attempt_at=None if final else timezone.now() + timedelta(seconds=countdown),
        )
        integration_health_record(succeeded=set(), failed={integration.pk: f"unbind: {reason}"}, now=timezone.now())
        logger.warning(
            "unbind request %s to %s failed (attempt %d): %s", request.public_id, request.app, request.attempts, reason
        )
        if final:
            return "failed"
        raise UnbindRetry(reason, countdown=countdown) from error
    integration_health_record(succeeded={integration.pk}, failed={}, now=timezone.now())
    if answer.state == "accepted":
        UnbindRequest.objects.filter(pk=request.pk, state=UnbindRequest.State.QUEUED).update(
            state=UnbindRequest.State.SENT,
            sent_at=timezone.now(),
            next_attempt_at=None,
            last_error="",
        )
        return "sent"
    unbind_answer(unbind_request=request, result=answer.state, reason=answer.reason, via="protocol")
    return answer.state


class AnswerConflict(Exception):
    """The request was already answered otherwise."""


def unbind_answer(*, unbind_request: UnbindRequest, result: str, reason: str = "", via: str, by=None) -> UnbindRequest:
    """The platform's answer: done, or refused with a reason the holder reads. The first answer
    stands; the same answer again changes nothing, a different one raises AnswerConflict. The holder
    is told by SMS."""
    if result not in protocol.UNBIND_RESULTS:
        raise ValidationError(_("The answer is done or refused."), code="invalid_result")
    reason = (reason or "").strip()
    if result == "refused" and not reason:
        raise ValidationError(_("Give the reason for the refusal: the holder reads it."), code="reason_required")
    now = timezone.now()
    with transaction.atomic():
        request = UnbindRequest.objects.select_for_update().select_related("app", "lookup").get(pk=unbind_request.pk)
        if not request.is_open:
            if request.state != result:
                raise AnswerConflict(request.state)
            return request
        request.state = result
        request.refusal_reason = reason[:500] if result == "refused" else ""
        request.answered_at = now
        request.sent_at = request.sent_at or now
        request.answered_via, request.answered_by = via, by
        request.next_attempt_at = None
        request.save()
        # a renewal's holder hears once, when every app has answered (portal/carrier/services.py)
        if request.lookup.phone_number and request.lookup.origin != "carrier_renewal":
            if result == "done":
                text = (
                    f"【码号服务】「{request.app.name}」已解除前机主账号与您号码的绑定"
                    f"（{request.accounts_count} 个账号）。"
                )
            else:
                text = (
                    f"【码号服务】「{request.app.name}」未解除绑定，原因：{request.refusal_reason[:60].rstrip('。.')}。"
                    "如有异议可在门户“解绑进度”页投诉。"
                )
            sms_send(phone_number=request.lookup.phone_number, text=text, purpose=SmsMessage.Purpose.UNBIND)
    return request


def unbind_requests_mark_fetched(*, requests: list[UnbindRequest]) -> None:
    """A platform fetched queued requests from the pull queue: they are now with it."""
    queued = [r for r in requests if r.state == UnbindRequest.State.QUEUED]
    if queued:
        now = timezone.now()
        UnbindRequest.objects.filter(pk__in=[r.pk for r in queued], state=UnbindRequest.State.QUEUED).update(
            state=UnbindRequest.State.SENT, sent_at=now, next_attempt_at=None
        )
        for r in queued:
            r.state, r.sent_at = UnbindRequest.State.SENT, now


def unbind_sweep(*, grace_seconds: int = 5) -> int:
    """Nudge push deliveries whose attempt is overdue (a lost message, a worker killed mid-call);
    delivery is idempotent."""
    due = timezone.now() - timedelta(seconds=grace_seconds)
    with transaction.atomic():  # under lock, due no more once it goes: a second sweep (two beats) skips them
        ids = list(
            UnbindRequest.objects.select_for_update(skip_locked=True)
            .filter(state=UnbindRequest.State.QUEUED, delivery=UnbindRequest.Delivery.PUSH, next_attempt_at__lte=due)
            .values_list("pk", flat=True)[:1000]
        )
        UnbindRequest.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now())
    if ids:
        unbind_dispatch(request_ids=ids)
    return len(ids)
