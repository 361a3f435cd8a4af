"""Complaints from holders of recycled numbers (and previous holders), modelled on the 12300 rules and the
CFPB pipeline: filed by the holder, triaged by the working group, sent to the platform, answered within
15 days (final within 60), rated by the holder, escalated when nobody answers.

The personal details (number, e-mail, narrative, evidence) are purged after the retention period; the
fields regulators count (dates, category, app, carrier, province, answer, timeliness, feedback) stay."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.crypto import decrypt
from portal.phone import mask_phone
from portal.regions import Province


class Complaint(models.Model):
    class Category(models.TextChoices):
        DEBT_COLLECTION = "debt_collection", _("Debt collection SMS or calls meant for a previous holder")
        BANNED = "banned", _("Banned or restricted for a previous holder's conduct")
        CANNOT_REGISTER = "cannot_register", _("Cannot register or bind: “number already registered”")
        SOMEONE_ELSES_ACCOUNT = "someone_elses_account", _("Logged into someone else's account or saw their data")
        MARKETING = "marketing", _("Marketing or harassment calls meant for a previous holder")
        WRONG_TAG = "wrong_tag", _("Wrong tag on the number")
        PREVIOUS_HOLDER_LOSS = "previous_holder_loss", _("As a previous holder: money or data lost after the number was re-assigned")
        UNBIND_NOT_HANDLED = "unbind_not_handled", _("Unbind request not handled")
        OTHER = "other", _("Other")

    class State(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        SENT = "sent", _("Sent to the platform")
        IN_PROGRESS = "in_progress", _("Platform: in progress")
        ANSWERED = "answered", _("Platform answered")
        ESCALATED = "escalated", _("Escalated to the working group")
        CLOSED = "closed", _("Closed")

    class Answer(models.TextChoices):
        EXPLANATION = "closed_with_explanation", _("Closed with explanation")
        RELIEF = "closed_with_relief", _("Closed with relief")
        IN_PROGRESS = "in_progress", _("In progress")
        MISROUTED = "misrouted", _("Misrouted: not our user")

    class Relief(models.TextChoices):
        UNBOUND = "unbound", _("Account unbound from the number")
        BAN_LIFTED = "ban_lifted", _("Ban or restriction lifted")
        COLLECTION_STOPPED = "collection_stopped", _("Collection messages stopped")
        OTHER = "other", _("Other relief")

    class Feedback(models.TextChoices):
        SATISFIED = "satisfied", _("Rated")
        DISPUTED = "disputed", _("Disputed")

    # States in which the platform owes an answer.
    AWAITING_PLATFORM = (State.SENT, State.IN_PROGRESS, State.ESCALATED)

    organisation_field = "organisation"

    id = models.BigAutoField(primary_key=True)
    reference = models.CharField(_("reference"), max_length=20, unique=True)  # TS20261122-0001
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.SUBMITTED, db_index=True)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)

    # The respondent: a member app, or a named company that is not a member (handled by hand).
    app = models.ForeignKey(
        "registry.MemberApp", verbose_name=_("app"), on_delete=models.PROTECT, null=True, blank=True, related_name="complaints"
    )
    organisation = models.ForeignKey(
        "registry.Organisation", verbose_name=_("platform"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="complaints",
    )
    respondent_name = models.CharField(_("company named by the holder"), max_length=200, blank=True)
    carrier = models.ForeignKey(
        "registry.Organisation", verbose_name=_("carrier"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="complaints_as_carrier",
    )
    province = models.CharField(_("province"), max_length=2, choices=Province.choices)
    city = models.CharField(_("city"), max_length=50, blank=True)
    started_on = models.DateField(_("when it started"), null=True, blank=True)

    # Personal data: purged after the retention period (purged_at set).
    phone_hash = models.CharField(max_length=64, db_index=True)
    phone_encrypted = models.TextField(blank=True)
    email_encrypted = models.TextField(blank=True)
    description = models.TextField(_("what happened"), blank=True)
    desired_outcome = models.TextField(_("what the holder wants"), blank=True)
    consent_to_share = models.BooleanField(_("description may be shared with the platform"), default=False)
    purged_at = models.DateTimeField(null=True, blank=True)

    # Links: a likely duplicate points at the earlier case; a complaint filed from an overdue unbind request
    # keeps that request's id.
    duplicate_of = models.ForeignKey(
        "self", verbose_name=_("likely duplicate of"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="duplicates",
    )
    merged_into = models.ForeignKey(
        "self", verbose_name=_("merged into"), on_delete=models.SET_NULL, null=True, blank=True, related_name="merged"
    )
    unbind_request_id = models.UUIDField(_("unbind request"), null=True, blank=True)

    # What regulators count (kept after the purge).
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    rejected_reason = models.CharField(_("reason for rejection"), max_length=500, blank=True)
    sent_at = models.DateTimeField(_("sent to the platform"), null=True, blank=True)
    answer_due_at = models.DateTimeField(_("answer due"), null=True, blank=True)
    final_due_at = models.DateTimeField(_("final answer due"), null=True, blank=True)
    first_answer_at = models.DateTimeField(_("first answer"), null=True, blank=True)
    answered_at = models.DateTimeField(_("final answer"), null=True, blank=True)
    answer = models.CharField(_("platform's answer"), max_length=32, choices=Answer.choices, blank=True)
    relief = models.CharField(_("relief"), max_length=32, choices=Relief.choices, blank=True)
    answer_text = models.TextField(_("platform's explanation"), blank=True)
    timely = models.BooleanField(_("answered on time"), null=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    feedback = models.CharField(_("holder's feedback"), max_length=16, choices=Feedback.choices, blank=True)
    feedback_score = models.PositiveSmallIntegerField(_("satisfaction (1-5)"), null=True, blank=True)
    feedback_comment = models.CharField(_("holder's comment"), max_length=1000, blank=True)
    feedback_at = models.DateTimeField(_("feedback given"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["state", "answer_due_at"]),
            models.Index(fields=["organisation", "state"]),
            models.Index(fields=["phone_hash", "app", "category", "received_at"]),
        ]

    def __str__(self):
        return self.reference

    @property
    def phone_number(self) -> str:
        return decrypt(self.phone_encrypted) if self.phone_encrypted else ""

    @property
    def masked_phone_number(self) -> str:
        return mask_phone(self.phone_number) if self.phone_encrypted else "***"

    @property
    def email(self) -> str:
        return decrypt(self.email_encrypted) if self.email_encrypted else ""

    @property
    def respondent(self) -> str:
        return str(self.app) if self.app_id else self.respondent_name

    @property
    def is_member_case(self) -> bool:
        return self.app_id is not None

    @property
    def awaiting_platform(self) -> bool:
        return self.state in self.AWAITING_PLATFORM

    @property
    def days_left(self) -> int | None:
        """Whole days until the answer the platform owes next is due (negative when late)."""
        due = self.final_due_at if self.state == self.State.IN_PROGRESS else self.answer_due_at
        if not due or not self.awaiting_platform:
            return None
        return (timezone.localdate(due) - timezone.localdate()).days

    @property
    def days_overdue(self) -> int:
        return max(0, -(self.days_left or 0))

    @property
    def feedback_open_until(self):
        if self.state != self.State.ANSWERED or not self.answered_at:
            return None
        return self.answered_at + timedelta(days=settings.COMPLAINT_FEEDBACK_DAYS)


class ComplaintEvent(models.Model):
    """Every change to a complaint: who, when, what, the old and the new value. `for_holder` events are
    shown on the holder's page."""

    organisation_field = "complaint__organisation"

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    actor_label = models.CharField(max_length=200)  # "holder", "system", "Platform system (key id)", a staff e-mail
    action = models.CharField(max_length=32)
    field = models.CharField(max_length=50, blank=True)
    old_value = models.CharField(max_length=500, blank=True)
    new_value = models.CharField(max_length=500, blank=True)
    note = models.TextField(blank=True)
    for_holder = models.BooleanField(default=True)

    class Meta:
        ordering = ["at", "id"]
        # the statistics refresh finds the cases that changed since its last run by their history
        indexes = [models.Index(fields=["at"])]
        verbose_name = _("complaint event")
        verbose_name_plural = _("complaint events")


