"""Is my number second-hand? What a holder, proven by an SMS code, may learn of their number's past."""

from django.db.models import Q
from django.utils import timezone

from portal.notices.models import NoticeDelivery
from portal.recycling.models import NumberEvent
from registry.carriers import carrier_for_number


def number_second_hand(*, phone_number: str) -> dict:
    """What a holder may learn of their number's past: whether it was recycled, the months it was
    cancelled and re-assigned (month precision: the previous holder's dates are theirs), and how many
    member apps were told and have confirmed (reported back)."""
    now = timezone.now()
    events = NumberEvent.objects.filter(phone_number=phone_number, occurred_at__lte=now)
    reassigned = events.filter(type=NumberEvent.Type.REASSIGNED).order_by("-occurred_at").first()
    cancelled_events = events.filter(type=NumberEvent.Type.CANCELLED)
    if reassigned is not None:
        cancelled_events = cancelled_events.filter(occurred_at__lte=reassigned.occurred_at)
    cancelled = cancelled_events.order_by("-occurred_at").first()
    told = [e for e in (reassigned, cancelled) if e is not None]
    which = Q(pk__in=[])
    for event in told:
        which |= Q(after_event_id__lt=event.pk, up_to_event_id__gte=event.pk, event_types__contains=event.type)
    notices = NoticeDelivery.objects.filter(which, state=NoticeDelivery.State.DELIVERED)
    month = lambda event: timezone.localtime(event.occurred_at).date().replace(day=1) if event else None  # noqa: E731
    return {
        "covered": carrier_for_number(phone_number) is not None or bool(told),
        "recycled": reassigned is not None,
        "cancelled_month": month(cancelled),
        "reassigned_month": month(reassigned),
        "apps_notified": notices.values("subscription__app").distinct().count(),
        "apps_confirmed": notices.filter(reported_at__isnull=False).values("subscription__app").distinct().count(),
    }
