"""The Celery app. Configuration comes from Django settings (CELERY_*); tasks live in each app's tasks.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from portal.worker import WorkerHeartbeatStep  # noqa: E402

app.steps["worker"].add(WorkerHeartbeatStep)
