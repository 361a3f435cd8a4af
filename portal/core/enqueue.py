"""The one way a service hands work to the workers: a task by its name, after the transaction commits, and
surviving the broker saying no.

Services never import tasks (tasks import services), so the layers stay one way; the name is the task's pinned
name, which queued messages and the beat schedule use too. The row is the truth and the message only a nudge:
when the broker refuses a message after the row committed, the caller has done its work and must not fail for
it. The refusal is logged (the task's name, never its arguments) and the sweeper of that kind of row (beat:
lookups, SMS, unbind deliveries, notices, uploads) sends it again once the broker is back."""

import functools
import logging

import kombu.exceptions
import redis.exceptions
from celery import current_app
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

# kombu wraps most connection failures in its OperationalError; a few of redis-py's reach the caller as they
# are (a socket closed in the middle of a publish)
BROKER_REFUSED = (kombu.exceptions.OperationalError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def enqueue(
    task: str,
    *args,
    countdown: float | None = None,
    once_per: float | None = None,
    after_commit: bool = True,
    required: bool = False,
) -> None:
    """Send `task` with `args` once the current transaction has committed (at once outside one, or with
    `after_commit=False` for rows already committed). `once_per`: a nudge sent at most once per that many
    seconds, however many callers ask. `required`: a refusal raises, for a caller that must tell the person
    it did not go (a verification code's SMS)."""
    nudge = functools.partial(_nudge, task, args, countdown=countdown, once_per=once_per, required=required)
    if after_commit:
        transaction.on_commit(nudge)
    else:
        nudge()


def enqueue_each(task: str, args_list: list[tuple], *, countdown: float | None = None, after_commit: bool = True):
    """One message per argument tuple, stopping at the first refusal (each refusal costs the publish retries;
    the sweeper sends the rest)."""

    def each():
        for args in args_list:
            if not send(task, args, countdown=countdown):
                return

    if not args_list:
        return
    if after_commit:
        transaction.on_commit(each)
    else:
        each()


def _nudge(task: str, args: tuple, *, countdown, once_per, required: bool) -> None:
    if once_per and not cache.add(f"enqueue:{task}", 1, timeout=once_per):
        return
    send(task, args, countdown=countdown, required=required)


def send(task: str, args: tuple, *, countdown: float | None = None, required: bool = False) -> bool:
    """The broker hand-over itself (tests replace it to see what was sent); False if the broker refused."""
    try:
        current_app.send_task(task, args=args, countdown=countdown)
    except BROKER_REFUSED as error:
        if required:
            raise
        logger.warning(
            "broker refused %s (%s); its sweeper sends it again once the broker is back",
            task,
            error.__class__.__name__,
        )
        return False
    return True
