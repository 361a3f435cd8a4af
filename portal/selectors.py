"""Reads for the portal itself: the health of the parts the site depends on."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from portal.models import WorkerHeartbeat

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
    from portal.models import SmsMessage

    return SmsMessage.objects.order_by("-created_at", "-pk")[:limit]


def sms_outbox_shows_text() -> bool:
    """Message texts (codes) are shown only by the development outbox backend, never in production."""
    return settings.SMS_BACKEND.endswith(".DatabaseBackend")


def lookup_result(lookup) -> dict:
    """What the holder sees of a lookup, for the page, its live updates and the API alike."""
    from portal.models import LookupQuery

    rows = []
    for q in lookup.queries.select_related("app").order_by("app__category", "app__name"):
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
    from portal.models import Lookup

    return Lookup.objects.order_by("-created_at")[:limit]
