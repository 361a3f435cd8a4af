import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.crypto import decrypt_cached
from portal.recycling.models import NumberEvent


class NoticeSubscription(models.Model):
    """A member app's webhook for recycled-number notices (二次号码焕新): where to send, which event
    types, and the secret the notices are signed with (shown once, encrypted at rest).

    `notified_up_to` is the cursor: every event with an id up to it has its deliveries planned."""

    organisation_field = "app__organisation"

    app = models.OneToOneField(
        "registry.MemberApp", verbose_name=_("app"), on_delete=models.CASCADE, related_name="notice_subscription"
    )
    webhook_url = models.URLField(_("webhook URL"), max_length=500)
    event_types = models.CharField(_("event types"), max_length=100, help_text=_("Separated by spaces."))
    key_id = models.CharField(_("key id"), max_length=64, unique=True)
    secret_encrypted = models.TextField(_("secret (encrypted)"), editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    notified_up_to = models.BigIntegerField(default=0)
    # The endpoint's health (portal/notices/replay.py, outcomes.py): failing since its first failure after its last
    # success; disabled by the portal after NOTICE_DISABLE_AFTER_DAYS of failures (or a 410), until staff
    # re-enable it; its staff are e-mailed once (mailed_at).
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    disabled_reason = models.CharField(_("why it was disabled"), max_length=300, blank=True)
    disabled_mailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notice subscription")
        verbose_name_plural = _("notice subscriptions")

    def __str__(self):
        return f"{self.app} → {self.webhook_url}"

    @property
    def types(self) -> list[str]:
        return self.event_types.split()

    def type_labels(self) -> list[str]:
        return [str(NumberEvent.Type(t).label) for t in self.types if t in NumberEvent.Type.values]

    def secret(self) -> str:

        return decrypt_cached(self.secret_encrypted)


class NoticeDelivery(models.Model):
    """One notice to one app: the carriers' events with ids in (after_event_id, up_to_event_id] of the
    subscribed types, as one CloudEvent. The row is the truth about its delivery; its id is the
    CloudEvent id (the same on every attempt, so a member can drop repeats)."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        PARKED = "parked", _("parked")

    organisation_field = "subscription__app__organisation"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(NoticeSubscription, on_delete=models.CASCADE, related_name="deliveries")
    after_event_id = models.BigIntegerField()
    up_to_event_id = models.BigIntegerField()
    event_types = models.CharField(max_length=100)
    numbers = models.PositiveIntegerField(_("numbers"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    max_attempts = models.PositiveSmallIntegerField(default=0)  # raised by a re-send
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    parked_at = models.DateTimeField(_("parked at"), null=True, blank=True)
    bindings_removed = models.PositiveIntegerField(_("bindings removed"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)
    # A replay staff asked for (portal/notices/replay.py, outcomes.py): due then (claimed: moved on while it is sent),
    # None when none is waiting; who asked goes on its attempt.
    replay_due_at = models.DateTimeField(null=True, blank=True)
    replay_requested_by = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["up_to_event_id", "after_event_id"]),
            models.Index(
                fields=["replay_due_at"], condition=models.Q(replay_due_at__isnull=False), name="notice_replay_due"
            ),
        ]

    def __str__(self):
        return str(self.id)


class NoticeAttempt(models.Model):
    """One HTTP attempt at a notice: what staff look at when a member says "we never got it"."""

    organisation_field = "delivery__subscription__app__organisation"

    delivery = models.ForeignKey(NoticeDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("time"))
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    replay = models.BooleanField(_("replay"), default=False)
    requested_by = models.CharField(_("requested by"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("notice attempt")
        verbose_name_plural = _("notice attempts")
        ordering = ["delivery", "number"]
