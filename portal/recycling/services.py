from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy

from portal.core.enqueue import enqueue
from portal.core.phone import normalize_phone
from portal.core.refusals import Refusal
from portal.recycling.models import NumberEvent
from portal.recycling.selectors import FEED_SETTLE_SECONDS

NUMBER_EVENTS_MAX_BATCH = 10_000


NUMBER_EVENT_FIELDS = ("event_id", "phone_number", "type", "occurred_at")


# Why a row was refused, by code. The API answers in English (its contract); the carrier console's
# rejected-rows file is in the reader's language.
NUMBER_EVENT_REJECTIONS = {
    "not_object": gettext_lazy("an event must be an object"),
    "missing": gettext_lazy("missing {fields}"),
    "event_id": gettext_lazy("event_id must be a string of 1 to 100 characters"),
    "phone_number": gettext_lazy("phone_number is not a mainland mobile number (+86 and 11 digits starting 1[3-9])"),
    "type": gettext_lazy("type must be one of {types}"),
    "occurred_at": gettext_lazy("occurred_at must be an ISO 8601 time with its offset, e.g. 2026-05-01T08:00:00+08:00"),
    "future": gettext_lazy("occurred_at is in the future"),
    "columns": gettext_lazy("expected 4 columns (event_id, phone_number, type, occurred_at), found {count}"),
}


def number_event_rejection_text(code: str, detail: str = "") -> str:
    """The reason for a refused row in the active language."""
    text = str(NUMBER_EVENT_REJECTIONS.get(code, code))
    return text.format(fields=detail, types=", ".join(NumberEvent.Type.values), count=detail)


def _parse_number_event(raw, latest) -> tuple[dict | None, str, str]:
    """One event checked: (event, "", "") or (None, reason code, detail). Runs once per row of every
    batch, so it stays lean (a million rows a file)."""
    if not isinstance(raw, dict):
        return None, "not_object", ""
    try:
        event_id, phone, kind, occurred = raw["event_id"], raw["phone_number"], raw["type"], raw["occurred_at"]
    except KeyError:
        return None, "missing", ", ".join(k for k in NUMBER_EVENT_FIELDS if k not in raw)
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 100 or "\x00" in event_id:
        return None, "event_id", ""
    phone = phone if isinstance(phone, str) else str(phone)
    try:
        phone = normalize_phone(phone)
    except ValidationError:
        return None, "phone_number", ""
    if not isinstance(kind, str) or kind not in _NUMBER_EVENT_TYPES:
        return None, "type", ""
    occurred_at = None
    if isinstance(occurred, str):
        try:
            occurred_at = datetime.fromisoformat(occurred)
        except ValueError:
            try:
                occurred_at = parse_datetime(occurred)  # the few ISO 8601 forms Python's parser does not take
            except ValueError:
                pass
    if occurred_at is None or occurred_at.tzinfo is None:
        return None, "occurred_at", ""
    if occurred_at > latest:
        return None, "future", ""
    return {"event_id": event_id, "phone_number": phone, "type": kind, "occurred_at": occurred_at}, "", ""


_NUMBER_EVENT_TYPES = frozenset(NumberEvent.Type.values)


def number_events_ingest(*, carrier, events: list) -> dict:
    """Keep a carrier's batch of number events. Idempotent on (carrier, event_id); each bad row is
    reported with its index, reason (English) and reason code, and the good rows are kept. A
    re-assignment sooner than 90 days after the number's last cancellation is flagged as a
    freeze-period breach. The API and the console's CSV uploads both come through here."""
    if len(events) > NUMBER_EVENTS_MAX_BATCH:
        raise Refusal(
            f"at most {NUMBER_EVENTS_MAX_BATCH} events a batch; this one has {len(events)}", code="batch_too_large"
        )
    latest = timezone.now() + timedelta(days=1)
    rejected, good, seen = [], [], set()
    with translation.override("en"):
        for index, raw in enumerate(events):
            event, code, detail = _parse_number_event(raw, latest)
            if event is None:
                rejected.append(
                    {
                        "index": index,
                        "reason": number_event_rejection_text(code, detail),
                        "code": code,
                        "detail": detail,
                    }
                )
            elif event["event_id"] not in seen:
                seen.add(event["event_id"])
                good.append(event)
    inserted = _number_events_insert(carrier_id=carrier.pk, events=good)
    if inserted:
        notices_plan_soon()  # member apps hear of them (portal/notices/)
    return {
        "accepted": len(inserted),
        "duplicates": len(events) - len(rejected) - len(inserted),
        "rejected": rejected,
        "freeze_breaches": sum(inserted.values()),
    }


