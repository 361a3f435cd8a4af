"""SMS backends. `send` delivers one message or raises SmsDeliveryError; it returns the provider's id."""

import logging

import httpx
from django.conf import settings
from django.utils.module_loading import import_string

from portal.core.errors import SmsDeliveryError
from portal.core.phone import to_e164

logger = logging.getLogger(__name__)


class BaseBackend:
    name = "base"
    # The development outbox is where the text is read, so it keeps it; a real provider has the message
    # once `send` returns, and the portal's copy of a code is then redacted (SmsMessage.without_code).
    keeps_text = False

    def send(self, *, phone_number: str, text: str, reference: str) -> str:
        raise NotImplementedError


class DatabaseBackend(BaseBackend):
    """Development: the row is the delivery. Staff read it on the SMS outbox page or with
    `manage.py sms_outbox`."""

    name = "outbox"
    keeps_text = True

    def send(self, *, phone_number: str, text: str, reference: str) -> str:
        return f"outbox-{reference}"


class HttpBackend(BaseBackend):
    """A real provider reached over HTTPS: POST JSON {to, text, reference}, bearer token, and a 2xx
    answer with the provider's message id as `id`."""

    name = "http"

    def send(self, *, phone_number: str, text: str, reference: str) -> str:
        if not settings.SMS_HTTP_URL:
            raise SmsDeliveryError("SMS_HTTP_URL is not set")
        try:
            response = httpx.post(
                settings.SMS_HTTP_URL,
                json={"to": to_e164(phone_number), "text": text, "reference": reference},
                headers={"Authorization": f"Bearer {settings.SMS_HTTP_TOKEN}"} if settings.SMS_HTTP_TOKEN else {},
                timeout=settings.SMS_HTTP_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as error:
            raise SmsDeliveryError(f"provider unreachable: {error.__class__.__name__}: {error}") from error
        if not response.is_success:
            raise SmsDeliveryError(f"provider answered HTTP {response.status_code}: {response.text[:200]}")
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError) as error:
            raise SmsDeliveryError(f"provider answer without an id: {response.text[:200]}") from error


def get_backend() -> BaseBackend:
    return import_string(settings.SMS_BACKEND)()
