import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.phone import mask_phone


class Lookup(models.Model):
    """One citizen's 一证通查 lookup: one query row per member app, and the counts kept for statistics
    after the personal details are purged."""

    class State(models.TextChoices):
        RUNNING = "running", _("running")
        COMPLETED = "completed", _("completed")

    class Origin(models.TextChoices):
        CITIZEN = "citizen", _("the holder")
        CARRIER_LOOKUP = "carrier_lookup", _("the carrier, for its subscriber")
        # a renewal (portal/carrier/): no member is asked; the row holds the number for its unbind requests
        CARRIER_RENEWAL = "carrier_renewal", _("a carrier's renewal")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    origin = models.CharField(_("started by"), max_length=16, choices=Origin.choices, default=Origin.CITIZEN)
    phone_hash = models.CharField(max_length=64, db_index=True)
    phone_number = models.CharField(_("phone number"), max_length=11, blank=True)  # purged after retention
    holder_since = models.DateField(_("holder since"), null=True, blank=True)
    # what the number's carrier said of the ID characters: true / not_available, or skipped (no
    # carrier integration); a "false" stops the lookup before it is created
    identity_check = models.CharField(_("identity check"), max_length=16, blank=True)
    access_token_hash = models.CharField(max_length=64)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.RUNNING)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    summary_sms_sent_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    apps_total = models.PositiveIntegerField(default=0)
    apps_with_accounts = models.PositiveIntegerField(default=0)
    accounts_total = models.PositiveIntegerField(default=0)
    accounts_previous = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("lookup")
        verbose_name_plural = _("lookups")
        ordering = ["-created_at"]
        # admission.lookups_in_flight: the running ones are few at any time, whatever the table's size
        indexes = [
            models.Index(fields=["created_at"], condition=models.Q(state="running"), name="portal_lookup_running_idx")
        ]

    def __str__(self):
        return str(self.id)

    @property
    def masked_phone_number(self) -> str:
        return mask_phone(self.phone_number) if self.phone_number else "***"


class LookupQuery(models.Model):
    """One member app's part of a lookup: the row is the truth about that job."""

    class State(models.TextChoices):
        WAITING = "waiting", _("waiting")
        RUNNING = "running", _("asking")
        ANSWERED = "answered", _("has accounts")
        NO_ACCOUNT = "no_account", _("no account")
        ERROR = "error", _("error")
        TIMED_OUT = "timed_out", _("timed out")
        UNAVAILABLE = "unavailable", _("unavailable")

    SETTLED = (State.ANSWERED, State.NO_ACCOUNT, State.ERROR, State.TIMED_OUT, State.UNAVAILABLE)
    organisation_field = "app__organisation"

    lookup = models.ForeignKey(Lookup, on_delete=models.CASCADE, related_name="queries")
    app = models.ForeignKey(
        "registry.MemberApp", verbose_name=_("app"), on_delete=models.PROTECT, related_name="queries"
    )
    request_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # protocol v2: {challenge (sent to the member), expected (keyed hash of the portal's digest of the
    # holder's ID characters under it), key_id}; emptied once the row settles
    id_check = models.JSONField(default=dict, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.WAITING)
    error = models.CharField(_("error"), max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField()
    accounts = models.JSONField(
        default=list, blank=True
    )  # [{account_ref, registered_on, real_name_match, likely_previous}]; purged
    accounts_total = models.PositiveIntegerField(default=0)
    accounts_previous = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("lookup query")
        verbose_name_plural = _("lookup queries")
        indexes = [models.Index(fields=["state", "deadline_at"]), models.Index(fields=["app", "started_at"])]

    @property
    def is_settled(self) -> bool:
        return self.state in self.SETTLED
