"""The Celery app. Configuration comes from Django settings (CELERY_*); tasks live in each app's tasks.py."""

import functools
import logging
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["portal.bulkcheck"])  # a package inside the portal app, with tasks of its own

from portal.worker import WorkerHeartbeatStep  # noqa: E402

app.steps["worker"].add(WorkerHeartbeatStep)

# Celery's Django fix-up closes the database connection around every task, so each lookup task paid
# for a new PostgreSQL connection (a backend process forked) on its way to the first answer. Let the
# worker keep connections the way Django's request cycle does instead: CONN_MAX_AGE and
# CONN_HEALTH_CHECKS decide (0 in development: closed after every task, as before).
app.conf.setdefault("CELERY_DB_REUSE_MAX", 1_000_000)


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(**kwargs) -> None:
    from django.db import close_old_connections

    close_old_connections()


class QuietSweeps(logging.Filter):
    """A periodic sweep that found nothing is not news: its "received" and "succeeded …: 0" lines are
    dropped at INFO (a sweep that re-sent something, and every warning or error, still show)."""

    NOTHING = {"0", "None", "False", "[]", "{}"}

    @functools.cached_property
    def periodic(self) -> set[str]:
        from django.conf import settings  # read on the first record, once settings are loaded

        return {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    def filter(self, record: logging.LogRecord) -> bool:
        context = record.args if isinstance(record.args, dict) else {}
        if record.levelno > logging.INFO or context.get("name") not in self.periodic:
            return True
        if "return_value" in context:
            return context["return_value"] not in self.NOTHING
        return False  # "received": the outcome line says whether it found anything


for _name in ("celery.app.trace", "celery.worker.strategy"):
    logging.getLogger(_name).addFilter(QuietSweeps())
