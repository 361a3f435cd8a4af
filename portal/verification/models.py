from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class VerificationCode(models.Model):
    """A 6-digit SMS code proving a citizen holds a number. Neither the number nor the code is kept in
    clear: both are keyed hashes (portal.privacy)."""

    class Purpose(models.TextChoices):
        LOOKUP = "lookup", _("lookup")
        COMPLAINT = "complaint", _("complaint")
        UNBIND = "unbind", _("unbind requests")
        SECOND_HAND = "second_hand", _("second-hand check")

    phone_hash = models.CharField(max_length=64)
    client_hash = models.CharField(max_length=64)
    code_hash = models.CharField(max_length=64)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    wrong_tries = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("verification code")
        verbose_name_plural = _("verification codes")
        indexes = [
            models.Index(fields=["phone_hash", "created_at"]),
            models.Index(fields=["client_hash", "created_at"]),
        ]
