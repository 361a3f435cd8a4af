import re
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker said it was alive; /healthz reads it.

    Kept in the database rather than asked of the broker, so it works the same with every broker and
    from any web instance.
    """

    hostname = models.CharField(_("worker"), max_length=255, unique=True)
    seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self):
        return self.hostname


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
        from portal.phone import mask_phone

        return mask_phone(self.phone_number)

    def without_code(self, value: str) -> str:
        """`value` (the text, a provider's error quoting it) with a verification code blanked: the code
        stays readable only until a provider has the message."""
        return SMS_CODE.sub("******", value) if self.purpose == self.Purpose.VERIFICATION_CODE else value


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

    def __str__(self):
        return str(self.id)

    @property
    def masked_phone_number(self) -> str:
        from portal.phone import mask_phone

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
    app = models.ForeignKey("registry.MemberApp", verbose_name=_("app"), on_delete=models.PROTECT, related_name="queries")
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
    accounts = models.JSONField(default=list, blank=True)  # [{account_ref, registered_on, real_name_match, likely_previous}]; purged
    accounts_total = models.PositiveIntegerField(default=0)
    accounts_previous = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("lookup query")
        verbose_name_plural = _("lookup queries")
        indexes = [models.Index(fields=["state", "deadline_at"]), models.Index(fields=["app", "started_at"])]

    @property
    def is_settled(self) -> bool:
        return self.state in self.SETTLED


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
        "registry.Organisation", verbose_name=_("carrier"), on_delete=models.PROTECT, related_name="number_events",
        db_constraint=False, db_index=False,
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
        constraints = [models.UniqueConstraint(fields=["carrier", "event_id"], name="portal_number_event_once_per_carrier")]
        indexes = [
            models.Index(fields=["phone_number", "occurred_at"]),
            # breaches per carrier: only the few flagged rows are indexed
            models.Index(fields=["carrier"], condition=models.Q(freeze_breach=True), name="portal_number_event_breaches"),
        ]

    def __str__(self):
        return f"{self.event_id} {self.type}"


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
    lookup = models.ForeignKey(Lookup, on_delete=models.CASCADE, related_name="unbind_requests")
    app = models.ForeignKey("registry.MemberApp", verbose_name=_("app"), on_delete=models.PROTECT, related_name="unbind_requests")
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
        settings.AUTH_USER_MODEL, verbose_name=_("answered by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
        from portal.crypto import decrypt_cached

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

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["up_to_event_id", "after_event_id"]),
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

    class Meta:
        verbose_name = _("notice attempt")
        verbose_name_plural = _("notice attempts")
        ordering = ["delivery", "number"]


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
        "registry.Organisation", verbose_name=_("carrier"), on_delete=models.PROTECT, related_name="number_event_uploads"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    original_name = models.CharField(_("file name"), max_length=255)
    stored_name = models.CharField(max_length=64, help_text="the file's name in NUMBER_EVENT_UPLOAD_DIR")
    size_bytes = models.BigIntegerField(_("size (bytes)"))
    columns = models.JSONField(default=list, help_text="the four fields in the file's column order")
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    progress_at = models.DateTimeField(default=timezone.now, help_text="last committed chunk (the sweeper resumes stuck files)")
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
        if self.state == self.State.COMPLETED:
            return 100
        return min(99, self.bytes_read * 100 // self.size_bytes) if self.size_bytes else 0


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

    class Answer(models.TextChoices):
        YES = "yes", _("changed hands since")
        NO = "no", _("not changed hands")
        NO_DATA = "no_data", _("no data")

    id = models.UUIDField(primary_key=True)
    checked_at = models.DateTimeField(_("checked at"), db_index=True)
    api = models.CharField(_("API"), max_length=10, choices=Api.choices)
    organisation = models.ForeignKey("registry.Organisation", on_delete=models.SET_NULL, null=True, related_name="+",
                                     verbose_name=_("organisation"))
    integration = models.ForeignKey("registry.Integration", on_delete=models.SET_NULL, null=True, related_name="+",
                                    verbose_name=_("integration"))
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


from portal.carrier.models import CarrierAction  # noqa: E402,F401  (the carrier front door's models, app "portal")
