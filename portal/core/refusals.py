from django.utils import timezone


class Refusal(Exception):
    """A rule said no. `message` tells the citizen why and, with `retry_at`, when to try again."""

    def __init__(self, message: str, *, code: str, retry_at=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_at = retry_at


def local_time(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
