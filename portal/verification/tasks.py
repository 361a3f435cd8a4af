from importlib import import_module

from celery import shared_task
from django.conf import settings


@shared_task(name="portal.tasks.sessions_purge")
def sessions_purge() -> None:
    """Delete expired sessions (what `manage.py clearsessions` does), on beat's schedule."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
