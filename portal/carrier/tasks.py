"""The carrier front door's background work (names pinned: the beat schedule and queued messages say
them). Arguments are row ids: no number travels through the broker."""

from celery import shared_task

from portal.carrier import services


@shared_task(name="portal.carrier_action_settle", acks_late=True)
def carrier_action_settle(action_id: int) -> str:
    action = services.carrier_action_settle(action_id=action_id)
    return action.state if action else "missing"


@shared_task(name="portal.carrier_callback_deliver", acks_late=True)
def carrier_callback_deliver(action_id: int) -> str:
    """One attempt; a failed one is due again at `callback_next_at`, which the sweeper re-sends."""
    return services.carrier_callback_deliver(action_id=action_id)


@shared_task(name="portal.carrier_sweep")
def carrier_sweep() -> int:
    return services.carrier_sweep()


@shared_task(name="portal.carrier_purge")
def carrier_purge() -> int:
    return services.carrier_actions_purge()
