"""The periodic side of complaints: deadlines escalate, quiet cases close, personal data goes after its retention."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from complaints.models import Complaint, ComplaintEvent
from complaints.services import SYSTEM, record_change

State = Complaint.State


def complaint_deadlines_enforce(*, now=None) -> dict:
    """Mark late answers untimely and escalate what the platform left unanswered (15 days for an answer,
    60 for a final one), telling the holder; close answered cases whose feedback window has ended.
    Idempotent: each case moves once."""
    now = now or timezone.now()
    counts = {"escalated": 0, "closed": 0}
    overdue = Complaint.objects.filter(state=State.SENT, answer_due_at__lt=now) | Complaint.objects.filter(
        state=State.IN_PROGRESS, final_due_at__lt=now
    )
    for pk in overdue.values_list("pk", flat=True):
        with transaction.atomic():
            complaint = Complaint.objects.select_for_update().get(pk=pk)
            late_first = complaint.state == State.SENT and complaint.answer_due_at < now
            late_final = complaint.state == State.IN_PROGRESS and complaint.final_due_at < now
            if not (late_first or late_final):  # answered meanwhile
                continue
            record_change(
                complaint,
                by=SYSTEM,
                action="escalated",
                changes={"state": State.ESCALATED, "escalated_at": now, "timely": False},
                note=_("No answer within %(days)d days.") % {"days": settings.COMPLAINT_ANSWER_DAYS}
                if late_first
                else _("No final answer within %(days)d days.") % {"days": settings.COMPLAINT_FINAL_DAYS},
                tell_holder=_(
                    "%(app)s did not answer complaint %(reference)s in time. It has been escalated to the working "
                    "group."
                )
                % {"app": complaint.app, "reference": complaint.reference},
            )
            counts["escalated"] += 1
    window = now - timedelta(days=settings.COMPLAINT_FEEDBACK_DAYS)
    for pk in Complaint.objects.filter(state=State.ANSWERED, answered_at__lt=window).values_list("pk", flat=True):
        with transaction.atomic():
            complaint = Complaint.objects.select_for_update().get(pk=pk)
            if complaint.state != State.ANSWERED:
                continue
            record_change(
                complaint,
                by=SYSTEM,
                action="closed",
                changes={"state": State.CLOSED, "closed_at": now},
                note=_("No feedback within %(days)d days.") % {"days": settings.COMPLAINT_FEEDBACK_DAYS},
                for_holder=True,
            )
            counts["closed"] += 1
    return counts


def complaint_purge(*, now=None) -> int:
    """Remove the personal details of cases closed longer ago than the retention period; the counted
    fields stay for statistics."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.COMPLAINT_RETENTION_DAYS)
    purged = 0
    for complaint in Complaint.objects.filter(closed_at__lt=cutoff, purged_at__isnull=True).iterator():
        with transaction.atomic():
            for evidence in complaint.evidence.all():
                evidence.file.delete(save=False)
                evidence.delete()
            Complaint.objects.filter(pk=complaint.pk).update(
                phone_hash="",
                phone_encrypted="",
                email_encrypted="",
                description="",
                desired_outcome="",
                answer_text="",
                feedback_comment="",
                purged_at=now,
            )
            ComplaintEvent.objects.filter(complaint=complaint).update(note="")
        purged += 1
    return purged
