"""Writes for complaints: filing, triage, the platform's answer, the holder's feedback, deadlines, purge.

Every change goes through `_change`, which keeps the history (who, when, what, old and new value) and, when
it concerns the holder, tells them by SMS (and e-mail if they gave one)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from complaints.evidence import evidence_check, evidence_store
from complaints.models import Complaint, ComplaintEvent, ReferenceCounter
from portal.core.crypto import encrypt
from portal.core.phone import normalize_phone
from portal.core.privacy import keyed_hash
from portal.sms.services import sms_send

logger = logging.getLogger(__name__)

State = Complaint.State
Answer = Complaint.Answer


class NotAllowed(Exception):
    """The complaint is not in a state where this can be done; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- Who did it ------------------------------------------------------------------------------------------

HOLDER = "holder"
SYSTEM = "system"


def _actor(by) -> tuple:
    """(staff user or None, label) for the history: a staff user, a member's system, the holder, the system."""
    if by is None or by == SYSTEM:
        return None, SYSTEM
    if by == HOLDER:
        return None, HOLDER
    if getattr(by, "pk", None) and hasattr(by, "email"):
        return by, by.email
    return None, str(by)  # a member's system (signed API call)


def record_change(
    complaint: Complaint,
    *,
    by,
    action: str,
    changes: dict | None = None,
    note: str = "",
    for_holder: bool = True,
    tell_holder: str = "",
) -> None:
    """Apply `changes` to the complaint, save, and keep one history row per changed field (or one row
    for an action that changes nothing)."""
    user, label = _actor(by)
    now = timezone.now()
    rows = []
    for field, new in (changes or {}).items():
        old = getattr(complaint, field)
        setattr(complaint, field, new)
        if old != new:
            rows.append(
                ComplaintEvent(
                    complaint=complaint,
                    at=now,
                    actor=user,
                    actor_label=label,
                    action=action,
                    field=field,
                    old_value=_text(old),
                    new_value=_text(new),
                    note=note,
                    for_holder=for_holder,
                )
            )
    if changes:
        complaint.save(update_fields=list(changes))
    if not rows:
        rows.append(
            ComplaintEvent(
                complaint=complaint,
                at=now,
                actor=user,
                actor_label=label,
                action=action,
                note=note,
                for_holder=for_holder,
            )
        )
    ComplaintEvent.objects.bulk_create(rows)
    if tell_holder:
        notify_holder(complaint, tell_holder)