def evidence_storage():
    """Outside the web root (var/evidence by default) and with no URL: files are served by a view that
    checks who asks."""
    return FileSystemStorage(location=settings.COMPLAINT_EVIDENCE_DIR, base_url=None)


def evidence_path(instance, filename):
    # A random name: the holder's file name is kept in a field, never used as a path.
    return f"{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class Evidence(models.Model):
    """A file the holder attached (JPEG, PNG or PDF, checked by content), stored outside the web root and
    served only through a view that checks who asks."""

    organisation_field = "complaint__organisation"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(storage=evidence_storage, upload_to=evidence_path, max_length=200)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    original_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at"]
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")

    def __str__(self):
        return self.original_name


class ReferenceCounter(models.Model):
    """The day's last reference number, so references read as a date plus a sequence."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)


# --- Statistics rollups (complaints/statistics.py refreshes and reads them) ----------------------------------

def _rollup_fk(model: str):
    # No database constraint: a rollup is rebuilt from the case rows and never blocks a change to the registry.
    return models.ForeignKey(model, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+")


class ComplaintRollup(models.Model):
    """Complaints received in one day (or month) with what became of them, counted per combination of the
    five dimensions regulators filter by (province, category, state, platform, carrier). Merged duplicates
    are not counted. Rebuilt from the case rows for the days whose cases changed (`statistics_refresh`).

    A small cube: besides the rows with all five dimensions (`dims` = ALL_DIMS), every combination of at
    most two dimensions is kept pre-summed (`dims` = the bits of the dimensions kept; the others are ''
    or NULL), so a question about at most two dimensions reads a few rows a day, not one a case.
    `days_NN` counts the final answers given NN whole days after receipt (0-30), so a median can be read
    from sums."""

    DIM_BITS = {"province": 16, "category": 8, "state": 4, "organisation_id": 2, "carrier_id": 1}
    ALL_DIMS = 31
    ANSWER_DAY_COLUMNS = 31

    day = models.DateField()  # the month's first day in ComplaintMonth
    dims = models.PositiveSmallIntegerField()
    province = models.CharField(max_length=2)
    category = models.CharField(max_length=32)
    state = models.CharField(max_length=16)
    organisation = _rollup_fk("registry.Organisation")
    carrier = _rollup_fk("registry.Organisation")
    received = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)  # a final answer was given
    timely = models.PositiveIntegerField(default=0)  # answered on time
    untimely = models.PositiveIntegerField(default=0)  # answered late, or not at all by the deadline
    rated = models.PositiveIntegerField(default=0)  # the holder gave feedback
    satisfied = models.PositiveIntegerField(default=0)
    escalated = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


def _rollup_indexes(prefix: str) -> list:
    """Cube rows by (dims, day); the all-dimension rows, read when a question needs three or more
    dimensions, also by each dimension so filters combine with bitmap scans."""
    indexes = [models.Index(fields=["dims", "day"], name=f"{prefix}_dims_day"), models.Index(fields=["day"], name=f"{prefix}_day")]
    for dim in ("province", "category", "state", "organisation", "carrier"):
        indexes.append(models.Index(fields=[dim, "day"], name=f"{prefix}_{dim[:5]}_all", condition=models.Q(dims=31)))
    return indexes


class ComplaintDay(ComplaintRollup):
    class Meta:
        indexes = _rollup_indexes("cday")


class ComplaintMonth(ComplaintRollup):
    """The same counts a month at a time, for long periods; summed from ComplaintDay for the months whose
    days changed."""

    class Meta:
        indexes = _rollup_indexes("cmonth")


for _model in (ComplaintDay, ComplaintMonth):
    for _n in range(ComplaintRollup.ANSWER_DAY_COLUMNS):
        _model.add_to_class(f"days_{_n:02d}", models.PositiveIntegerField(default=0))


class LookupDay(models.Model):
    """Lookups started on one day: how many, how many found accounts, how many accounts."""

    day = models.DateField(primary_key=True)
    lookups = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    with_accounts = models.PositiveIntegerField(default=0)
    accounts = models.PositiveBigIntegerField(default=0)
    accounts_previous = models.PositiveBigIntegerField(default=0)


class LookupAppDay(models.Model):
    """Lookups that asked one member app on one day: the platform's size for complaints per 100,000 lookups."""

    day = models.DateField()
    app = _rollup_fk("registry.MemberApp")
    organisation = _rollup_fk("registry.Organisation")
    asked = models.PositiveIntegerField(default=0)
    with_accounts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["day"])]
