"""Every action a carrier takes on a number for its subscriber, with who attested the subscriber: the
row is the audit trail administrators read, the truth about the action's progress and its callback,
and what the renewal statistics count."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.phone import mask_phone


class CarrierAction(models.Model):
    class Kind(models.TextChoices):
        LOOKUP = "lookup", _("lookup")
        RENEWAL = "renewal", _("renewal")
        HISTORY = "history", _("recycling history")

    class Channel(models.TextChoices):
        APP = "app", _("carrier app")
        COUNTER = "counter", _("counter")

    class Via(models.TextChoices):
        API = "api", _("carrier API")
        CONSOLE = "console", _("counter console")

    class State(models.TextChoices):
        RUNNING = "running", _("running")
        COMPLETED = "completed", _("completed")

    class Callback(models.TextChoices):
        NONE = "", _("none")
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    organisation_field = "carrier"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    carrier = models.ForeignKey(
        "registry.Organisation", verbose_name=_("carrier"), on_delete=models.PROTECT, related_name="carrier_actions"
    )
    kind = models.CharField(_("action"), max_length=16, choices=Kind.choices)
    # the attestation: how the carrier verified its subscriber, its own reference for the staff member or
    # the app session, and when
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    reference = models.CharField(_("carrier's reference"), max_length=64)
    verified_at = models.DateTimeField(_("subscriber verified at"))
    via = models.CharField(_("via"), max_length=16, choices=Via.choices)
    key_id = models.CharField(_("key"), max_length=64, blank=True)  # the API key that signed
    integration = models.ForeignKey(
        "registry.Integration",
        verbose_name=_("integration"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    # the number: in clear until the lookups' retention ends (carrier_actions_purge), then only the counts stay
    phone_hash = models.CharField(max_length=64, db_index=True, blank=True)
    phone_number = models.CharField(_("phone number"), max_length=11, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    # a lookup's Lookup, or the renewal's (origin carrier_renewal), whose unbind requests it made
    lookup = models.OneToOneField(
        "portal.Lookup", null=True, blank=True, on_delete=models.SET_NULL, related_name="carrier_action"
    )
    holder_since = models.DateField(_("holder since"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.RUNNING)
    deadline_at = models.DateTimeField(_("deadline"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    apps_total = models.PositiveIntegerField(_("apps"), default=0)
    apps_done = models.PositiveIntegerField(_("apps done"), default=0)
    apps_refused = models.PositiveIntegerField(_("apps refused"), default=0)
    callback_url = models.URLField(_("callback URL"), max_length=500, blank=True)
    callback_state = models.CharField(_("callback"), max_length=16, choices=Callback.choices, blank=True, default="")
    callback_attempts = models.PositiveSmallIntegerField(default=0)
    callback_next_at = models.DateTimeField(null=True, blank=True)
    callback_error = models.CharField(max_length=300, blank=True)
    holder_sms_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "portal"
        verbose_name = _("carrier action")
        verbose_name_plural = _("carrier actions")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["carrier", "kind", "-created_at"]),
            models.Index(fields=["state", "kind"]),
            models.Index(fields=["callback_state", "callback_next_at"]),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.public_id}"

    @property
    def masked_phone_number(self) -> str:
        return mask_phone(self.phone_number) if self.phone_number else "***"

    @property
    def within_deadline(self) -> bool | None:
        if self.completed_at is None or self.deadline_at is None:
            return None
        return self.completed_at <= self.deadline_at
