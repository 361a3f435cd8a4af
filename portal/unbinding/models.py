import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UnbindRequest(models.Model):
    """A holder's request that one member app remove the previous holder's bindings found by a lookup
    (一键解绑): one per lookup and app. The row is the truth about its delivery and its answer, and its
    timestamps are what statistics count (requests, answered, done within the deadline)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("waiting to be delivered")
        SENT = "sent", _("with the platform")
        DONE = "done", _("unbound")
        REFUSED = "refused", _("refused")

    class Delivery(models.TextChoices):
        PUSH = "push", _("sent to the platform (protocol v2)")
        PULL = "pull", _("fetched by the platform (pull queue)")

    OPEN = (State.QUEUED, State.SENT)
    organisation_field = "app__organisation"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # also the protocol's request_id
    lookup = models.ForeignKey("portal.Lookup", on_delete=models.CASCADE, related_name="unbind_requests")
    app = models.ForeignKey(
        "registry.MemberApp", verbose_name=_("app"), on_delete=models.PROTECT, related_name="unbind_requests"
    )
    delivery = models.CharField(_("delivery"), max_length=8, choices=Delivery.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    # [{account_ref, registered_on}] of the accounts likely the previous holder's; purged with the lookup
    accounts = models.JSONField(default=list, blank=True)
    accounts_count = models.PositiveIntegerField(_("accounts"), default=0)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now, db_index=True)
    deadline_at = models.DateTimeField(_("deadline"))
    sent_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    # who answered: "protocol" (the synchronous answer), "api" (the platform API), or "console" (staff)
    answered_via = models.CharField(_("answered via"), max_length=16, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    refusal_reason = models.CharField(_("reason for refusal"), max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(_("delivery attempts"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # null: no automatic delivery is due
    last_error = models.CharField(_("last delivery error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("unbind request")
        verbose_name_plural = _("unbind requests")
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["lookup", "app"], name="portal_unbind_once_per_lookup_app")]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["app", "state", "deadline_at"]),
        ]

    def __str__(self):
        return str(self.public_id)

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN

    @property
    def is_overdue(self) -> bool:
        """Not answered and past the deadline."""
        return self.is_open and timezone.now() > self.deadline_at

    @property
    def answered_on_time(self) -> bool:
        return self.answered_at is not None and self.answered_at <= self.deadline_at
