"""Reads for complaints. Staff and members' systems get their rows only through `scope_for_user`."""

import uuid

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from complaints.models import Complaint, Evidence
from complaints.services import TRIAGE_STATES
from portal.models import UnbindRequest
from portal.phone import normalize_phone
from portal.privacy import keyed_hash
from portal.selectors import carrier_for_number, unbind_requests_for_holder
from registry.models import MemberApp, Organisation
from registry.scoping import scope_for_user


def complaint_list_for_user(*, user, filters: dict | None = None) -> QuerySet:
    """The complaints a staff user (or a member's system) may see, filtered. `queue` is one of: triage
    (waiting for the working group), escalated, open (awaiting the platform), late, closed."""
    filters = filters or {}
    queryset = scope_for_user(Complaint.objects.select_related("app", "organisation", "carrier"), user)
    queue = filters.get("queue")
    if queue == "triage":
        queryset = queryset.filter(state__in=TRIAGE_STATES)
    elif queue == "escalated":
        queryset = queryset.filter(state=Complaint.State.ESCALATED)
    elif queue == "open":
        queryset = queryset.filter(state__in=Complaint.AWAITING_PLATFORM)
    elif queue == "late":
        queryset = queryset.filter(timely=False)
    elif queue == "closed":
        queryset = queryset.filter(state__in=(Complaint.State.CLOSED, Complaint.State.REJECTED))
    for field in ("state", "category", "province"):
        if filters.get(field):
            queryset = queryset.filter(**{field: filters[field]})
    if filters.get("app"):
        queryset = queryset.filter(app_id=filters["app"])
    if filters.get("received_from"):
        queryset = queryset.filter(received_at__date__gte=filters["received_from"])
    if filters.get("received_to"):
        queryset = queryset.filter(received_at__date__lte=filters["received_to"])
    if filters.get("reference"):
        queryset = queryset.filter(reference__icontains=filters["reference"].strip())
    return queryset


def complaint_for_user(*, user, reference: str) -> Complaint:
    try:
        return complaint_list_for_user(user=user).get(reference=reference)
    except Complaint.DoesNotExist:
        raise Http404 from None


def complaint_by_reference_and_number(*, reference: str, phone_number: str) -> Complaint | None:
    """The holder's own complaint: the reference and the number must both match."""
    return Complaint.objects.filter(
        reference=reference.strip().upper(), phone_hash=keyed_hash("phone", normalize_phone(phone_number)), purged_at__isnull=True
    ).first()


def complaint_timeline_for_holder(*, complaint: Complaint) -> list:
    """One line per step (a step that changed several fields has one history row per field)."""
    steps, seen = [], set()
    for event in complaint.events.filter(for_holder=True):
        if (event.at, event.action) not in seen:
            seen.add((event.at, event.action))
            steps.append(event)
    return steps


def complaint_timeline(*, complaint: Complaint) -> QuerySet:
    return complaint.events.all()


def complaint_shows_narrative(*, complaint: Complaint, user) -> bool:
    """Member staff see the description and the evidence only if the holder agreed to share them."""
    return bool(getattr(user, "is_administrator", False) or complaint.consent_to_share)


def evidence_for_user(*, user, evidence_id) -> Evidence:
    try:
        evidence = scope_for_user(Evidence.objects.select_related("complaint"), user).get(pk=evidence_id)
    except (Evidence.DoesNotExist, ValueError):
        raise Http404 from None
    if not complaint_shows_narrative(complaint=evidence.complaint, user=user):
        raise Http404
    return evidence


def evidence_for_holder(*, complaint_ids: list, evidence_id) -> Evidence:
    try:
        return Evidence.objects.select_related("complaint").get(pk=evidence_id, complaint_id__in=complaint_ids)
    except (Evidence.DoesNotExist, ValueError):
        raise Http404 from None


