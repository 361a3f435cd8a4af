"""Celery tasks for bulk check files: thin, idempotent (the row says where to go on), names pinned."""

from celery import shared_task

from portal.bulkcheck import services


@shared_task(name="portal.bulk_check_file_run", acks_late=True)
def bulk_check_file_run(file_id: int) -> None:
    """Check a file for a while, then queue the rest."""
    if services.bulk_check_file_process(file_id=file_id):
        bulk_check_file_run.delay(file_id)


@shared_task(name="portal.bulk_check_file_audit", acks_late=True)
def bulk_check_file_audit(file_id: int) -> None:
    """Write a checked file's audit trail (who checked which number, hashed) for a while, then queue the rest."""
    if services.bulk_check_file_audit_process(file_id=file_id):
        bulk_check_file_audit.delay(file_id)


@shared_task(name="portal.bulk_check_files_sweep")
def bulk_check_files_sweep() -> int:
    return services.bulk_check_files_sweep()


@shared_task(name="portal.bulk_check_files_purge")
def bulk_check_files_purge() -> int:
    return services.bulk_check_files_purge()
