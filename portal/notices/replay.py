"""Staff's side of notice delivery: replaying a notice, re-enabling a disabled endpoint, telling staff
it was disabled, and the sweep that catches replays and e-mails whose nudge was lost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal.core import backoff
from portal.core.enqueue import enqueue
from portal.notices import delivery as notices
from portal.notices import outcomes
from portal.notices.models import NoticeAttempt, NoticeDelivery, NoticeSubscription
from portal.outbound import loop as fanout
from portal.recycling.models import NumberEvent
from registry.models import StaffUser

State = NoticeDelivery.State


@dataclass
class ReplayRefused(Exception):
    code: str
    message: str
    status: int = 409
    retry_at: datetime | None = None


def replay_refusal(delivery: NoticeDelivery, *, now=None) -> ReplayRefused | None:
    """Why this notice cannot be replayed now, or None: it is older than NOTICE_REPLAY_DAYS, or its
    endpoint is disabled (re-enable it first)."""
    now = now or timezone.now()
    if delivery.created_at < now - timedelta(days=settings.NOTICE_REPLAY_DAYS):
        return ReplayRefused(
            "replay_window_passed",
            _(
                "Only notices of the last %(days)d days can be replayed; this one is of %(created)s. "
                "Its events are still in the pull feed (GET /api/v1/platform/number-events)."
            )
            % {
                "days": settings.NOTICE_REPLAY_DAYS,
                "created": date_format(timezone.localtime(delivery.created_at), "Y-m-d"),
            },
        )
    if delivery.subscription.disabled_at is not None:
        return ReplayRefused("endpoint_disabled", _("The webhook is disabled; re-enable it first, then replay."))
    return None


def replay_request(*, delivery: NoticeDelivery, by: str) -> NoticeDelivery:
    """Ask for one more attempt at a notice, now, with the same webhook-id (its idempotency key, as
    Standard Webhooks keeps it for every retry) and a fresh timestamp and signature. One replay waits
    at a time (asking again changes nothing); at most NOTICE_REPLAYS_PER_DAY a notice a day."""
    now = timezone.now()
    with transaction.atomic():
        rows = NoticeDelivery.objects.select_for_update(of=("self",)).select_related("subscription")
        delivery = rows.get(pk=delivery.pk)
        refusal = replay_refusal(delivery, now=now)
        if refusal is not None:
            raise refusal
        if delivery.replay_due_at is not None:
            return delivery
        day = delivery.attempt_log.filter(replay=True, started_at__gte=now - timedelta(days=1))
        if day.count() >= settings.NOTICE_REPLAYS_PER_DAY:
            retry_at = day.order_by("started_at").values_list("started_at", flat=True).first() + timedelta(days=1)
            message = _("This notice was replayed %(count)d times in the last 24 hours; try again later.")
            raise ReplayRefused(
                "replay_limit", message % {"count": settings.NOTICE_REPLAYS_PER_DAY}, status=429, retry_at=retry_at
            )
        delivery.replay_due_at, delivery.replay_requested_by = now, by[:200]
        delivery.save(update_fields=["replay_due_at", "replay_requested_by"])
        enqueue("portal.notice_replay", str(delivery.pk))
    return delivery


def replay_run(delivery_id: str) -> bool:
    """The worker's side of a replay: claim it (as notices.run claims a try), send it, record the attempt.
    False when no replay is due (done already, claimed by another worker, or the endpoint is disabled)."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            NoticeDelivery.objects.select_for_update(
                skip_locked=connection.features.has_select_for_update_skip_locked, of=("self",)
            )
            .filter(
                pk=delivery_id, replay_due_at__lte=now + timedelta(seconds=1), subscription__disabled_at__isnull=True
            )
            .values(*notices.SEND_FIELDS, "replay_requested_by")
        )
        if not rows:
            return False
        NoticeDelivery.objects.filter(pk=delivery_id).update(
            replay_due_at=now + timedelta(seconds=settings.NOTICE_TIMEOUT_SECONDS + 5)
        )  # claimed while it is sent
    (result,) = fanout.run_in_loop(notices.send_all(notices.sends_for(rows)))
    _replay_record(result, by=rows[0]["replay_requested_by"])
    return result.ok


