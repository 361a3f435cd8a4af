from celery import shared_task

from portal.notices import delivery as notices
from portal.notices import replay
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
    return notices.sweep() + replay.sweep()


@shared_task(name="portal.notice_replay", acks_late=True)
def notice_replay(delivery_id: str) -> bool:
    """Send a notice once more as staff asked (idempotent: the row says whether a replay is due)."""
    return replay.replay_run(delivery_id)


@shared_task(name="portal.notice_endpoint_disabled_mail", acks_late=True)
def notice_endpoint_disabled_mail(subscription_id: int) -> int:
    """Tell an organisation's staff their notice webhook was disabled (once: the row says if it was)."""
    return replay.disabled_mail_send(subscription_id)
