from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.core.workdays import working_days_between
from portal.unbinding.models import UnbindRequest
from registry.models import Organisation
from registry.scoping import scope_for_user


def unbind_candidates(lookup) -> list:
    """The lookup's rows whose app found accounts likely to be the previous holder's, with the app."""
    return list(
        lookup.queries.filter(accounts_previous__gt=0, app__organisation__status=Organisation.Status.ACTIVE)
        .select_related("app__integration")
        .order_by("app__name")
    )


def unbind_complaint_url(unbind_request) -> str | None:
    """A complaint is offered, pre-filled, once the platform refused or let the deadline pass."""
    if unbind_request.state == unbind_request.State.REFUSED or unbind_request.is_overdue:
        return reverse("complaints:file") + "?unbind=" + str(unbind_request.public_id)
    return None


def unbind_view(unbind_request) -> dict:
    """What the holder sees of one unbind request (results page, tracking page, API alike)."""
    r = unbind_request
    return {
        "id": str(r.public_id),
        "app": r.app.name,
        "state": r.state,
        "state_label": str(r.State(r.state).label),
        "accounts": r.accounts_count,
        "created_at": timezone.localtime(r.created_at).isoformat(),
        "deadline_at": timezone.localtime(r.deadline_at).isoformat(),
        "working_days_left": max(0, working_days_between(timezone.now(), r.deadline_at)) if r.is_open else None,
        "overdue": r.is_overdue,
        "answered_at": timezone.localtime(r.answered_at).isoformat() if r.answered_at else None,
        "refusal_reason": r.refusal_reason,
        "complaint_url": unbind_complaint_url(r),
    }


def unbind_requests_for_holder(*, phone_hashes: list[str], lookup_ids: list[str]):
    """A holder's unbind requests: those of the numbers they proved with a code, or of the lookups made
    in this browser session. A previous holder's lookups never match: purged lookups lose their
    phone hash after 30 days, and a number rests at least 90 days before it is re-assigned."""
    if not phone_hashes and not lookup_ids:
        return UnbindRequest.objects.none()
    condition = Q(lookup__phone_hash__in=[h for h in phone_hashes if h]) | Q(lookup_id__in=lookup_ids)
    return UnbindRequest.objects.filter(condition).select_related("app", "lookup").order_by("-created_at", "app__name")


# Staff and platform filters: the states, plus "open" (not answered) and "overdue" (open, past the deadline)
UNBIND_FILTERS = ("open", "overdue", "queued", "sent", "done", "refused", "all")


def unbind_request_list(*, user, state: str = "open"):
    """Unbind requests of the user's organisation (staff or a member's system), filtered by state;
    soonest deadline first while open."""
    rows = scope_for_user(UnbindRequest.objects.select_related("app", "lookup"), user)
    if state == "open":
        rows = rows.filter(state__in=UnbindRequest.OPEN)
    elif state == "overdue":
        rows = rows.filter(state__in=UnbindRequest.OPEN, deadline_at__lt=timezone.now())
    elif state in UnbindRequest.State.values:
        rows = rows.filter(state=state)
    if state in ("open", "overdue", "queued", "sent"):
        return rows.order_by("deadline_at", "pk")
    return rows.order_by("-created_at", "-pk")


def unbind_statistics(*, since=None, until=None, requests=None, with_due: bool = False) -> dict:
    """Counts for statistics: requests, done, done within the deadline, refused, overdue. `since` / `until`
    bound the requests' creation time; pass `requests` (a filtered queryset) for one member's share.
    `with_due` adds `due`: the requests answered or past their deadline (what an on-time share is of)."""
    rows = UnbindRequest.objects.all() if requests is None else requests
    if since:
        rows = rows.filter(created_at__gte=since)
    if until:
        rows = rows.filter(created_at__lt=until)
    now = timezone.now()
    counts = {
        "requests": Count("pk"),
        "done": Count("pk", filter=Q(state="done")),
        "done_on_time": Count("pk", filter=Q(state="done", answered_at__lte=F("deadline_at"))),
        "refused": Count("pk", filter=Q(state="refused")),
        "overdue": Count("pk", filter=Q(state__in=UnbindRequest.OPEN, deadline_at__lt=now)),
    }
    if with_due:
        counts["due"] = Count("pk", filter=Q(answered_at__isnull=False) | Q(deadline_at__lt=now))
    return rows.aggregate(**counts)


def unbind_filter_choices() -> list[tuple[str, str]]:
    labels = {"open": _("open"), "overdue": _("overdue"), "all": _("all")} | {
        k: str(v) for k, v in UnbindRequest.State.choices
    }
    return [(value, labels[value]) for value in UNBIND_FILTERS]


def unbind_request_rows(*, user, state: str = "open", public_id=None, limit: int = 500) -> list:
    """Staff console rows: each request with `working_days_left` (negative: working days overdue)."""
    rows = unbind_request_list(user=user, state=state)
    if public_id is not None:
        rows = rows.filter(public_id=public_id)
    now = timezone.now()
    result = list(rows[:limit])
    for r in result:
        r.working_days_left = working_days_between(now, r.deadline_at) if r.is_open else None
    return result