def _text(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return (
            timezone.localtime(value).isoformat(timespec="minutes")
            if hasattr(value, "tzinfo") and value.tzinfo
            else value.isoformat()
        )
    return str(getattr(value, "pk", value))[:500]


def notify_holder(complaint: Complaint, text: str) -> None:
    if not complaint.phone_encrypted:
        return
    sms_send(phone_number=complaint.phone_number, text=f"【码号服务】{text}", purpose="complaint")
    if complaint.email_encrypted:
        email = complaint.email
        transaction.on_commit(lambda: _send_email(email, complaint.reference, text))


def _send_email(address: str, reference: str, text: str) -> None:
    try:
        send_mail(f"码号服务门户 · 投诉 {reference}", text, None, [address])
    except Exception:  # the SMS went; a mail server's trouble must not undo the change
        logger.exception("complaint e-mail to holder failed for %s", reference)


# --- Evidence -------------------------------------------------------------------------------------------


# --- Filing ---------------------------------------------------------------------------------------------


def _reference_next() -> str:
    today = timezone.localdate()
    with transaction.atomic():
        counter, _created = ReferenceCounter.objects.select_for_update().get_or_create(day=today)
        counter.last += 1
        counter.save(update_fields=["last"])
    return f"TS{today:%Y%m%d}-{counter.last:04d}"


def _likely_duplicate(*, phone_hash: str, app, category: str) -> Complaint | None:
    if app is None:
        return None
    since = timezone.now() - timedelta(days=settings.COMPLAINT_DUPLICATE_DAYS)
    return (
        Complaint.objects.filter(
            phone_hash=phone_hash, app=app, category=category, received_at__gte=since, merged_into__isnull=True
        )
        .order_by("received_at")
        .first()
    )


@transaction.atomic
def complaint_file(
    *,
    phone_number: str,
    category: str,
    app=None,
    respondent_name: str = "",
    carrier=None,
    province: str,
    city: str = "",
    started_on=None,
    description: str,
    desired_outcome: str = "",
    consent_to_share: bool = False,
    email: str = "",
    evidence: list | None = None,
    evidence_types: list[str] | None = None,
    unbind_request_id=None,
) -> Complaint:
    """File a complaint for a holder whose number was proven by SMS code. A complaint about a member app
    that is not a likely duplicate is accepted and sent to the platform at once; duplicates and non-member
    respondents wait in the administrators' triage queue."""
    evidence = evidence or []
    # a form that checked the files passes the types it read; other callers are checked here
    content_types = evidence_types if evidence_types is not None else evidence_check(evidence)
    phone_number = normalize_phone(phone_number)
    phone_hash = keyed_hash("phone", phone_number)
    duplicate = _likely_duplicate(phone_hash=phone_hash, app=app, category=category)
    complaint = Complaint.objects.create(
        reference=_reference_next(),
        category=category,
        app=app,
        organisation=app.organisation if app else None,
        respondent_name="" if app else respondent_name.strip(),
        carrier=carrier,
        province=province,
        city=city.strip(),
        started_on=started_on,
        phone_hash=phone_hash,
        phone_encrypted=encrypt(phone_number),
        email_encrypted=encrypt(email.strip()) if email.strip() else "",
        description=description.strip(),
        desired_outcome=desired_outcome.strip(),
        consent_to_share=consent_to_share,
        duplicate_of=duplicate,
        unbind_request_id=unbind_request_id,
    )
    evidence_store(complaint, evidence, content_types)
    record_change(
        complaint,
        by=HOLDER,
        action="filed",
        note=_("Likely duplicate of %(reference)s.") % {"reference": duplicate.reference} if duplicate else "",
        tell_holder=_(
            "Complaint %(reference)s received. Follow it with this reference and your number at the portal. / "
            "Complaint %(reference)s received."
        )
        % {"reference": complaint.reference},
    )
    if app is not None and duplicate is None and app.organisation.status == "active":
        complaint_accept(complaint=complaint, by=SYSTEM)
    return complaint


# --- Triage (administrators) ----------------------------------------------------------------------------

# The states each action is allowed from; the staff page (views) and the triage queue (selectors) use them too.
ACCEPT_FROM = (State.SUBMITTED,)
TRIAGE_STATES = Complaint.TRIAGE_STATES
REROUTE_FROM = (*TRIAGE_STATES, *Complaint.AWAITING_PLATFORM)
CLOSE_FROM = (State.ACCEPTED, State.ESCALATED, State.SUBMITTED)


def _require(complaint: Complaint, states, message: str) -> None:
    if complaint.state not in states:
        raise NotAllowed(message)


def complaint_accept(*, complaint: Complaint, by) -> Complaint:
    """Accept a submitted complaint; one about a member app goes on to the platform at once."""
    _require(complaint, ACCEPT_FROM, _("Only a submitted complaint can be accepted."))
    record_change(complaint, by=by, action="accepted", changes={"state": State.ACCEPTED, "accepted_at": timezone.now()})
    if complaint.app_id:
        complaint_send(complaint=complaint, by=by)
    else:
        notify_holder(
            complaint,
            _("Complaint %(reference)s was accepted; the working group handles it. / Complaint accepted.")
            % {"reference": complaint.reference},
        )
    return complaint


def complaint_send(*, complaint: Complaint, by) -> Complaint:
    now = timezone.now()
    record_change(
        complaint,
        by=by,
        action="sent",
        changes={
            "state": State.SENT,
            "sent_at": now,
            "answer_due_at": now + timedelta(days=settings.COMPLAINT_ANSWER_DAYS),
            "final_due_at": now + timedelta(days=settings.COMPLAINT_FINAL_DAYS),
            "first_answer_at": None,
            "answered_at": None,
            "answer": "",
            "relief": "",
            "answer_text": "",
            "timely": None,
        },
        tell_holder=_(
            "Complaint %(reference)s was sent to %(app)s, which must answer within %(days)d days. / "
            "Complaint sent to the platform."
        )
        % {"reference": complaint.reference, "app": complaint.app, "days": settings.COMPLAINT_ANSWER_DAYS},
    )
    return complaint


def complaint_reject(*, complaint: Complaint, by, reason: str) -> Complaint:
    _require(complaint, TRIAGE_STATES, _("Only a complaint in triage can be rejected."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give the reason the holder will see."), code="reason_required")
    now = timezone.now()
    record_change(
        complaint,
        by=by,
        action="rejected",
        changes={"state": State.REJECTED, "rejected_reason": reason[:500], "closed_at": now},
        note=reason,
        tell_holder=_("Complaint %(reference)s was not accepted: %(reason)s")
        % {"reference": complaint.reference, "reason": reason[:200]},
    )
    return complaint


def complaint_reroute(*, complaint: Complaint, by, app) -> Complaint:
    """Send the complaint to another member app (a misrouted case, or one filed against the wrong app)."""
    _require(complaint, REROUTE_FROM, _("This complaint is closed or answered and cannot be re-routed."))
    record_change(
        complaint,
        by=by,
        action="rerouted",
        changes={"app": app, "organisation": app.organisation, "respondent_name": ""},
        for_holder=True,
    )
    if complaint.accepted_at is None:
        record_change(
            complaint, by=by, action="accepted", changes={"state": State.ACCEPTED, "accepted_at": timezone.now()}
        )
    return complaint_send(complaint=complaint, by=by)


def complaint_merge(*, complaint: Complaint, into: Complaint, by) -> Complaint:
    """Close a duplicate by merging it into the earlier case; nothing is deleted."""
    if into.pk == complaint.pk or into.merged_into_id:
        raise NotAllowed(_("Merge into a different complaint that was not merged itself."))
    _require(complaint, TRIAGE_STATES, _("Only a complaint in triage can be merged."))
    record_change(
        complaint,
        by=by,
        action="merged",
        changes={"state": State.CLOSED, "merged_into": into, "closed_at": timezone.now()},
        tell_holder=_(
            "Complaint %(reference)s is the same case as %(into)s and continues there. / Merged into %(into)s."
        )
        % {"reference": complaint.reference, "into": into.reference},
    )
    return complaint


def complaint_close(*, complaint: Complaint, by, note: str) -> Complaint:
    """The working group closes a case it handled itself (escalated, disputed, or a non-member respondent)."""
    _require(complaint, CLOSE_FROM, _("Only an escalated or accepted case can be closed by the working group."))
    note = (note or "").strip()
    if not note:
        raise ValidationError(_("Say what was done; the holder will see it."), code="note_required")
    record_change(
        complaint,
        by=by,
        action="closed",
        changes={"state": State.CLOSED, "closed_at": timezone.now()},
        note=note,
        tell_holder=_("Complaint %(reference)s was closed by the working group: %(note)s")
        % {"reference": complaint.reference, "note": note[:200]},
    )
    return complaint


# --- The platform's answer ------------------------------------------------------------------------------


@transaction.atomic
def complaint_answer(*, complaint: Complaint, by, answer: str, text: str, relief: str = "") -> Complaint:
    """The platform answers: in progress (final within 60 days), closed with explanation, closed with relief
    (which relief), or misrouted (back to the working group's triage)."""
    complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
    _require(complaint, Complaint.AWAITING_PLATFORM, _("This complaint is not waiting for the platform's answer."))
    if answer not in Answer.values:
        raise ValidationError(_("Choose one of the answers."), code="answer_invalid")
    if answer == Answer.IN_PROGRESS and complaint.state != State.SENT:
        raise NotAllowed(_("“In progress” was already answered; the next answer must be final."))
    text = (text or "").strip()
    if not text:
        raise ValidationError(_("Explain the answer; the holder will read it."), code="text_required")
    if answer == Answer.RELIEF and relief not in Complaint.Relief.values:
        raise ValidationError(_("Say which relief was given."), code="relief_required")
    now = timezone.now()
    changes = {"answer": answer, "answer_text": text[:5000], "relief": relief if answer == Answer.RELIEF else ""}
    if complaint.first_answer_at is None:
        changes["first_answer_at"] = now
        changes["timely"] = complaint.timely is not False and now <= complaint.answer_due_at
    if answer == Answer.IN_PROGRESS:
        changes["state"] = State.IN_PROGRESS
        message = _("%(app)s is working on complaint %(reference)s and must give a final answer by %(date)s.")
    elif answer == Answer.MISROUTED:
        changes["state"] = State.SUBMITTED
        message = _(
            "%(app)s says complaint %(reference)s is not about its user; the working group will route it again."
        )
    else:
        changes["state"] = State.ANSWERED
        changes["answered_at"] = now
        if complaint.final_due_at and now > complaint.final_due_at:
            changes["timely"] = False
        message = _(
            "%(app)s answered complaint %(reference)s. Read the answer and rate it at the portal within %(days)d days."
        )
    record_change(
        complaint,
        by=by,
        action="answered",
        changes=changes,
        note=text[:5000],
        tell_holder=message
        % {
            "app": complaint.app,
            "reference": complaint.reference,
            "days": settings.COMPLAINT_FEEDBACK_DAYS,
            "date": timezone.localdate(complaint.final_due_at).isoformat() if complaint.final_due_at else "",
        },
    )
    return complaint


# --- The holder's feedback ------------------------------------------------------------------------------


@transaction.atomic
def complaint_feedback(
    *, complaint: Complaint, score: int | None = None, dispute: bool = False, comment: str = ""
) -> Complaint:
    """Within 30 days of the final answer the holder rates it 1-5 (the case closes) or disputes it (the
    case escalates to the working group)."""
    complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
    _require(complaint, (State.ANSWERED,), _("Feedback can be given once the platform has answered."))
    if timezone.now() > complaint.feedback_open_until:
        raise NotAllowed(
            _("The %(days)d days for feedback on this answer have passed.") % {"days": settings.COMPLAINT_FEEDBACK_DAYS}
        )
    now = timezone.now()
    comment = (comment or "").strip()[:1000]
    if dispute:
        record_change(
            complaint,
            by=HOLDER,
            action="disputed",
            note=comment,
            changes={
                "feedback": Complaint.Feedback.DISPUTED,
                "feedback_comment": comment,
                "feedback_at": now,
                "state": State.ESCALATED,
                "escalated_at": now,
            },
            tell_holder=_("You disputed the answer to complaint %(reference)s; the working group will review it.")
            % {"reference": complaint.reference},
        )
        return complaint
    if score is None or not 1 <= int(score) <= 5:
        raise ValidationError(_("Choose a rating from 1 to 5."), code="score_invalid")
    record_change(
        complaint,
        by=HOLDER,
        action="rated",
        changes={
            "feedback": Complaint.Feedback.SATISFIED,
            "feedback_score": int(score),
            "feedback_comment": comment,
            "feedback_at": now,
            "state": State.CLOSED,
            "closed_at": now,
        },
    )
    return complaint


# --- Deadlines and retention (periodic) -----------------------------------------------------------------
