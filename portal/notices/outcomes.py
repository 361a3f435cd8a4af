"""What a notice attempt's outcome does beyond its own row (called by portal/notices/delivery.py as it records
attempts, inside that transaction)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from portal.core import backoff
from portal.core.enqueue import enqueue
from portal.notices.models import NoticeDelivery, NoticeSubscription

logger = logging.getLogger(__name__)

# Retries due within this get a delayed task (a countdown); later ones are sent by the sweeper once due:
# a countdown of hours would outlive the broker's visibility timeout and be delivered again and again.
NUDGE_MAX_SECONDS = 60.0


def retry_delay(attempt: int, max_attempts: int) -> float:
    """Seconds until the next try after failed `attempt`. A re-send starts a new round (it raises
    max_attempts by a round's attempts), so the place in the schedule counts from the round's start."""
    schedule = backoff.notices()
    in_round = attempt - (max_attempts - schedule.attempts)
    return schedule.delay(min(max(in_round, 1), len(schedule.delays)))


def endpoints_note(results, *, now) -> None:
    """Keep each endpoint's health from a batch of attempts (portal.notices.Result): a success ends its
    failing; a failure starts it, and disables an endpoint failing for NOTICE_DISABLE_AFTER_DAYS, or
    answering 410 Gone (Standard Webhooks: the receiver wants no more)."""
    succeeded = {r.send.subscription_id for r in results if r.ok}
    failed = {r.send.subscription_id: r for r in results if not r.ok and r.send.subscription_id not in succeeded}
    if succeeded:
        NoticeSubscription.objects.filter(pk__in=succeeded, failing_since__isnull=False).update(failing_since=None)
    if not failed:
        return
    NoticeSubscription.objects.filter(pk__in=failed, failing_since__isnull=True).update(failing_since=now)
    for pk, result in failed.items():
        if result.status_code == 410:
            endpoint_disable(pk, reason="the webhook answered HTTP 410 Gone (no more notices wanted)", now=now)
    limit = now - timedelta(days=settings.NOTICE_DISABLE_AFTER_DAYS)
    long_failing = NoticeSubscription.objects.filter(pk__in=failed, disabled_at__isnull=True, failing_since__lte=limit)
    for pk, since in long_failing.values_list("pk", "failing_since"):
        reason = f"every notice failed since {since:%Y-%m-%d %H:%M} UTC; the last: {failed[pk].error}"
        endpoint_disable(pk, reason=reason, now=now)


def endpoint_disable(subscription_id: int, *, reason: str, now) -> bool:
    """Stop sending to an endpoint: no more planning, its pending notices parked (staff replay them, or
    re-enabling sends them again), its staff e-mailed after the commit. False if it already was."""
    with transaction.atomic():
        if not NoticeSubscription.objects.filter(pk=subscription_id, disabled_at__isnull=True).update(
            disabled_at=now, disabled_reason=reason[:300], disabled_mailed_at=None
        ):
            return False
        rows = NoticeDelivery.objects.filter(subscription_id=subscription_id)
        rows.filter(state=NoticeDelivery.State.PENDING).update(state=NoticeDelivery.State.PARKED, parked_at=now)
        rows.filter(replay_due_at__isnull=False).update(replay_due_at=None, replay_requested_by="")
        enqueue("portal.notice_endpoint_disabled_mail", subscription_id)
    logger.warning("notice endpoint of subscription %s disabled: %s", subscription_id, reason)
    return True
