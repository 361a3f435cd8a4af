"""Reads of the carrier front door: what a carrier sees of its actions (counts only, never an account),
a number's recycling history with the short text a counter shows, and what the holder sees of the
carriers' actions on their number."""

from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.carrier.models import CarrierAction
from portal.core.phone import mask_phone
from portal.core.workdays import working_days_between
from portal.lookup.models import Lookup
from portal.recycling import selectors as portal_selectors
from portal.recycling.models import NumberEvent
from portal.secondhand.selectors import number_second_hand
from portal.unbinding.models import UnbindRequest
from registry.models import MemberApp, Organisation
from registry.scoping import scope_for_user


def _iso(moment) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None


def actions_for_carrier(carrier):
    return CarrierAction.objects.filter(carrier=carrier).select_related("lookup", "carrier")


def action_for_carrier(*, carrier, public_id, kind: str) -> CarrierAction | None:
    """One action of this carrier (another carrier's is not found: 404)."""
    return actions_for_carrier(carrier).filter(public_id=public_id, kind=kind).first()


def actions_for_staff(*, user, limit: int = 20):
    """The carrier console's recent actions: the user's carrier's (administrators: everyone's)."""
    return scope_for_user(CarrierAction.objects.select_related("carrier", "staff_user"), user)[:limit]


def renewal_running(*, carrier, phone_number: str) -> CarrierAction | None:
    return (
        actions_for_carrier(carrier)
        .filter(kind=CarrierAction.Kind.RENEWAL, state=CarrierAction.State.RUNNING, phone_number=phone_number)
        .first()
    )


def renewal_apps() -> list:
    """The apps a renewal asks: those with the unbinding capability of active members, live."""
    return list(
        MemberApp.objects.filter(
            supports_unbind=True,
            organisation__status=Organisation.Status.ACTIVE,
            go_live_date__lte=timezone.localdate(),
        )
        .select_related("integration")
        .order_by("pk")
    )


def actions_ready_to_settle():
    """Running lookups whose Lookup completed and renewals with no open unbind request: the sweeper's work."""
    open_requests = UnbindRequest.objects.filter(lookup_id=OuterRef("lookup_id"), state__in=UnbindRequest.OPEN)
    running = CarrierAction.objects.filter(state=CarrierAction.State.RUNNING, lookup__isnull=False)
    lookups = running.filter(kind=CarrierAction.Kind.LOOKUP, lookup__state=Lookup.State.COMPLETED)
    renewals = running.filter(kind=CarrierAction.Kind.RENEWAL).exclude(Exists(open_requests))
    return lookups.values_list("pk", flat=True).union(renewals.values_list("pk", flat=True))


def _attestation(action: CarrierAction) -> dict:
    return {"channel": action.channel, "reference": action.reference, "verified_at": _iso(action.verified_at)}


def _lookup_apps(lookup: Lookup) -> list[dict]:
    """Per app: its state and counts, what 一证通查 gives; never an account reference or date."""
    rows = lookup.queries.select_related("app").order_by("app__category", "app__name")
    return [
        {
            "app": q.app.name,
            "category": q.app.category,
            "state": q.state,
            "settled": q.is_settled,
            "accounts": q.accounts_total,
            "accounts_previous": q.accounts_previous,
        }
        for q in rows
    ]


def lookup_view(action: CarrierAction) -> dict:
    apps = _lookup_apps(action.lookup) if action.lookup else []
    return {
        "id": str(action.public_id),
        "kind": action.kind,
        "state": action.state,
        "phone_number": action.masked_phone_number,
        "attestation": _attestation(action),
        "created_at": _iso(action.created_at),
        "completed_at": _iso(action.completed_at),
        "progress": {"settled": sum(1 for a in apps if a["settled"]), "total": len(apps)},
        "summary": {
            "apps_with_accounts": sum(1 for a in apps if a["accounts"]),
            "accounts_total": sum(a["accounts"] for a in apps),
            "accounts_previous": sum(a["accounts_previous"] for a in apps),
        },
        "apps": [{k: v for k, v in a.items() if k != "settled"} for a in apps],
    }


def renewal_apps_view(action: CarrierAction) -> list[dict]:
    if action.lookup is None:
        return []
    now = timezone.now()
    return [
        {
            "app": r.app.name,
            "state": r.state,
            "state_label": str(UnbindRequest.State(r.state).label),
            "delivery": r.delivery,
            "answered_at": _iso(r.answered_at),
            "refusal_reason": r.refusal_reason,
            "overdue": r.is_overdue,
            "working_days_left": working_days_between(now, r.deadline_at) if r.is_open else None,
        }
        for r in action.lookup.unbind_requests.select_related("app").order_by("app__name")
    ]


