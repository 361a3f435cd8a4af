"""The one way a service hands work to the workers: a task by its name, after the transaction commits.

Services never import tasks (tasks import services), so the layers stay one way; the name is the task's
pinned `portal.tasks.<name>`, which queued messages and the beat schedule use too."""

from celery import current_app
from django.core.cache import cache
from django.db import transaction


def enqueue(
    task: str, *args, countdown: float | None = None, once_per: float | None = None, after_commit: bool = True
) -> None:
    """Send `task` with `args`, once the current transaction has committed (at once outside one, or with
    `after_commit=False` for rows already committed). `once_per`: a nudge sent at most once per that many
    seconds, however many callers ask; the rows say what there is to do."""

    def nudge():
        if once_per and not cache.add(f"enqueue:{task}", 1, timeout=once_per):
            return
        send(task, args, countdown=countdown)

    if after_commit:
        transaction.on_commit(nudge)
    else:
        nudge()


def send(task: str, args: tuple, *, countdown: float | None = None) -> None:
    """The broker hand-over itself (tests replace it to see what was sent)."""
    current_app.send_task(task, args=args, countdown=countdown)
