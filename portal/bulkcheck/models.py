import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.progress import percent_done


class BulkCheckFile(models.Model):
    """A member's file of `number,date` rows and its result. The row is the truth about how far it got:
    each chunk's answers (appended to the result file), audit rows and counters commit together, and the
    result file is cut back to `result_bytes` before a chunk is written, so a worker that dies is replaced
    by one that resumes at `bytes_read` and no answer is written twice. After `expires_at` the purge deletes
    both files; the row keeps only counts."""

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("being checked")
        COMPLETED = "completed", _("completed")
        FAILED = "failed", _("failed")

    class Via(models.TextChoices):
        CONSOLE = "console", _("member console")
        API = "api", _("API")

    organisation_field = "organisation"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        "registry.Organisation",
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="bulk_check_files",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    integration = models.ForeignKey(
        "registry.Integration", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    key_id = models.CharField(max_length=64, blank=True, help_text="the signing key of an API upload")
    via = models.CharField(max_length=10, choices=Via.choices)
    original_name = models.CharField(_("file name"), max_length=255)
    stored_name = models.CharField(max_length=64, help_text="the file's and its result's name in BULK_CHECK_FILE_DIR")
    size_bytes = models.BigIntegerField(_("size (bytes)"))
    rows_total = models.PositiveIntegerField(_("rows"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    expires_at = models.DateTimeField(_("deleted after"))
    progress_at = models.DateTimeField(
        default=timezone.now, help_text="last committed chunk (the sweeper resumes stuck files)"
    )
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    purged_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    bytes_read = models.BigIntegerField(default=0)
    lines_read = models.PositiveIntegerField(default=0)
    result_bytes = models.BigIntegerField(default=0)
    audit_bytes = models.BigIntegerField(default=0, help_text="how much of the result is in the audit trail")
    rows_done = models.PositiveIntegerField(_("rows checked"), default=0)
    rows_yes = models.PositiveIntegerField(_("changed hands"), default=0)
    rows_no = models.PositiveIntegerField(_("not changed hands"), default=0)
    rows_no_data = models.PositiveIntegerField(_("no data"), default=0)
    rows_invalid = models.PositiveIntegerField(_("bad rows"), default=0)
    bad_rows = models.JSONField(default=list, help_text="the first bad rows as [line, reason code]: no values")
    error = models.TextField(_("error"), blank=True)

    class Meta:
        app_label = "portal"
        verbose_name = _("bulk check file")
        verbose_name_plural = _("bulk check files")
        indexes = [
            models.Index(fields=["organisation", "-created_at"]),
            models.Index(fields=["state", "progress_at"]),
            models.Index(
                fields=["expires_at"], condition=models.Q(purged_at__isnull=True), name="portal_bulkcheck_to_purge"
            ),
        ]

    def __str__(self):
        return self.original_name

    @property
    def is_done(self) -> bool:
        return self.state in (self.State.COMPLETED, self.State.FAILED)

    @property
    def percent(self) -> int:
        return percent_done(self.rows_done, self.rows_total, completed=self.state == self.State.COMPLETED)
