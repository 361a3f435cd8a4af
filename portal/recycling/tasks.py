from celery import shared_task

from portal.recycling.checks import number_check_audit_flush as flush
from portal.recycling.uploads import number_event_upload_process
from portal.recycling.uploads import number_event_uploads_sweep as sweep


@shared_task(name="portal.tasks.number_check_audit_flush")
def number_check_audit_flush() -> int:
    return flush()


@shared_task(acks_late=True, name="portal.tasks.number_event_upload_run")
def number_event_upload_run(upload_id: int) -> None:
    """Read a carrier's CSV upload for a while, then queue the rest (idempotent: the row says where to go on)."""
    if number_event_upload_process(upload_id=upload_id):
        number_event_upload_run.delay(upload_id)


@shared_task(name="portal.tasks.number_event_uploads_sweep")
def number_event_uploads_sweep() -> int:
    return sweep()
