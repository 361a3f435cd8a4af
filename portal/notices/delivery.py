"""Recycled-number notices (二次号码焕新): carriers' events go to every subscribed member app as
CloudEvents, many numbers a notice, signed like protocol v2 (docs/protocol.md).

1. Plan. `plan()` turns the events no subscription has been told about into `NoticeDelivery` rows:
   per subscription, the events after its cursor (`notified_up_to`) of the types it wants, cut into
   notices of at most NOTICE_MAX_NUMBERS. The cuts are the same for every subscription that wants the
   same types, so one task builds a notice's data once and sends it to up to 100 apps at a time. Events
   are planned once they are FEED_SETTLE_SECONDS old (as the pull feed serves them), so a batch still
   being written is never skipped.
2. Send. `run(ids)` claims the rows (pending and due), sends them concurrently on the worker's asyncio
   loop (aiohttp, the fan-out's session), and records every attempt. A 2xx delivers; anything else is
   retried on the published schedule (portal/core/backoff.py), and after the last try the notice is parked,
   for staff to re-send. What an outcome does to the endpoint (failing, disabled) and staff's replays
   are portal/notices/outcomes.py and replay.py.
3. Sweep. Beat runs `sweep()`: it plans (in case a nudge was lost) and re-sends rows that should have
   been tried a while ago (a killed worker, a flushed broker). The row is the truth; tasks are
   idempotent (a row already delivered, parked or claimed is skipped).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, CharField, DateTimeField, F, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from portal.core import backoff
from portal.core.crypto import decrypt_cached
from portal.core.enqueue import enqueue_each
from portal.notices import outcomes, selectors
from portal.notices.models import NoticeAttempt, NoticeDelivery, NoticeSubscription
from portal.outbound import clients as outbound
from portal.outbound import loop as fanout
from portal.recycling.models import NumberEvent
from portal.recycling.selectors import FEED_SETTLE_SECONDS, newest_number_event_id
from registry import protocol

logger = logging.getLogger(__name__)
State = NoticeDelivery.State
PLAN_WINDOW = 200_000  # event ids read per planning step


def plan() -> bool:
    """Plan the deliveries of every settled event; True when newer events are still settling."""
    settled_before = timezone.now() - timedelta(seconds=FEED_SETTLE_SECONDS)
    high = (
        NumberEvent.objects.filter(received_at__lte=settled_before).order_by("-pk").values_list("pk", flat=True).first()
        or 0
    )
    newest = newest_number_event_id()
    while _plan_window(high):
        pass
    return newest > high


def _plan_window(high: int) -> bool:
    from registry.models import Organisation

    with transaction.atomic():
        subscriptions = list(
            NoticeSubscription.objects.select_for_update(of=("self",))
            .filter(
                enabled=True,
                disabled_at__isnull=True,
                app__organisation__status=Organisation.Status.ACTIVE,
                notified_up_to__lt=high,
            )
            .order_by("pk")
        )
        if not subscriptions:
            return False
        low = min(s.notified_up_to for s in subscriptions)
        end = min(high, low + PLAN_WINDOW)
        rows = list(NumberEvent.objects.filter(pk__gt=low, pk__lte=end).order_by("pk").values_list("pk", "type"))
        now, attempts = timezone.now(), backoff.notices().attempts
        by_types: dict[tuple[str, ...], tuple[list[int], list[int]]] = {}
        deliveries = []
        for subscription in subscriptions:
            if subscription.notified_up_to >= end:
                continue
            types = tuple(sorted(subscription.types))
            if types not in by_types:
                ids = [pk for pk, kind in rows if kind in types]
                # notice boundaries: every NOTICE_MAX_NUMBERS-th event, and the window's end
                cuts = ids[protocol.NOTICE_MAX_NUMBERS - 1 :: protocol.NOTICE_MAX_NUMBERS]
                if not cuts or cuts[-1] != end:
                    cuts.append(end)
                by_types[types] = (ids, cuts)
            ids, cuts = by_types[types]
            start = subscription.notified_up_to
            for cut in cuts[bisect.bisect_right(cuts, start) :]:
                count = bisect.bisect_right(ids, cut) - bisect.bisect_right(ids, start)
                if count:
                    deliveries.append(
                        NoticeDelivery(
                            subscription=subscription,
                            after_event_id=start,
                            up_to_event_id=cut,
                            event_types=" ".join(types),
                            numbers=count,
                            next_attempt_at=now,
                            created_at=now,
                            max_attempts=attempts,
                        )
                    )
                start = cut
            subscription.notified_up_to = end
        NoticeDelivery.objects.bulk_create(deliveries, batch_size=2000)
        NoticeSubscription.objects.bulk_update(subscriptions, ["notified_up_to"])
        groups = _groups((d.pk, d.after_event_id, d.up_to_event_id, d.event_types) for d in deliveries)
        transaction.on_commit(lambda: dispatch(groups))
    return True


def _groups(rows) -> list[list[str]]:
    """Delivery ids in tasks: those carrying the same events share a task (the data is built once),
    at most NOTICE_TASK_SIZE a task."""
    same = defaultdict(list)
    for pk, after, up_to, types in rows:
        same[(after, up_to, types)].append(str(pk))
    size = settings.NOTICE_TASK_SIZE
    return [ids[i : i + size] for ids in same.values() for i in range(0, len(ids), size)]


def dispatch(groups: list[list[str]], *, countdown: float = 0) -> None:
    """A group a task; a broker refusing them leaves the rows pending, for sweep() to send again."""
    enqueue_each("portal.tasks.notices_deliver", [(ids,) for ids in groups], countdown=countdown, after_commit=False)


def sweep() -> int:
    """Plan what a lost nudge left unplanned, send the retries that just came due (those hours away get no
    nudge; each is sent from here a few sweeps at most, not every sweep while a busy queue holds it) and
    re-send rows that should have been tried a while ago."""
    plan()
    now = timezone.now()
    stuck_before = now - timedelta(seconds=settings.NOTICE_STUCK_SECONDS)
    just_due = Q(attempts__gt=0, next_attempt_at__lte=now, next_attempt_at__gt=now - timedelta(seconds=15))
    rows = list(
        NoticeDelivery.objects.filter(Q(next_attempt_at__lt=stuck_before) | just_due, state=State.PENDING)
        .order_by("next_attempt_at")
        .values_list("pk", "after_event_id", "up_to_event_id", "event_types")[:5000]
    )
    dispatch(_groups(rows))
    return len(rows)


# --- sending ----------------------------------------------------------------------------------------------


@dataclass
class Send:
    delivery_id: str
    subscription_id: int
    attempt: int
    max_attempts: int
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Result:
    send: Send
    started_at: object
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def run(delivery_ids: list[str]) -> None:
    sends = _claim(delivery_ids)
    if sends:
        _record(fanout.run_in_loop(send_all(sends)))


def _claim(delivery_ids: list[str]) -> list[Send]:
    now = timezone.now()
    timeout = settings.NOTICE_TIMEOUT_SECONDS
    with transaction.atomic():
        rows = list(
            NoticeDelivery.objects.select_for_update(
                skip_locked=connection.features.has_select_for_update_skip_locked, of=("self",)
            )
            .filter(
                pk__in=delivery_ids,
                state=State.PENDING,
                next_attempt_at__lte=now + timedelta(seconds=1),
                subscription__disabled_at__isnull=True,
            )
            .values(*SEND_FIELDS)
        )
        if not rows:
            return []
        # claimed: while it is being sent nobody else takes it; if this worker dies it is due again
        NoticeDelivery.objects.filter(pk__in=[r["pk"] for r in rows]).update(
            next_attempt_at=now + timedelta(seconds=timeout + 5)
        )
    return sends_for(rows)


SEND_FIELDS = (
    "pk",
    "subscription_id",
    "after_event_id",
    "up_to_event_id",
    "event_types",
    "attempts",
    "max_attempts",
    "created_at",
    "subscription__webhook_url",
    "subscription__secret_encrypted",
)


def sends_for(rows: list[dict]) -> list[Send]:
    """The signed requests of claimed rows (SEND_FIELDS); rows carrying the same events share the data."""
    data: dict[tuple, bytes] = {}
    sends = []
    for row in rows:
        events_key = (row["after_event_id"], row["up_to_event_id"], row["event_types"])
        if events_key not in data:
            events = selectors.notice_events(
                after_id=events_key[0], up_to_id=events_key[1], types=events_key[2].split()
            )
            data[events_key] = protocol.notice_data(notice_events=events)
        notice_id = str(row["pk"])
        body = protocol.notice_body(
            notice_id=notice_id,
            time_iso=timezone.localtime(row["created_at"]).isoformat(),
            data=data[events_key],
            report_path=reverse("api_platform_notice_report", args=[notice_id]),
        )
        headers = protocol.notice_headers(
            body, notice_id=notice_id, keys=decrypt_cached(row["subscription__secret_encrypted"])
        )
        sends.append(
            Send(
                notice_id,
                row["subscription_id"],
                row["attempts"] + 1,
                row["max_attempts"],
                row["subscription__webhook_url"],
                body,
                headers,
            )
        )
    return sends


async def _send_one(send: Send) -> Result:
    session = fanout.http_session()
    started_at, started = timezone.now(), time.monotonic()
    status_code, error = None, ""
    try:
        reply = await protocol.apost(
            session, send.url, send.body, send.headers, timeout_s=settings.NOTICE_TIMEOUT_SECONDS
        )
        status_code = reply.status
        if not 200 <= reply.status < 300:
            error = reply.reason  # the status, never the body: a member must not read what an address answered
    except Exception as exc:  # one member's failure, whatever it is, must never cost the others their notices
        failure = outbound.call_failure(exc, timeout_s=settings.NOTICE_TIMEOUT_SECONDS)
        if failure.unexpected:
            logger.exception("notice %s failed unexpectedly", send.delivery_id)
        error = failure.reason
    return Result(send, started_at, status_code, error[:300], int((time.monotonic() - started) * 1000))


async def send_all(sends: list[Send]) -> list[Result]:
    return await asyncio.gather(*(_send_one(s) for s in sends))


def _record(results: list[Result]) -> None:
    now = timezone.now()
    with transaction.atomic():
        NoticeAttempt.objects.bulk_create(
            [
                NoticeAttempt(
                    delivery_id=r.send.delivery_id,
                    number=r.send.attempt,
                    started_at=r.started_at,
                    status_code=r.status_code,
                    error=r.error,
                    duration_ms=r.duration_ms,
                )
                for r in results
            ]
        )
        pending = NoticeDelivery.objects.filter(state=State.PENDING)
        delivered = [r.send.delivery_id for r in results if r.ok]
        if delivered:
            pending.filter(pk__in=delivered).update(
                state=State.DELIVERED, delivered_at=now, attempts=F("attempts") + 1, last_error=""
            )
        failed = [r for r in results if not r.ok]
        parked = {r.send.delivery_id: r.error for r in failed if r.send.attempt >= r.send.max_attempts}
        if parked:
            pending.filter(pk__in=parked).update(
                state=State.PARKED, parked_at=now, attempts=F("attempts") + 1, last_error=_per_row(parked, CharField())
            )
        retried = [r for r in failed if r.send.delivery_id not in parked]
        retries = {r.send.delivery_id: outcomes.retry_delay(r.send.attempt, r.send.max_attempts) for r in retried}
        if retries:
            pending.filter(pk__in=retries).update(
                attempts=F("attempts") + 1,
                last_error=_per_row({r.send.delivery_id: r.error for r in retried}, CharField()),
                next_attempt_at=_per_row(
                    {pk: now + timedelta(seconds=delay) for pk, delay in retries.items()}, DateTimeField()
                ),
            )
        outcomes.endpoints_note(results, now=now)
    for delivery_id, delay in retries.items():
        if delay <= outcomes.NUDGE_MAX_SECONDS:  # later ones are the sweeper's: see outcomes.NUDGE_MAX_SECONDS
            dispatch([[delivery_id]], countdown=delay)


def _per_row(values: dict, output_field) -> Case:
    """A value a row, for one UPDATE of many rows: CASE WHEN id = ... THEN ... END."""
    return Case(
        *(When(pk=pk, then=Value(value, output_field=output_field)) for pk, value in values.items()),
        output_field=output_field,
    )
