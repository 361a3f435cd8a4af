"""Carriers' renewals in the statistics: per carrier and channel, the share done within 5 working days
and the median time to done; the open data hides small counts as every other table does."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from complaints.statistics import renewals as renewal_statistics
from complaints.statistics.filters import Filters, default_period
from portal.carrier.models import CarrierAction
from registry.models import Organisation
from tests.complaints.statistics.test_figures import regulator
from tests.registry.factories import OrganisationFactory

pytestmark = pytest.mark.django_db


def _renewal(carrier, channel, *, hours_to_done=None, late=False):
    now = timezone.now() - timedelta(days=10)
    deadline = now + timedelta(days=7)
    done = None if hours_to_done is None else now + timedelta(hours=hours_to_done)
    if late:
        done = deadline + timedelta(hours=1)
    return CarrierAction.objects.create(
        carrier=carrier,
        kind="renewal",
        channel=channel,
        reference="r",
        verified_at=now,
        via="api",
        created_at=now,
        deadline_at=deadline,
        completed_at=done,
        state="completed" if done else "running",
    )


@pytest.fixture
def renewals():
    carrier = OrganisationFactory(kind=Organisation.Kind.BASIC_CARRIER, legal_name="示例移动")
    for hours in (1, 2, 3, 4, 30):
        _renewal(carrier, "counter", hours_to_done=hours)
    _renewal(carrier, "counter", late=True)
    _renewal(carrier, "app", hours_to_done=5)
    _renewal(carrier, "app", hours_to_done=None)  # past its deadline, not done
    return carrier


def test_renewals_per_carrier_and_channel_with_the_share_on_time_and_the_median(renewals):
    start, end = default_period()
    rows = {r["channel"]: r for r in renewal_statistics.renewal_rows(Filters(start=start, end=end))}
    counter = rows[str(CarrierAction.Channel.COUNTER.label)]
    assert (counter["renewals"], counter["due"], counter["done"], counter["within_deadline"]) == (6, 6, 6, 5)
    assert counter["within_deadline_share"] == round(5 / 6, 3) and counter["median_hours"] == 3.5
    app = rows[str(CarrierAction.Channel.APP.label)]
    assert (app["renewals"], app["due"], app["done"], app["within_deadline_share"]) == (2, 2, 1, 0.5)


def test_the_dashboard_shows_renewals_and_a_province_does_not(client, renewals):
    client.force_login(regulator())
    html = client.get(reverse("complaints:statistics")).content.decode()
    assert 'id="renewals"' in html and "<td>示例移动</td>" in html and "83%" in html
    client.force_login(regulator("44"))
    html = client.get(reverse("complaints:statistics")).content.decode()
    assert 'id="renewals"' in html and "<td>示例移动</td>" not in html


def test_the_open_data_hides_small_renewal_counts(client, renewals):
    other = OrganisationFactory(kind=Organisation.Kind.BASIC_CARRIER, legal_name="示例联通")
    for hours in range(1, 8):
        _renewal(other, "counter", hours_to_done=hours)
    data = client.get(reverse("complaints:public_statistics_json")).json()
    rows = {(r["carrier"], r["key"].split(":")[1]): r for r in data["renewals"]}
    assert (
        rows[("示例联通", "counter")]["renewals"] == 7 and rows[("示例联通", "counter")]["within_deadline_share"] == 1
    )
    app = rows[("示例移动", "app")]
    assert (
        app["renewals"] is None and app["median_hours"] is None and app["within_deadline_share"] is None
    )  # 2: under 5
    # the one hidden cell would follow from the total: the next smallest is hidden with it
    assert rows[("示例移动", "counter")]["renewals"] is None
    csv = b"".join(client.get(reverse("complaints:public_statistics_csv")).streaming_content).decode()
    assert "renewals," in csv and "示例移动 · " in csv
    assert 'id="renewals"' in client.get(reverse("complaints:public_statistics")).content.decode()
