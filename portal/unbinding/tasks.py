from celery import shared_task

from portal.unbinding.services import UnbindRetry, unbind_deliver
from portal.unbinding.services import unbind_sweep as sweep


@shared_task(bind=True, acks_late=True, max_retries=None, name="portal.tasks.unbind_request_deliver")
def unbind_request_deliver(self, request_id: int) -> str:
    """Push one unbind request to its platform; the row counts the attempts and says when to stop."""
    try:
        return unbind_deliver(request_id=request_id)
    except UnbindRetry as error:
        raise self.retry(exc=error, countdown=error.countdown) from error


@shared_task(name="portal.tasks.unbind_sweep")
def unbind_sweep() -> int:
    return sweep()