def _latest_cancellation_in_batch(events: list[dict]) -> dict[int, object]:
    """For each re-assignment (by position), the latest cancellation of its number in the same batch
    at or before it; the stored ones are looked up by the database."""
    reassigned = {e["phone_number"] for e in events if e["type"] == NumberEvent.Type.REASSIGNED}
    cancelled: dict[str, list] = {}
    for e in events:
        if e["type"] == NumberEvent.Type.CANCELLED and e["phone_number"] in reassigned:
            cancelled.setdefault(e["phone_number"], []).append(e["occurred_at"])
    latest = {}
    for i, e in enumerate(events):
        if e["type"] == NumberEvent.Type.REASSIGNED and e["phone_number"] in cancelled:
            latest[i] = max((at for at in cancelled[e["phone_number"]] if at <= e["occurred_at"]), default=None)
    return latest


def pg_array(values, *, quote: bool = True) -> str:
    """A PostgreSQL array literal: one parameter for 10,000 values, several times cheaper to send than
    a Python list adapted element by element. None is NULL; quote=False only for values that cannot
    hold a comma, quote, brace, backslash or space (validated digits, types, ISO times)."""
    if quote:
        items = ("NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    else:
        items = ("NULL" if v is None else v for v in values)
    return "{" + ",".join(items) + "}"


def _number_events_insert(*, carrier_id: int, events: list[dict]) -> dict[str, bool]:
    """Insert the events not stored yet and flag freeze-period breaches (a re-assignment sooner than
    FREEZE_DAYS after the number's latest cancellation before it, stored or in this batch; a batch sent
    again finds its own cancellations stored, with the same answer). Returns the event ids inserted,
    each with its breach flag, in one statement (ON CONFLICT DO NOTHING: a concurrent resend is a
    no-op)."""
    if not events:
        return {}
    now = timezone.now()
    in_batch = _latest_cancellation_in_batch(events)
    table = NumberEvent._meta.db_table
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # The planner's guess for the per-row subquery is high enough to switch on JIT compilation,
        # which cost three times the statement itself (bench/ingest.py).
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            f"""INSERT INTO {table} (carrier_id, event_id, phone_number, type, occurred_at, received_at,
                                     freeze_breach, days_since_cancellation)
                SELECT %s, e.event_id, e.phone_number, e.type, e.occurred_at, %s, coalesce(c.days < %s, false), c.days
                FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::timestamptz[], %s::timestamptz[])
                     AS e(event_id, phone_number, type, occurred_at, cancelled_in_batch)
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN e.type = 'reassigned' THEN floor(extract(epoch FROM e.occurred_at - greatest(
                        e.cancelled_in_batch,
                        (SELECT max(n.occurred_at) FROM {table} n
                         WHERE n.phone_number = e.phone_number AND n.type = 'cancelled'
                           AND n.occurred_at <= e.occurred_at)
                    )) / 86400)::integer END AS days
                    OFFSET 0  -- computed once per row, not once per use of c.days
                ) c
                ON CONFLICT (carrier_id, event_id) DO NOTHING
                RETURNING event_id, freeze_breach""",
            [
                carrier_id,
                now,
                NumberEvent.FREEZE_DAYS,
                pg_array(e["event_id"] for e in events),
                pg_array((e["phone_number"] for e in events), quote=False),
                pg_array((e["type"] for e in events), quote=False),
                pg_array((e["occurred_at"].isoformat() for e in events), quote=False),
                pg_array(
                    (at.isoformat() if (at := in_batch.get(i)) else None for i in range(len(events))), quote=False
                ),
            ],
        )
        return dict(cursor.fetchall())


def notices_plan_soon() -> None:
    """After carriers' events are stored: plan their notices once they have settled (portal/notices/). One
    nudge per settle period however many batches arrive; the plan task comes back while newer events settle."""
    enqueue("portal.tasks.notices_plan", countdown=FEED_SETTLE_SECONDS + 0.5, once_per=FEED_SETTLE_SECONDS)
