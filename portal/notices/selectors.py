from django.db.models import Count, Q, Sum

from portal.notices.models import NoticeDelivery
from portal.recycling.models import NumberEvent
from portal.recycling.selectors import number_event_payloads
from registry.scoping import scope_for_user


def notice_events(*, after_id: int, up_to_id: int, types: list[str]) -> list[dict]:
    """The events one notice carries."""
    return number_event_payloads(
        NumberEvent.objects.filter(pk__gt=after_id, pk__lte=up_to_id, type__in=types).order_by("pk")
    )


def notice_totals(*, since=None, until=None, deliveries=None) -> dict:
    """What notices achieved, for the consoles and the statistics: notices delivered, the apps they were
    delivered to, numbers notified, numbers renewed (in notices the member confirmed by reporting back),
    bindings removed, and how many notices are still pending or parked. `since` / `until` bound the
    notices' creation time; pass `deliveries` (a scoped queryset) for one member's share."""
    State = NoticeDelivery.State
    rows = NoticeDelivery.objects.all() if deliveries is None else deliveries
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    totals = rows.aggregate(
        delivered=Count("pk", filter=Q(state=State.DELIVERED)),
        apps_notified=Count("subscription__app", filter=Q(state=State.DELIVERED), distinct=True),
        pending=Count("pk", filter=Q(state=State.PENDING)),
        parked=Count("pk", filter=Q(state=State.PARKED)),
        numbers_notified=Sum("numbers", filter=Q(state=State.DELIVERED)),
        numbers_renewed=Sum("numbers", filter=Q(reported_at__isnull=False)),
        bindings_removed=Sum("bindings_removed"),
    )
    return {key: value or 0 for key, value in totals.items()}


def notice_deliveries_for_user(*, user, app=None, state: str = "", limit: int = 200):
    rows = scope_for_user(NoticeDelivery.objects.select_related("subscription__app"), user)
    if app is not None:
        rows = rows.filter(subscription__app=app)
    if state:
        rows = rows.filter(state=state)
    return rows.order_by("-created_at")[:limit]
