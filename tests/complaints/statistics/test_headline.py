"""The headline figures: the median beyond the histogram, and the figures read from rows other than
complaints (unbind requests, recycling notices)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from complaints.statistics.filters import Filters
from complaints.statistics.headline import statistics_headline
from complaints.statistics.services import statistics_refresh
from portal.core.crypto import encrypt
from portal.lookup.models import Lookup
from portal.notices.models import NoticeDelivery, NoticeSubscription
from portal.unbinding.models import UnbindRequest
from tests.complaints.statistics.helpers import make_case, period
from tests.registry.factories import MemberAppFactory

pytestmark = pytest.mark.django_db


def test_a_median_beyond_the_histogram_is_read_from_the_cases():
    received = timezone.now() - timedelta(days=50)
    for days in (3, 41, 45):
        make_case(received_at=received, answered_at=received + timedelta(days=days, hours=5))
    statistics_refresh(full=True)
    headline = {f["key"]: f["value"] for f in statistics_headline(period())}
    assert headline["median_days"] == 41


def test_unbind_requests_and_recycling_notices_counted_from_their_rows():
    now = timezone.now()
    apps = [MemberAppFactory() for _ in range(3)]
    lookup = Lookup.objects.create(phone_hash="x", access_token_hash="x", created_at=now - timedelta(days=10))
    made = [  # (state, answered days after the request, deadline days after)
        ("done", 2, 7),
        ("done", 9, 7),
        ("refused", 1, 7),
    ]
    for app, (state, answered, deadline) in zip(apps, made):
        UnbindRequest.objects.create(
            lookup=lookup,
            app=app,
            delivery="push",
            state=state,
            created_at=now - timedelta(days=10),
            answered_at=now - timedelta(days=10 - answered),
            deadline_at=now - timedelta(days=10 - deadline),
        )
    late_lookup = Lookup.objects.create(phone_hash="y", access_token_hash="y", created_at=now - timedelta(days=1))
    UnbindRequest.objects.create(
        lookup=late_lookup,
        app=apps[0],
        delivery="pull",
        state="sent",
        created_at=now - timedelta(days=1),
        deadline_at=now + timedelta(days=6),
    )  # not due yet: not in the share
    for n, app in enumerate(apps[:2]):
        subscription = NoticeSubscription.objects.create(
            app=app,
            webhook_url="https://m.example/hook",
            event_types="reassigned",
            key_id=f"wh_stat{n}",
            secret_encrypted=encrypt("s"),
        )
        NoticeDelivery.objects.create(
            subscription=subscription,
            after_event_id=0,
            up_to_event_id=10,
            event_types="reassigned",
            numbers=10,
            state="delivered",
            bindings_removed=3 + n,
            reported_at=now,
        )
    NoticeDelivery.objects.create(
        subscription=subscription,
        after_event_id=10,
        up_to_event_id=20,
        event_types="reassigned",
        numbers=10,
        state="parked",
    )

    headline = {f["key"]: f for f in statistics_headline(period())}
    assert headline["unbind_requests"]["value"] == 4
    assert headline["unbind_on_time"]["value"] == round(100 * 1 / 3, 1)  # of the three due, one done in time
    assert headline["members_notified"]["value"] == 2 and headline["bindings_removed"]["value"] == 7
    only_first = Filters(start=period().start, end=period().end, platform=apps[0].organisation_id)
    assert {f["key"]: f["value"] for f in statistics_headline(only_first)}["unbind_requests"] == 2
    by_province = Filters(start=period().start, end=period().end, province="44")
    assert {f["key"]: f["available"] for f in statistics_headline(by_province)}["unbind_requests"] is False
