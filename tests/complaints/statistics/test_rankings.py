"""Platforms and carriers rated per 100,000 of their size measure, only above the size floor."""

from datetime import timedelta

import pytest
from django.utils import timezone

from complaints.statistics.headline import statistics_headline
from complaints.statistics.rankings import statistics_by_carrier, statistics_by_platform
from complaints.statistics.services import statistics_refresh
from portal.lookup.models import Lookup, LookupQuery
from portal.recycling.models import NumberEvent
from registry.models import Organisation
from tests.complaints.statistics.helpers import make_case, period
from tests.registry.factories import MemberAppFactory, OrganisationFactory

pytestmark = pytest.mark.django_db


def test_per_100k_lookups_only_above_the_size_floor(settings):
    settings.STATISTICS_RANKING_MIN_LOOKUPS = 4
    big, small = MemberAppFactory(), MemberAppFactory()
    for app, lookups, complaints in ((big, 8, 2), (small, 3, 2)):
        for _n in range(lookups):
            created = timezone.now() - timedelta(days=1)
            lookup = Lookup.objects.create(phone_hash="x", access_token_hash="x", created_at=created)
            LookupQuery.objects.create(lookup=lookup, app=app, deadline_at=timezone.now())
        for _n in range(complaints):
            make_case(app=app)
    statistics_refresh(full=True)
    rows = {r["key"]: r for r in statistics_by_platform(period())}
    assert rows[str(big.organisation_id)]["per_100k"] == 25000.0 and rows[str(big.organisation_id)]["rank"] == 1
    assert rows[str(small.organisation_id)]["per_100k"] is None and rows[str(small.organisation_id)]["complaints"] == 2
    headline = {f["key"]: f["value"] for f in statistics_headline(period())}
    assert headline["lookups"] == 11 and headline["unbind_requests"] == 0


def test_carriers_are_rated_per_100k_numbers_reassigned(settings):
    settings.STATISTICS_RANKING_MIN_LOOKUPS = 2
    carrier = OrganisationFactory(kind=Organisation.Kind.BASIC_CARRIER)
    for n in range(4):
        NumberEvent.objects.create(
            carrier=carrier,
            event_id=f"e{n}",
            phone_number="13800138000",
            freeze_breach=n == 0,
            type=NumberEvent.Type.REASSIGNED,
            occurred_at=timezone.now() - timedelta(days=2),
        )
    make_case(carrier=carrier)
    statistics_refresh(full=True)
    assert statistics_by_carrier(period())[0]["per_100k"] == 25000.0
    headline = {f["key"]: f["value"] for f in statistics_headline(period())}
    assert headline["numbers_recycled"] == 4 and headline["freeze_breaches"] == 1
