"""Hand work to the broker once the database has it, and survive the broker saying no.

The row is the truth and the message only a nudge (docs/architecture.md, Background work): when the
broker refuses a message after the row committed, the caller has already done its work and must not
fail for it. The message is logged and dropped; the sweeper of that kind of row (beat: lookups, SMS,
unbind deliveries, notices, uploads) sends it again once the broker is back.
"""

import functools
import logging

import kombu.exceptions
import redis.exceptions
from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

# kombu wraps most connection failures in its OperationalError; a few of redis-py's reach the caller as
# they are (a socket closed in the middle of a publish)
BROKER_REFUSED = (kombu.exceptions.OperationalError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def enqueue(task_name: str, *args, countdown: float | None = None, required: bool = False) -> bool:
    """Send the task named `task_name` now; False if the broker refused it (logged, left to the sweeper).
    `required`: raise instead, for a caller that must tell the person it did not go."""
    try:
        current_app.send_task(task_name, args=args, countdown=countdown)
    except BROKER_REFUSED as error:
        if required:
            raise
        # the task name and the error only: arguments may be sealed calls, and nothing else is news
        logger.warning("broker refused %s (%s); its sweeper sends it again once the broker is back",
                       task_name, error.__class__.__name__)
        return False
    return True


def enqueue_each(task_name: str, args_list: list[tuple], *, countdown: float | None = None) -> int:
    """Send one task per argument tuple, stopping at the first refusal (each refusal costs the publish
    retries; the sweeper sends the rest); returns how many went."""
    for sent, args in enumerate(args_list):
        if not enqueue(task_name, *args, countdown=countdown):
            return sent
    return len(args_list)


def enqueue_after_commit(task_name: str, *args, countdown: float | None = None, required: bool = False) -> None:
    """`enqueue` once the current transaction commits (at once outside one)."""
    transaction.on_commit(functools.partial(enqueue, task_name, *args, countdown=countdown, required=required))


def enqueue_each_after_commit(task_name: str, args_list: list[tuple]) -> None:
    """`enqueue_each` once the current transaction commits."""
    if args_list:
        transaction.on_commit(functools.partial(enqueue_each, task_name, args_list))
