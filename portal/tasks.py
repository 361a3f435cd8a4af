import time

from celery import shared_task


@shared_task(bind=True, ignore_result=False)
def worker_identity(self, pause_seconds: float = 0.0) -> str:
    """Answers with the worker that ran it (deployment checks and the two-worker test)."""
    time.sleep(pause_seconds)
    return self.request.hostname


@shared_task(bind=True, max_retries=5, acks_late=True)
def sms_deliver(self, message_id: int) -> str:
    from portal.services import SmsRetry, sms_deliver_now

    try:
        message = sms_deliver_now(message_id=message_id, final_attempt=self.request.retries >= self.max_retries)
    except SmsRetry as error:
        # 2, 4, 8, 16, 32 s: a provider's short outage costs a delay, not the message.
        raise self.retry(exc=error, countdown=2 ** (self.request.retries + 1)) from error
    return message.status


@shared_task
def sms_resend_stuck() -> int:
    from portal.services import sms_resend_stuck as resend

    return resend()


@shared_task(name="portal.tasks.sessions_purge")
def sessions_purge() -> None:
    """Delete expired sessions (what `manage.py clearsessions` does), on beat's schedule."""
    from importlib import import_module

    from django.conf import settings

    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()


@shared_task(acks_late=True)
def lookup_queries_run(query_ids: list[int]) -> None:
    """Call a batch of member apps for their lookup rows (idempotent: settled rows are skipped)."""
    from portal import fanout

    fanout.run(query_ids)


@shared_task(acks_late=True)
def lookup_calls_run(sealed_specs: str) -> None:
    """The first attempt of a new lookup's calls (built by lookup_start), sealed with the field keys:
    the message carries no number in clear and no signing secret."""
    from portal import fanout

    fanout.run_specs(fanout.unseal_specs(sealed_specs))


@shared_task
def lookup_sweep() -> int:
    from portal.services import lookup_sweep as sweep

    return sweep()


@shared_task
def lookup_purge() -> int:
    from portal.services import lookup_purge as purge

    return purge()


@shared_task
def number_check_audit_flush() -> int:
    from portal.services import number_check_audit_flush as flush

    return flush()


@shared_task(bind=True, acks_late=True, max_retries=None)
def unbind_request_deliver(self, request_id: int) -> str:
    """Push one unbind request to its platform; the row counts the attempts and says when to stop."""
    from portal.services import UnbindRetry, unbind_deliver

    try:
        return unbind_deliver(request_id=request_id)
    except UnbindRetry as error:
        raise self.retry(exc=error, countdown=error.countdown) from error


@shared_task
def unbind_sweep() -> int:
    from portal.services import unbind_sweep as sweep

    return sweep()


@shared_task(acks_late=True)
def notices_plan() -> None:
    """Turn settled carrier events into notices; while newer events are settling, come back."""
    from portal import notices
    from portal.services import notices_plan_soon

    if notices.plan():
        notices_plan_soon()


@shared_task(acks_late=True)
def notices_deliver(delivery_ids: list[str]) -> None:
    """Send a group of notices concurrently (idempotent: delivered, parked or claimed rows are skipped)."""
    from portal import notices

    notices.run(delivery_ids)


@shared_task
def notices_sweep() -> int:
    from portal import notices
    from portal.notice_delivery import services as delivery

    return notices.sweep() + delivery.sweep()


@shared_task(name="portal.notice_replay", acks_late=True)
def notice_replay(delivery_id: str) -> bool:
    """Send a notice once more as staff asked (idempotent: the row says whether a replay is due)."""
    from portal.notice_delivery import services as delivery

    return delivery.replay_run(delivery_id)


@shared_task(name="portal.notice_endpoint_disabled_mail", acks_late=True)
def notice_endpoint_disabled_mail(subscription_id: int) -> int:
    """Tell an organisation's staff their notice webhook was disabled (once: the row says if it was)."""
    from portal.notice_delivery import services as delivery

    return delivery.disabled_mail_send(subscription_id)


@shared_task(acks_late=True)
def number_event_upload_run(upload_id: int) -> None:
    """Read a carrier's CSV upload for a while, then queue the rest (idempotent: the row says where to go on)."""
    from portal.services import number_event_upload_process

    if number_event_upload_process(upload_id=upload_id):
        number_event_upload_run.delay(upload_id)


@shared_task
def number_event_uploads_sweep() -> int:
    from portal.services import number_event_uploads_sweep as sweep

    return sweep()
