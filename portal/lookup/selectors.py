import hmac
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from portal.core.privacy import token_hash
from portal.lookup.models import Lookup, LookupQuery
from portal.unbinding.selectors import unbind_view
from registry.carriers import carrier_for_number
from registry.models import IntegrationKey, MemberApp, Organisation
from registry.scoping import scope_for_user


def lookup_result(lookup) -> dict:
    """What the holder sees of a lookup, for the page, its live updates and the API alike."""
    order = {value: index for index, value in enumerate(MemberApp.Category.values)}  # the directory's order
    unbinds = {r.app_id: r for r in lookup.unbind_requests.select_related("app")}
    rows = []
    for q in sorted(
        lookup.queries.select_related("app__organisation"), key=lambda q: (order.get(q.app.category, 99), q.app.name)
    ):
        rows.append(
            {
                "app": q.app.name,
                "app_id": q.app_id,
                "category": q.app.get_category_display(),
                "state": q.state,
                "state_label": str(LookupQuery.State(q.state).label),
                "accounts": q.accounts_total,
                "accounts_previous": q.accounts_previous,
                "settled": q.is_settled,
                "unbind_instructions": q.app.unbind_instructions,
                "unbind_url": q.app.unbind_url,
                # accounts likely the previous holder's can be sent for unbinding, once per app
                "unbindable": bool(q.accounts_previous)
                and q.app_id not in unbinds
                and not lookup.purged_at
                and q.app.organisation.status == "active",
                "unbind": unbind_view(unbinds[q.app_id]) if q.app_id in unbinds else None,
            }
        )
    settled = sum(1 for r in rows if r["settled"])
    return {
        "id": str(lookup.pk),
        "state": lookup.state,
        "phone_number": lookup.masked_phone_number,
        "created_at": lookup.created_at.isoformat(),
        "completed_at": lookup.completed_at.isoformat() if lookup.completed_at else None,
        "progress": {"settled": settled, "total": len(rows)},
        "summary": {
            "apps_with_accounts": sum(1 for r in rows if r["accounts"]),
            "accounts_total": sum(r["accounts"] for r in rows),
            "accounts_previous": sum(r["accounts_previous"] for r in rows),
        },
        "apps": rows,
        "unbindable_apps": sum(1 for r in rows if r["unbindable"]),
    }


def lookup_list_recent(*, limit: int = 200):
    # a carrier's renewal (portal/carrier/) keeps its number on a Lookup that asks nobody: not a lookup
    return Lookup.objects.exclude(origin=Lookup.Origin.CARRIER_RENEWAL).order_by("-created_at")[:limit]


def carrier_identity_app(phone_number: str):
    """The app of the number's carrier that checks identities, if it has one switched on."""
    carrier = carrier_for_number(phone_number)
    if carrier is None:
        return None
    return (
        carrier.apps.filter(supports_identity_check=True, integration__enabled=True)
        .select_related("integration")
        .first()
    )


def lookup_app_keys() -> list[dict]:
    """For every app a lookup asks (active members, live, with the lookup capability and a keyed
    integration that is switched on): its integration, its health (for the circuit breaker) and its
    newest valid key's id (workers sign with its secret; protocol v2 needs no secret to build a
    request). One query for plain values, not model instances: this runs for every lookup and every
    member app."""
    newest = {}
    for row in (
        IntegrationKey.objects.filter(
            revoked_at__isnull=True,
            integration__enabled=True,
            integration__app__supports_lookup=True,
            integration__app__go_live_date__lte=timezone.localdate(),
            integration__app__organisation__status=Organisation.Status.ACTIVE,
        )
        .order_by("created_at", "pk")
        .values(
            "key_id",
            "integration_id",
            "integration__app_id",
            "integration__base_url",
            "integration__timeout_ms",
            "integration__max_requests_per_second",
            "integration__consecutive_failures",
            "integration__last_failure_at",
        )
    ):
        newest[row["integration__app_id"]] = row  # ordered oldest first: the newest key wins
    return list(newest.values())


def lookups_open_to_holder():
    """The lookups a holder may still open (with the token, or from the browser that made them): those
    within LOOKUP_RETENTION_DAYS, which lookup_purge empties afterwards. A token ends with its lookup."""
    cutoff = timezone.now() - timedelta(days=settings.LOOKUP_RETENTION_DAYS)
    return Lookup.objects.filter(created_at__gte=cutoff, purged_at__isnull=True)


def lookup_for_token(*, lookup_id, token: str) -> Lookup | None:
    lookup = lookups_open_to_holder().filter(pk=lookup_id).first()
    if lookup and token and hmac.compare_digest(lookup.access_token_hash, token_hash(token)):
        return lookup
    return None


def lookup_query_log(*, user, app: MemberApp, limit: int = 200):
    """An app's part of recent lookups, as its staff see it: when, state, duration, error; no numbers."""
    return scope_for_user(LookupQuery.objects.filter(app=app), user).order_by("-pk")[:limit]