def renewal_view(action: CarrierAction) -> dict:
    apps = renewal_apps_view(action)
    answered = [a for a in apps if a["state"] in ("done", "refused")]
    return {
        "id": str(action.public_id),
        "kind": action.kind,
        "state": action.state,
        "phone_number": action.masked_phone_number,
        "attestation": _attestation(action),
        "holder_since": action.holder_since.isoformat() if action.holder_since else None,
        "created_at": _iso(action.created_at),
        "deadline_at": _iso(action.deadline_at),
        "completed_at": _iso(action.completed_at),
        "within_deadline": action.within_deadline,
        "progress": {
            "total": len(apps),
            "answered": len(answered),
            "done": sum(1 for a in apps if a["state"] == "done"),
            "refused": sum(1 for a in apps if a["state"] == "refused"),
            "overdue": sum(1 for a in apps if a["overdue"]),
        },
        "apps": [{k: v for k, v in a.items() if k != "state_label"} for a in apps],
    }


def action_view(action: CarrierAction) -> dict:
    return renewal_view(action) if action.kind == CarrierAction.Kind.RENEWAL else lookup_view(action)


# --- a number's history ---------------------------------------------------------------------------------


def _month(value) -> str | None:
    return value.strftime("%Y-%m") if value else None


def number_history(*, phone_number: str) -> dict:
    """What a carrier may tell a buyer of a number: whether it had another holder, the months it was
    cancelled and re-assigned (month precision, as the holder's own page), how often, how many apps were
    told, and the renewals done; with a short text the counter shows or prints."""
    second_hand = number_second_hand(phone_number=phone_number)
    events = NumberEvent.objects.filter(phone_number=phone_number, occurred_at__lte=timezone.now())
    cancellations = events.filter(type=NumberEvent.Type.CANCELLED).count()
    renewals = CarrierAction.objects.filter(kind=CarrierAction.Kind.RENEWAL, phone_number=phone_number)
    last_renewal = renewals.order_by("-created_at").first()
    history = {
        "phone_number": mask_phone(phone_number),
        "second_hand": second_hand["recycled"] or cancellations > 0,
        "cancelled_month": _month(second_hand["cancelled_month"]),
        "reassigned_month": _month(second_hand["reassigned_month"]),
        "cancellations": cancellations,
        "holder_since": portal_selectors.holder_since(phone_number),
        "apps_notified": second_hand["apps_notified"],
        "apps_confirmed": second_hand["apps_confirmed"],
        "renewals": renewals.count(),
        "last_renewal": None
        if last_renewal is None
        else {
            "state": last_renewal.state,
            "created_at": _iso(last_renewal.created_at),
            "completed_at": _iso(last_renewal.completed_at),
            "apps_done": last_renewal.apps_done,
            "apps_refused": last_renewal.apps_refused,
        },
    }
    history["text"] = history_text(history)
    return history


def history_text(history: dict) -> str:
    """The few sentences a counter shows or prints for the buyer, in the active language."""
    if not history["second_hand"]:
        return _(
            "The portal has no record of this number being cancelled or re-assigned: as far as the carriers "
            "reported, it had no previous holder."
        )
    parts = [_("This number is second-hand (二次号): it had a previous holder.")]
    if history["cancelled_month"]:
        parts.append(_("It was cancelled in %(month)s.") % {"month": history["cancelled_month"]})
    if history["reassigned_month"]:
        parts.append(_("It was re-assigned in %(month)s.") % {"month": history["reassigned_month"]})
    if history["cancellations"] > 1:
        parts.append(_("It has been cancelled %(n)d times.") % {"n": history["cancellations"]})
    last = history["last_renewal"]
    if last and last["state"] == CarrierAction.State.COMPLETED:
        parts.append(_("A renewal removed the previous bindings at %(done)d apps.") % {"done": last["apps_done"]})
    else:
        parts.append(
            _(
                "Accounts of the previous holder may still be bound to it: a renewal (号码焕新) asks every "
                "member app to remove them."
            )
        )
    return " ".join(parts)


# --- what the holder sees --------------------------------------------------------------------------------


def actions_for_holder(*, phone_hashes: list[str]) -> list[dict]:
    """The lookups and renewals carriers started on the numbers the holder proved (tracking page)."""
    hashes = [h for h in phone_hashes if h]
    if not hashes:
        return []
    rows = CarrierAction.objects.filter(
        phone_hash__in=hashes, kind__in=[CarrierAction.Kind.LOOKUP, CarrierAction.Kind.RENEWAL]
    )
    return [
        {
            "carrier": a.carrier.legal_name,
            "kind": a.kind,
            "kind_label": a.get_kind_display(),
            "channel_label": a.get_channel_display(),
            "reference": a.reference,
            "created_at": a.created_at,
            "state": a.state,
            "state_label": a.get_state_display(),
            "phone_number": a.masked_phone_number,
            "apps_done": a.apps_done,
            "apps_refused": a.apps_refused,
            "apps_total": a.apps_total,
        }
        for a in rows.select_related("carrier").order_by("-created_at")[:50]
    ]
