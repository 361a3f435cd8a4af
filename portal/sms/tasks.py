from celery import shared_task

from portal.core.backoff import backoff_seconds
from portal.sms.services import SmsRetry, sms_deliver_now
from portal.sms.services import sms_resend_stuck as resend


@shared_task(bind=True, max_retries=5, acks_late=True, name="portal.tasks.sms_deliver")
def sms_deliver(self, message_id: int) -> str:
    try:
        message = sms_deliver_now(message_id=message_id, final_attempt=self.request.retries >= self.max_retries)
    except SmsRetry as error:
        # 2, 4, 8, 16, 32 s: a provider's short outage costs a delay, not the message.
        raise self.retry(exc=error, countdown=backoff_seconds(self.request.retries + 1, base=2)) from error
    return message.status


@shared_task(name="portal.tasks.sms_resend_stuck")
def sms_resend_stuck() -> int:
    return resend()
