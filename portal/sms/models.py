import re

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.core.phone import mask_phone

SMS_CODE = re.compile(r"(?<![0-9])[0-9]{4,8}(?![0-9])")  # a code in an SMS text (the minutes next to it are shorter)


class SmsMessage(models.Model):
    """One SMS, from the moment it is asked for until the provider took it (or gave up)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    class Purpose(models.TextChoices):
        VERIFICATION_CODE = "verification_code", _("verification code")
        LOOKUP_SUMMARY = "lookup_summary", _("lookup summary")
        UNBIND = "unbind", _("unbind request")
        COMPLAINT = "complaint", _("complaint")
        OTHER = "other", _("other")

    # Kept only as long as delivery needs it; the retention job of the lookup issue purges old rows.
    phone_number = models.CharField(_("phone number"), max_length=11)
    text = models.TextField(_("text"))
    purpose = models.CharField(_("purpose"), max_length=32, choices=Purpose.choices, default=Purpose.OTHER)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    backend = models.CharField(_("backend"), max_length=32, blank=True)
    provider_id = models.CharField(_("provider message id"), max_length=100, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS messages")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.masked_phone_number} {self.get_purpose_display()}"

    @property
    def masked_phone_number(self) -> str:
        return mask_phone(self.phone_number)

    def without_code(self, value: str) -> str:
        """`value` (the text, a provider's error quoting it) with a verification code blanked: the code
        stays readable only until a provider has the message."""
        return SMS_CODE.sub("******", value) if self.purpose == self.Purpose.VERIFICATION_CODE else value
