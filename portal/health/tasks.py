import time

from celery import shared_task


@shared_task(bind=True, ignore_result=False, name="portal.tasks.worker_identity")
def worker_identity(self, pause_seconds: float = 0.0) -> str:
    """Answers with the worker that ran it (deployment checks and the two-worker test)."""
    time.sleep(pause_seconds)
    return self.request.hostname
