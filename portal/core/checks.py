"""System checks that `manage.py check --deploy` reports for a deployment (docs/deployment.md)."""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.utils.module_loading import import_string


@register("portal", deploy=True)
def sms_backend_check(app_configs, **kwargs):
    """Production names its SMS provider: without one, no citizen gets a code, and the development outbox
    would keep every code readable in the database instead of sending it."""
    backend = settings.SMS_BACKEND
    if not backend:
        return [
            Error(
                "SMS_BACKEND is not set.",
                id="portal.E001",
                hint="Set SMS_BACKEND=portal.sms.backends.HttpBackend with SMS_HTTP_URL and SMS_HTTP_TOKEN.",
            )
        ]
    try:
        backend_class = import_string(backend)
    except ImportError as error:
        return [Error(f"SMS_BACKEND {backend!r} cannot be imported: {error}", id="portal.E002")]
    if getattr(backend_class, "keeps_text", False):
        return [
            Warning(
                f"SMS_BACKEND {backend!r} is the development outbox: it sends nothing and keeps codes readable.",
                id="portal.W001",
                hint="Set SMS_BACKEND=portal.sms.backends.HttpBackend.",
            )
        ]
    if backend.endswith(".HttpBackend") and not settings.SMS_HTTP_URL:
        return [Error("SMS_BACKEND is the HTTP provider but SMS_HTTP_URL is not set.", id="portal.E003")]
    return []
