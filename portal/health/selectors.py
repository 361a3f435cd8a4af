import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from portal.health.models import WorkerHeartbeat

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
