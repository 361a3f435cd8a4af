from celery import shared_task

from portal.notices import delivery as notices
from portal.recycling.services import notices_plan_soon


@shared_task(acks_late=True, name="portal.tasks.notices_plan")
def notices_plan() -> None:
    """Turn settled carrier events into notices; while newer events are settling, come back."""
    if notices.plan():
        notices_plan_soon()


@shared_task(acks_late=True, name="portal.tasks.notices_deliver")
def notices_deliver(delivery_ids: list[str]) -> None:
    """Send a group of notices concurrently (idempotent: delivered, parked or claimed rows are skipped)."""
    notices.run(delivery_ids)


@shared_task(name="portal.tasks.notices_sweep")
def notices_sweep() -> int:
    return notices.sweep()
