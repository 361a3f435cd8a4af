"""Reads for the portal itself: the health of the parts the site depends on."""

import hmac
import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from portal.models import Lookup, LookupQuery, SmsMessage, WorkerHeartbeat
from portal.privacy import token_hash

logger = logging.getLogger(__name__)


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        logger.exception("health: database unreachable")
        return False


def broker_ok() -> bool:
    try:
        transport_options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
        with Connection(settings.CELERY_BROKER_URL, transport_options=transport_options, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        logger.exception("health: broker unreachable")
        return False


def live_workers() -> list[str]:
    since = timezone.now() - timedelta(seconds=settings.WORKER_STALE_AFTER_SECONDS)
    try:
        return list(WorkerHeartbeat.objects.filter(seen_at__gte=since).values_list("hostname", flat=True))
    except Exception:
        return []


def health_report() -> dict:
    """{'database': 'ok'|'down', 'broker': ..., 'worker': ...} plus the names of live workers."""
    db = database_ok()
    workers = live_workers() if db else []
    return {
        "database": "ok" if db else "down",
        "broker": "ok" if broker_ok() else "down",
        "worker": "ok" if workers else "down",
        "workers": sorted(workers),
    }


def sms_outbox(*, limit: int = 50):
    return SmsMessage.objects.order_by("-created_at", "-pk")[:limit]


def sms_outbox_shows_text() -> bool:
    """Message texts (codes) are shown only by the development outbox backend, never in production."""
    return settings.SMS_BACKEND.endswith(".DatabaseBackend")


def lookup_result(lookup) -> dict:
    """What the holder sees of a lookup, for the page, its live updates and the API alike."""
    from registry.models import MemberApp

    order = {value: index for index, value in enumerate(MemberApp.Category.values)}  # the directory's order
    rows = []
    for q in sorted(lookup.queries.select_related("app"), key=lambda q: (order.get(q.app.category, 99), q.app.name)):
        rows.append({
            "app": q.app.name,
            "app_id": q.app_id,
            "category": q.app.get_category_display(),
            "state": q.state,
            "state_label": str(LookupQuery.State(q.state).label),
            "accounts": q.accounts_total,
            "accounts_previous": q.accounts_previous,
            "settled": q.is_settled,
            "unbind_instructions": q.app.unbind_instructions,
            "unbind_url": q.app.unbind_url,
        })
    settled = sum(1 for r in rows if r["settled"])
    return {
        "id": str(lookup.pk),
        "state": lookup.state,
        "phone_number": lookup.masked_phone_number,
        "created_at": lookup.created_at.isoformat(),
        "completed_at": lookup.completed_at.isoformat() if lookup.completed_at else None,
        "progress": {"settled": settled, "total": len(rows)},
        "summary": {
            "apps_with_accounts": sum(1 for r in rows if r["accounts"]),
            "accounts_total": sum(r["accounts"] for r in rows),
            "accounts_previous": sum(r["accounts_previous"] for r in rows),
        },
        "apps": rows,
    }


def lookup_list_recent(*, limit: int = 200):
    return Lookup.objects.order_by("-created_at")[:limit]


# --- Lookups ---------------------------------------------------------------------------------------------


def lookup_apps():
    """The member apps a lookup asks: active members, live, with the lookup capability and a keyed
    integration that is switched on."""
    from registry.models import MemberApp, Organisation

    return (
        MemberApp.objects.filter(
            organisation__status=Organisation.Status.ACTIVE,
            go_live_date__lte=timezone.localdate(),
            supports_lookup=True,
            integration__enabled=True,
            integration__keys__revoked_at__isnull=True,
        )
        .distinct()
        .select_related("integration")
        .order_by("category", "name")
    )


def carrier_for_number(phone_number: str):
    """The active carrier or MVNO member that issued the number: the one whose segment is the longest
    prefix of it (an MVNO's 1703 beats a carrier's 170), or None."""
    from registry.models import Organisation

    best, best_length = None, 0
    carriers = Organisation.objects.filter(
        status=Organisation.Status.ACTIVE, kind__in=[Organisation.Kind.BASIC_CARRIER, Organisation.Kind.MVNO]
    ).exclude(number_segments="")
    for carrier in carriers:
        for segment in carrier.number_segments.split():
            if phone_number.startswith(segment) and len(segment) > best_length:
                best, best_length = carrier, len(segment)
    return best


def carrier_identity_app(phone_number: str):
    """The app of the number's carrier that checks identities, if it has one switched on."""
    carrier = carrier_for_number(phone_number)
    if carrier is None:
        return None
    return carrier.apps.filter(supports_identity_check=True, integration__enabled=True).select_related("integration").first()


def lookup_app_keys() -> list[dict]:
    """For every app a lookup asks: its integration and newest valid key (with the secret).
    Plain values, not model instances: this runs for every lookup and every member app."""
    from portal.crypto import decrypt_cached
    from registry.models import IntegrationKey

    app_ids = lookup_apps().values_list("pk", flat=True)
    newest = {}
    for row in (
        IntegrationKey.objects.filter(integration__app_id__in=app_ids, revoked_at__isnull=True)
        .order_by("created_at", "pk")
        .values("key_id", "secret_encrypted", "integration_id", "integration__app_id", "integration__base_url",
                "integration__timeout_ms", "integration__max_requests_per_second")
    ):
        newest[row["integration__app_id"]] = row  # ordered oldest first: the newest key wins
    return [row | {"secret": decrypt_cached(row["secret_encrypted"])} for row in newest.values()]


def lookup_for_token(*, lookup_id, token: str) -> Lookup | None:
    lookup = Lookup.objects.filter(pk=lookup_id).first()
    if lookup and token and hmac.compare_digest(lookup.access_token_hash, token_hash(token)):
        return lookup
    return None


def holder_since(phone_number: str):
    """When the current holder got the number: the date of its latest re-assignment a carrier
    reported, or None when no carrier said."""
    from portal.models import NumberEvent

    latest = (
        NumberEvent.objects.filter(phone_number=phone_number, type=NumberEvent.Type.REASSIGNED, occurred_at__lte=timezone.now())
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


def numbers_recycled_since(*, checks: list[tuple[str, object]]) -> list[bool | None]:
    """`number_recycled_since` for many (number, date) pairs at once: two queries whatever their
    number (the reporting carriers' segments, and the histories of all the numbers asked). Written in
    SQL: at a thousand checks a second, building the two queries with the ORM cost more than running
    them (bench/checks.py)."""
    from datetime import datetime, time as dt_time, timezone as dt_timezone

    from portal.models import NumberEvent
    from registry.models import Organisation

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT number_segments FROM {Organisation._meta.db_table} WHERE status = %s AND kind IN (%s, %s) AND number_segments <> ''",
            [Organisation.Status.ACTIVE, Organisation.Kind.BASIC_CARRIER, Organisation.Kind.MVNO],
        )
        # a number no member carrier issued has no reported history: no data (as carrier_for_number)
        segments = tuple(segment for (line,) in cursor.fetchall() for segment in line.split())
        covered = {phone for phone, _since in checks if segments and phone.startswith(segments)}
        histories: dict[str, list] = {}
        if covered:
            cursor.execute(
                f"SELECT phone_number, occurred_at, type FROM {NumberEvent._meta.db_table}"
                f" WHERE phone_number IN ({', '.join(['%s'] * len(covered))}) AND type IN (%s, %s) ORDER BY occurred_at",
                [*covered, NumberEvent.Type.CANCELLED, NumberEvent.Type.REASSIGNED],
            )
            for phone, at, kind in cursor.fetchall():
                at = at if at.tzinfo else at.replace(tzinfo=dt_timezone.utc)  # SQLite (development) gives naive UTC
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


def number_event_feed(*, after_id: int, limit: int, types: list[str] | None = None):
    """Carriers' events in id order after a cursor, for members that pull instead of taking webhooks."""
    from portal.models import NumberEvent

    events = NumberEvent.objects.filter(
        pk__gt=after_id, received_at__lte=timezone.now() - timedelta(seconds=FEED_SETTLE_SECONDS)
    ).select_related("carrier")
    if types:
        events = events.filter(type__in=types)
    return list(events.order_by("pk")[:limit])


def number_event_upload_list(*, user):
    """The CSV uploads a staff user may see: their carrier's, or every carrier's for administrators."""
    from portal.models import NumberEventUpload
    from registry.scoping import scope_for_user

    return scope_for_user(NumberEventUpload.objects.select_related("carrier", "uploaded_by"), user).order_by("-created_at", "-pk")


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