def complaint_respondent_apps() -> QuerySet:
    """Member apps a holder can name: every app of an active or suspended member, by category."""
    return (
        MemberApp.objects.select_related("organisation")
        .filter(organisation__status__in=("active", "suspended"))
        .exclude(organisation__kind__in=Organisation.CARRIER_KINDS)
        .order_by("category", "name")
    )


def complaint_carriers() -> QuerySet:
    return Organisation.objects.filter(kind__in=Organisation.CARRIER_KINDS, status="active").order_by("legal_name")


def complaint_counts_for_user(*, user) -> dict:
    now = timezone.now()
    return complaint_list_for_user(user=user).aggregate(
        triage=Count("pk", filter=Q(state__in=TRIAGE_STATES)),
        open=Count("pk", filter=Q(state__in=Complaint.AWAITING_PLATFORM)),
        escalated=Count("pk", filter=Q(state=Complaint.State.ESCALATED)),
        overdue=Count("pk", filter=Q(state=Complaint.State.SENT, answer_due_at__lt=now)),
    )


EXPORT_COLUMNS = [
    "Complaint ID", "Date received", "Issue", "App", "Carrier", "Province", "City", "State", "Date sent to company",
    "Answer due", "Company response", "Relief", "Date of final answer", "Timely response?", "Holder feedback",
    "Satisfaction", "Phone (masked)",
]


def complaint_export_rows(*, user, filters: dict | None = None):
    """Rows for a staff CSV export, streamed: no narrative, the number masked."""
    yield list(EXPORT_COLUMNS)
    queryset = complaint_list_for_user(user=user, filters=filters).order_by("received_at")
    for c in queryset.iterator(chunk_size=2000):
        yield [
            c.reference, timezone.localtime(c.received_at).isoformat(timespec="minutes"), c.category,
            str(c.app) if c.app_id else c.respondent_name, c.carrier.legal_name if c.carrier_id else "",
            c.get_province_display(), c.city, c.state,
            _date(c.sent_at), _date(c.answer_due_at), c.answer, c.relief, _date(c.answered_at),
            "" if c.timely is None else ("Yes" if c.timely else "No"), c.feedback, c.feedback_score or "",
            c.masked_phone_number,
        ]


def _date(value) -> str:
    return timezone.localtime(value).date().isoformat() if value else ""


def unbind_request_for_holder(*, phone_number: str, unbind_id):
    """The unbind request a complaint is filed from, if it was made for this holder's number."""
    try:
        public_id = uuid.UUID(str(unbind_id)) if unbind_id else None
    except ValueError:
        return None
    if public_id is None:
        return None
    phone_hash = keyed_hash("phone", normalize_phone(phone_number))
    return unbind_requests_for_holder(phone_hashes=[phone_hash], lookup_ids=[]).filter(public_id=public_id).first()


def complaint_prefill(*, phone_number: str, unbind_id=None) -> dict:
    """Initial values for the complaint form: the carrier that issued the number; filed from an unbind
    request that was refused or is overdue (and belongs to this number), the app, the category and a
    description are filled in too."""
    initial = {}
    carrier = carrier_for_number(phone_number)
    if carrier:
        initial["carrier"] = carrier.pk
    unbind = unbind_request_for_holder(phone_number=phone_number, unbind_id=unbind_id)
    if unbind is not None:
        what = (_("It refused: %(reason)s") % {"reason": unbind.refusal_reason} if unbind.state == UnbindRequest.State.REFUSED
                else _("It had not answered by the deadline, %(date)s.") % {"date": timezone.localdate(unbind.deadline_at).isoformat()})
        initial.update({
            "category": Complaint.Category.UNBIND_NOT_HANDLED,
            "app": unbind.app_id,
            "description": _("On %(date)s I asked %(app)s, through the portal, to unbind %(count)d account(s) registered under my "
                             "number before I got it (unbind request %(id)s). %(what)s") % {
                "date": timezone.localdate(unbind.created_at).isoformat(), "app": unbind.app.name,
                "count": unbind.accounts_count, "id": unbind.public_id, "what": what},
            "desired_outcome": _("Unbind the previous holder's accounts from my number."),
        })
    return initial
