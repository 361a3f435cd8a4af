from django.conf import settings

from portal.sms.models import SmsMessage


def sms_outbox(*, limit: int = 50):
    return SmsMessage.objects.order_by("-created_at", "-pk")[:limit]


def sms_outbox_shows_text() -> bool:
    """Message texts (codes) are shown only by the development outbox backend, never in production."""
    return settings.SMS_BACKEND.endswith(".DatabaseBackend")
