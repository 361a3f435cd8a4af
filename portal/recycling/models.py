from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.progress import percent_done


class NumberEvent(models.Model):
    """What a carrier reported of one number: cancelled, re-assigned, ported out or in. The events of a
    number are its history; the latest re-assignment is when the current holder got it."""

    class Type(models.TextChoices):
        CANCELLED = "cancelled", _("cancelled")
        REASSIGNED = "reassigned", _("re-assigned")
        PORTED_OUT = "ported_out", _("ported out")
        PORTED_IN = "ported_in", _("ported in")

    FREEZE_DAYS = 90  # a cancelled number must rest this long before it is sold again
    organisation_field = "carrier"

    # A million rows a month arrive in batches of 10,000: no database foreign key, whose per-row check
    # cost a third of the insert (bench/ingest.py). The only writer is the ingest service with the
    # authenticated carrier, and PROTECT still stops the ORM deleting a carrier that reported events.
    # No index of its own either: the (carrier, event_id) constraint serves lookups by carrier.
    carrier = models.ForeignKey(
        "registry.Organisation",
        verbose_name=_("carrier"),
        on_delete=models.PROTECT,
        related_name="number_events",
        db_constraint=False,
        db_index=False,
    )
    event_id = models.CharField(_("event id"), max_length=100)
    phone_number = models.CharField(_("phone number"), max_length=11)
    type = models.CharField(_("type"), max_length=16, choices=Type.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    # set on a re-assignment that came sooner than FREEZE_DAYS after the number's last cancellation
    freeze_breach = models.BooleanField(_("freeze-period breach"), default=False)
    days_since_cancellation = models.PositiveIntegerField(_("days since cancellation"), null=True, blank=True)

    class Meta:
        verbose_name = _("number event")
        verbose_name_plural = _("number events")
        constraints = [
            models.UniqueConstraint(fields=["carrier", "event_id"], name="portal_number_event_once_per_carrier")
        ]
        indexes = [
            models.Index(fields=["phone_number", "occurred_at"]),
            # breaches per carrier: only the few flagged rows are indexed
            models.Index(
                fields=["carrier"], condition=models.Q(freeze_breach=True), name="portal_number_event_breaches"
            ),
        ]

    def __str__(self):
        return f"{self.event_id} {self.type}"


class NumberEventUpload(models.Model):
    """A carrier's monthly CSV file of number events, read in the background a chunk at a time through
    the same check and insert as the API. The row is the truth about how far it got: each chunk's
    events, rejected rows and counters commit together, so a worker that dies is replaced by one that
    resumes at `bytes_read` and nothing is stored twice."""

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("being read")
        COMPLETED = "completed", _("completed")
        FAILED = "failed", _("failed")

    organisation_field = "carrier"

    carrier = models.ForeignKey(
        "registry.Organisation",
        verbose_name=_("carrier"),
        on_delete=models.PROTECT,
        related_name="number_event_uploads",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    original_name = models.CharField(_("file name"), max_length=255)
    stored_name = models.CharField(max_length=64, help_text="the file's name in NUMBER_EVENT_UPLOAD_DIR")
    size_bytes = models.BigIntegerField(_("size (bytes)"))
    columns = models.JSONField(default=list, help_text="the four fields in the file's column order")
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    progress_at = models.DateTimeField(
        default=timezone.now, help_text="last committed chunk (the sweeper resumes stuck files)"
    )
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    bytes_read = models.BigIntegerField(default=0)
    lines_read = models.PositiveIntegerField(default=0)
    rows_read = models.PositiveIntegerField(_("rows read"), default=0)
    rows_accepted = models.PositiveIntegerField(_("rows accepted"), default=0)
    rows_duplicate = models.PositiveIntegerField(_("rows already received"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rows rejected"), default=0)
    freeze_breaches = models.PositiveIntegerField(_("freeze-period breaches"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("number event upload")
        verbose_name_plural = _("number event uploads")
        indexes = [models.Index(fields=["carrier", "-created_at"]), models.Index(fields=["state", "progress_at"])]

    def __str__(self):
        return self.original_name

    @property
    def is_done(self) -> bool:
        return self.state in (self.State.COMPLETED, self.State.FAILED)

    @property
    def percent(self) -> int:
        return percent_done(self.bytes_read, self.size_bytes, completed=self.state == self.State.COMPLETED)


class NumberEventUploadRejection(models.Model):
    """One refused row of an upload: its line in the file, why (a reason code, shown in the reader's
    language), and the row as it was given."""

    organisation_field = "upload__carrier"

    upload = models.ForeignKey(NumberEventUpload, on_delete=models.CASCADE, related_name="rejections")
    line = models.PositiveIntegerField(_("line"))
    code = models.CharField(max_length=20)
    detail = models.CharField(max_length=200, blank=True)
    row = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["upload", "line"], name="portal_upload_rejection_once_per_line")]


class NumberCheckAudit(models.Model):
    """Who checked which number, when, through which API, and what the portal answered: one row per number
    asked (a bulk call of 1,000 numbers makes 1,000 rows), as "who checked which number" must be answerable
    for each number. The number only as its keyed hash (the same as the lookups', so a number can be
    searched). Written in batches from a Redis buffer (services.number_check_audit_flush); the id comes with
    the record, so a batch written twice is stored once."""

    organisation_field = "organisation"

    class Api(models.TextChoices):
        CAMARA = "camara", _("CAMARA check")
        BULK = "bulk", _("Bulk check")
        FILE = "file", _("Bulk check file")

    class Answer(models.TextChoices):
        YES = "yes", _("changed hands since")
        NO = "no", _("not changed hands")
        NO_DATA = "no_data", _("no data")

    id = models.UUIDField(primary_key=True)
    checked_at = models.DateTimeField(_("checked at"), db_index=True)
    api = models.CharField(_("API"), max_length=10, choices=Api.choices)
    organisation = models.ForeignKey(
        "registry.Organisation", on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("organisation")
    )
    integration = models.ForeignKey(
        "registry.Integration", on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("integration")
    )
    key_id = models.CharField(_("key"), max_length=64)  # the client, kept when its integration goes
    phone_hash = models.CharField(_("number (keyed hash)"), max_length=64, db_index=True)
    specified_date = models.DateField(_("since"))
    answer = models.CharField(_("answer"), max_length=10, choices=Answer.choices)

    class Meta:
        verbose_name = _("number check")
        verbose_name_plural = _("number checks (audit trail)")
        ordering = ["-checked_at"]

    def __str__(self):
        return f"{self.get_api_display()} · {self.key_id} · {self.checked_at:%Y-%m-%d %H:%M:%S}"
