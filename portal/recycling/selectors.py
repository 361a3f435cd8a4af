from datetime import datetime, timedelta
from datetime import time as dt_time

from django.db import connection
from django.utils import timezone

from portal.core.phone import to_e164
from portal.recycling.models import NumberEvent, NumberEventUpload
from registry.carriers import carrier_id_for_number
from registry.scoping import scope_for_user


def holder_since(phone_number: str):
    """When the current holder got the number: the date of its latest re-assignment a carrier
    reported, or None when no carrier said."""
    latest = (
        NumberEvent.objects.filter(
            phone_number=phone_number, type=NumberEvent.Type.REASSIGNED, occurred_at__lte=timezone.now()
        )
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return timezone.localtime(latest).date() if latest else None


def number_recycled_since(*, phone_number: str, since) -> bool | None:
    """CAMARA Number Recycling: has the subscriber changed after `since`? True when the number was
    cancelled or re-assigned after that date (so also when it was unassigned on it); None when no
    reporting carrier covers the number."""
    return numbers_recycled_since(checks=[(phone_number, since)])[0]


def newest_number_event_id() -> int:
    """The id of the newest number event (0 when none): where the notice feeds start and stand."""
    return NumberEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def numbers_recycled_since(*, checks: list[tuple[str, object]]) -> list[bool | None]:
    """`number_recycled_since` for many (number, date) pairs at once: one query whatever their number
    (the histories of all the numbers asked; the reporting carriers' segments are kept for 30 s). Written
    in SQL: at a thousand checks a second, building the query with the ORM cost more than running it
    (bench/checks.py)."""
    # a number no member carrier issued has no reported history: no data (as carrier_for_number)
    covered = {phone for phone, _since in checks if carrier_id_for_number(phone) is not None}
    histories: dict[str, list] = {}
    with connection.cursor() as cursor:
        if covered:
            cursor.execute(
                f"SELECT phone_number, occurred_at, type FROM {NumberEvent._meta.db_table}"
                f" WHERE phone_number IN ({', '.join(['%s'] * len(covered))}) AND type IN (%s, %s) ORDER BY "
                f"occurred_at",
                [*covered, NumberEvent.Type.CANCELLED, NumberEvent.Type.REASSIGNED],
            )
            for phone, at, kind in cursor.fetchall():
                histories.setdefault(phone, []).append((at, kind))
    answers = []
    for phone, since in checks:
        if phone not in covered:
            answers.append(None)
            continue
        end_of_day = timezone.make_aware(datetime.combine(since, dt_time.max))
        history = histories.get(phone, [])
        before = [kind for at, kind in history if at <= end_of_day]
        if before and before[-1] == NumberEvent.Type.CANCELLED:
            answers.append(True)  # nobody held the number on that date
        else:
            answers.append(any(at > end_of_day for at, _kind in history))
    return answers


FEED_SETTLE_SECONDS = 2  # events are served once their batch surely committed, so a cursor never skips one


def number_event_payloads(events) -> list[dict]:
    """Carriers' events (a queryset in the order wanted) as members get them, in the pull feed and in
    webhook notices alike:
    `{id, carrier, phone_number (E.164), type, occurred_at (ISO 8601, Beijing time)}`."""
    tz = timezone.get_current_timezone()
    return [
        {
            "id": pk,
            "carrier": carrier,
            "phone_number": to_e164(phone),
            "type": kind,
            "occurred_at": occurred_at.astimezone(tz).isoformat(),
        }
        for pk, carrier, phone, kind, occurred_at in events.values_list(
            "pk", "carrier__legal_name", "phone_number", "type", "occurred_at"
        )
    ]


def number_event_feed(*, after_id: int, limit: int, types: list[str] | None = None) -> list[dict]:
    """Carriers' events in id order after a cursor, for members that pull instead of taking webhooks."""
    events = NumberEvent.objects.filter(
        pk__gt=after_id, received_at__lte=timezone.now() - timedelta(seconds=FEED_SETTLE_SECONDS)
    )
    if types:
        events = events.filter(type__in=types)
    return number_event_payloads(events.order_by("pk")[:limit])


def number_event_upload_list(*, user):
    """The CSV uploads a staff user may see: their carrier's, or every carrier's for administrators."""
    return scope_for_user(NumberEventUpload.objects.select_related("carrier", "uploaded_by"), user).order_by(
        "-created_at", "-pk"
    )


def number_event_upload_progress(upload) -> dict:
    """What the upload page shows and polls."""
    return {
        "state": upload.state,
        "state_label": str(upload.get_state_display()),
        "done": upload.is_done,
        "percent": upload.percent,
        "rows_read": upload.rows_read,
        "rows_accepted": upload.rows_accepted,
        "rows_duplicate": upload.rows_duplicate,
        "rows_rejected": upload.rows_rejected,
        "freeze_breaches": upload.freeze_breaches,
        "error": upload.error,
    }


def number_event_upload_rejected_rows(*, upload):
    """The rejected rows of an upload in line order, streamed (a file may have many)."""
    return upload.rejections.order_by("line").values_list("line", "code", "detail", "row").iterator(chunk_size=5000)
