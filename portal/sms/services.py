from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from portal.core.enqueue import enqueue
from portal.core.errors import SmsDeliveryError
from portal.core.phone import normalize_phone
from portal.sms.backends import get_backend
from portal.sms.models import SmsMessage


def sms_send(*, phone_number: str, text: str, purpose: str = "other") -> SmsMessage:
    """Record an SMS and deliver it in the background once the caller's transaction commits. A broker that
    refuses the message leaves it queued for sms_resend_stuck; only for a verification code is the refusal
    raised, so the person waiting for it is told (503) rather than shown a code step with no code coming."""
    message = SmsMessage.objects.create(phone_number=normalize_phone(phone_number), text=text, purpose=purpose)
    code = purpose == SmsMessage.Purpose.VERIFICATION_CODE
    enqueue("portal.tasks.sms_deliver", message.pk, required=code)
    return message


class SmsRetry(Exception):
    """Delivery failed but may be tried again."""


def sms_deliver_now(*, message_id: int, final_attempt: bool) -> SmsMessage:
    """Hand one queued message to the backend. Idempotent, and one delivery at a time: the row stays
    locked while the provider is called, so a second nudge (the sweeper's, a second beat's, a retry)
    skips it rather than sending it again; a delivery killed mid-call leaves it queued."""
    backend, failure = get_backend(), None
    with transaction.atomic():
        message = SmsMessage.objects.select_for_update(skip_locked=True).filter(pk=message_id).first()
        if message is None or message.status != SmsMessage.Status.QUEUED:  # being sent right now, or done
            return message or SmsMessage.objects.get(pk=message_id)
        message.attempts += 1
        message.backend = backend.name
        try:
            provider_id = backend.send(phone_number=message.phone_number, text=message.text, reference=str(message.pk))
        except SmsDeliveryError as error:
            failure = error
            message.last_error = message.without_code(str(error))[:500]
            if final_attempt:
                message.status = SmsMessage.Status.FAILED
                message.text = message.without_code(message.text)  # never sent again: the code may go
        else:
            message.status = SmsMessage.Status.SENT
            message.provider_id = provider_id
            message.sent_at = timezone.now()
            message.last_error = ""
            if not backend.keeps_text:  # the provider has the code now; whoever reads the database must not
                message.text = message.without_code(message.text)
        message.save(update_fields=["attempts", "status", "backend", "provider_id", "sent_at", "last_error", "text"])
    if failure is not None and not final_attempt:
        raise SmsRetry(message.last_error) from failure
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
