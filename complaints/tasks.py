from celery import shared_task

from complaints import deadlines
from complaints.statistics import services as statistics_services


@shared_task(acks_late=True)
def complaint_deadlines_enforce() -> dict:
    return deadlines.complaint_deadlines_enforce()


@shared_task(acks_late=True)
def complaint_purge() -> int:
    return deadlines.complaint_purge()


@shared_task(acks_late=True)
def statistics_refresh() -> dict:
    """Rebuild the statistics rollups of recent days and of cases that changed (idempotent)."""
    return statistics_services.statistics_refresh()