def _replay_record(result, *, by: str) -> None:
    """A replay is one more attempt: numbered after the others; a success delivers a notice that was not
    yet delivered; a failure changes nothing else (a pending notice keeps its place in its round)."""
    now = timezone.now()
    with transaction.atomic():
        delivery = NoticeDelivery.objects.select_for_update().get(pk=result.send.delivery_id)
        delivery.attempts += 1
        NoticeAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            started_at=result.started_at,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            replay=True,
            requested_by=by,
        )
        if delivery.state == State.PENDING:
            delivery.max_attempts += 1
        if result.ok and delivery.state != State.DELIVERED:
            delivery.state, delivery.delivered_at = State.DELIVERED, now
        delivery.last_error = "" if result.ok else result.error
        delivery.replay_due_at, delivery.replay_requested_by = None, ""
        delivery.save(
            update_fields=[
                "attempts",
                "max_attempts",
                "state",
                "delivered_at",
                "last_error",
                "replay_due_at",
                "replay_requested_by",
            ]
        )
        outcomes.endpoints_note([result], now=now)


def endpoint_enable(*, subscription: NoticeSubscription) -> int:
    """Send to a disabled endpoint again. What it missed in the last NOTICE_REPLAY_DAYS follows: its parked
    notices of those days get a new round of tries, starting now, and the events that came while it was
    disabled are planned (older ones are in the pull feed). Returns the notices sent again."""
    now, since = timezone.now(), timezone.now() - timedelta(days=settings.NOTICE_REPLAY_DAYS)
    with transaction.atomic():
        subscription = NoticeSubscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.disabled_at is None:
            return 0
        older = NumberEvent.objects.filter(received_at__lt=since).order_by("-pk")
        floor = older.values_list("pk", flat=True).first() or 0
        subscription.notified_up_to = max(subscription.notified_up_to, floor)
        subscription.disabled_at, subscription.disabled_reason = None, ""
        subscription.failing_since = subscription.disabled_mailed_at = None
        subscription.save(
            update_fields=[
                "notified_up_to",
                "disabled_at",
                "disabled_reason",
                "failing_since",
                "disabled_mailed_at",
                "updated_at",
            ]
        )
        missed = NoticeDelivery.objects.filter(subscription=subscription, state=State.PARKED, created_at__gte=since)
        ids = [str(pk) for pk in missed.values_list("pk", flat=True)]
        missed.update(
            state=State.PENDING,
            parked_at=None,
            next_attempt_at=now,
            max_attempts=F("attempts") + backoff.notices().attempts,
        )
        size = settings.NOTICE_TASK_SIZE
        for i in range(0, len(ids), size):
            enqueue("portal.tasks.notices_deliver", ids[i : i + size])
        enqueue("portal.tasks.notices_plan")
    return len(ids)


def disabled_mail_send(subscription_id: int) -> int:
    """E-mail the organisation's staff that its notice webhook was disabled, and why; once per disabling
    (the row keeps that it was sent). Returns the number of recipients."""
    with transaction.atomic():
        subscription = (
            NoticeSubscription.objects.select_for_update(of=("self",))
            .select_related("app__organisation")
            .filter(pk=subscription_id, disabled_at__isnull=False, disabled_mailed_at__isnull=True)
            .first()
        )
        if subscription is None:
            return 0
        recipients = list(
            StaffUser.objects.filter(
                organisation=subscription.app.organisation,
                is_active=True,
                role__in=[StaffUser.Role.PLATFORM_STAFF, StaffUser.Role.CARRIER_STAFF],
            )
            .order_by("pk")
            .values_list("email", flat=True)
        )
        context = {
            "subscription": subscription,
            "app": subscription.app,
            "console_path": reverse("staff_app_notices", args=[subscription.app_id]),
            "replay_days": settings.NOTICE_REPLAY_DAYS,
        }
        if recipients:
            with translation.override(settings.LANGUAGE_CODE):
                send_mail(
                    subject=render_to_string("portal/email/notice_endpoint_disabled_subject.txt", context).strip(),
                    message=render_to_string("portal/email/notice_endpoint_disabled_message.txt", context),
                    from_email=None,
                    recipient_list=recipients,
                )
        subscription.disabled_mailed_at = timezone.now()
        subscription.save(update_fields=["disabled_mailed_at"])
    return len(recipients)


def sweep() -> int:
    """Replays and e-mails whose task was lost (a flushed broker, a killed worker) are asked for again."""
    stuck_before = timezone.now() - timedelta(seconds=settings.NOTICE_STUCK_SECONDS)
    replays = [
        str(pk)
        for pk in NoticeDelivery.objects.filter(
            replay_due_at__lt=stuck_before, subscription__disabled_at__isnull=True
        ).values_list("pk", flat=True)[:500]
    ]
    for pk in replays:
        enqueue("portal.notice_replay", pk, after_commit=False)
    mails = list(
        NoticeSubscription.objects.filter(disabled_at__lt=stuck_before, disabled_mailed_at__isnull=True).values_list(
            "pk", flat=True
        )[:100]
    )
    for pk in mails:
        enqueue("portal.notice_endpoint_disabled_mail", pk, after_commit=False)
    return len(replays) + len(mails)
