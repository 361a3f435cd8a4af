"""A worker bootstep that records a heartbeat row while the worker runs."""

import logging

from celery import bootsteps
from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


class WorkerHeartbeatStep(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        self.beat(worker)
        self.tref = worker.timer.call_repeatedly(settings.WORKER_HEARTBEAT_SECONDS, self.beat, (worker,), priority=10)

    def stop(self, worker):
        if self.tref:
            self.tref.cancel()
            self.tref = None

    def beat(self, worker):
        # imported here: this module is loaded with the Celery app, before Django's models are
        from portal.health.services import worker_heartbeat_record

        try:
            close_old_connections()
            worker_heartbeat_record(hostname=worker.hostname)
        except Exception:  # the heartbeat must never take the worker down
            logger.exception("could not record the worker heartbeat")
