from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from portal.core.enqueue import enqueue
from portal.core.errors import SmsDeliveryError
from portal.core.phone import normalize_phone
from portal.sms.backends import get_backend
from portal.sms.models import SmsMessage


def sms_send(*, phone_number: str, text: str, purpose: str = "other") -> SmsMessage:
    """Record an SMS and deliver it in the background once the caller's transaction commits."""

    message = SmsMessage.objects.create(phone_number=normalize_phone(phone_number), text=text, purpose=purpose)
    enqueue("portal.tasks.sms_deliver", message.pk)
    return message


class SmsRetry(Exception):
    """Delivery failed but may be tried again."""


def sms_deliver_now(*, message_id: int, final_attempt: bool) -> SmsMessage:
    """Hand one queued message to the backend. Idempotent: a message already sent is left alone."""
    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().get(pk=message_id)
        if message.status != SmsMessage.Status.QUEUED:
            return message
        message.attempts += 1
        message.save(update_fields=["attempts"])
    backend = get_backend()
    try:
        provider_id = backend.send(phone_number=message.phone_number, text=message.text, reference=str(message.pk))
    except SmsDeliveryError as error:
        message.last_error = message.without_code(str(error))[:500]
        message.backend = backend.name
        if final_attempt:
            message.status = SmsMessage.Status.FAILED
            message.text = message.without_code(message.text)  # never sent again: the code may go
        message.save(update_fields=["last_error", "backend", "status", "text"])
        if not final_attempt:
            raise SmsRetry(message.last_error) from error
        return message
    message.status = SmsMessage.Status.SENT
    message.backend = backend.name
    message.provider_id = provider_id
    message.sent_at = timezone.now()
    message.last_error = ""
    if not backend.keeps_text:  # the provider has the code now; whoever reads the database must not
        message.text = message.without_code(message.text)
    message.save(update_fields=["status", "backend", "provider_id", "sent_at", "last_error", "text"])
    return message


def sms_resend_stuck(*, older_than_seconds: int = 120) -> int:
    """Nudge again every message still queued after a while; delivery is idempotent."""

    since = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        SmsMessage.objects.filter(status=SmsMessage.Status.QUEUED, created_at__lt=since).values_list("pk", flat=True)
    )
    for message_id in ids:
        enqueue("portal.tasks.sms_deliver", message_id, after_commit=False)
    return len(ids)
