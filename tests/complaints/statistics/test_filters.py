"""Who may read statistics and what they see (a provincial regulator never sees another province: pages,
CSV, API); bad filters are reported; periods and buckets."""

import datetime as dt

import pytest

from complaints.models import Complaint
from complaints.statistics.filters import Filters, bucket_label, buckets, default_period, quarter_bounds
from tests.complaints.statistics.helpers import cases_in, csv_rows, period, regulator
from tests.registry.factories import StaffUserFactory, platform_staff

pytestmark = pytest.mark.django_db


def test_a_provincial_regulator_never_sees_another_province(client, world):
    guangdong = regulator("44")
    client.force_login(guangdong)
    mine = cases_in(period(), province="44")
    query = f"start={period().start}&end={period().end}"

    page = client.get(f"/staff/statistics/?{query}&province=11")  # asking for Beijing changes nothing
    assert page.status_code == 200
    assert [r["key"] for r in page.context["provinces"]] == ["44"]
    assert page.context["headline"][0]["value"] == len(mine)
    trend = client.get(f"/staff/statistics/trend.csv?{query}&province=31")
    assert sum(int(v) for row in csv_rows(trend)[1:] for v in row[1:]) == len(mine)
    quarterly = client.get("/staff/statistics/quarterly/?province=11")
    assert {r["key"] for r in quarterly.context["report"]["provinces"]} <= {"44"}

    rows = csv_rows(client.get(f"/staff/statistics/cases.csv?{query}&province=11"))
    assert sorted(r[0] for r in rows[1:]) == sorted(c.reference for c in mine)
    assert {r[6] for r in rows[1:]} == {str(Complaint(province="44").get_province_display())}

    body = client.get(f"/api/v1/stats/provinces?{query}&province=31").json()
    assert body["period"]["province"] == "44" and [r["key"] for r in body["rows"]] == ["44"]
    body = client.get(f"/api/v1/stats/headline?{query}&province=11").json()
    assert body["figures"][0]["value"] == len(mine)
    # lookups and number events carry no province: no figure rather than the country's
    assert {f["key"]: f["available"] for f in body["figures"]}["lookups"] is False

    # A national regulator and an administrator see every province.
    for user in (regulator(), StaffUserFactory()):
        client.force_login(user)
        page = client.get(f"/staff/statistics/?{query}")
        assert {r["key"] for r in page.context["provinces"]} == {"44", "11", "31"}


def test_only_regulators_and_administrators_read_statistics(client, world):
    for url in (
        "/staff/statistics/",
        "/staff/statistics/cases.csv",
        "/staff/statistics/platforms.csv",
        "/staff/statistics/quarterly/",
        "/api/v1/stats/headline",
    ):
        client.force_login(platform_staff(organisation=world["platforms"][0].organisation))
        assert client.get(url).status_code == 404, url
        client.logout()
        assert client.get(url).status_code in (302, 403), url
    client.force_login(regulator(totp_secret=False))  # no TOTP yet: the staff API stays closed
    assert client.get("/api/v1/stats/headline").status_code == 403


def test_bad_filters_are_reported_and_kept(client, world):
    client.force_login(regulator())
    page = client.get("/staff/statistics/?start=2026-13-01&platform=999999")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="2026-13-01"' in html and "errorlist" in html
    assert page.context["filters"].start == default_period()[0]


def test_long_periods_get_wider_buckets(client):
    client.force_login(regulator())
    page = client.get("/staff/statistics/?start=2026-01-01&end=2026-06-30&interval=day")
    assert page.context["filters"].interval == "week" and page.context["interval_widened"]
    page = client.get("/staff/statistics/?start=2026-06-01&end=2026-06-30&interval=day")
    assert page.context["filters"].interval == "day"


def test_the_previous_period_of_whole_months_is_as_many_whole_months_else_as_many_days():
    quarter = Filters(start=dt.date(2026, 4, 1), end=dt.date(2026, 6, 30))
    assert (quarter.previous.start, quarter.previous.end) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    january = Filters(start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 31))
    assert (january.previous.start, january.previous.end) == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    ten_days = Filters(start=dt.date(2026, 3, 5), end=dt.date(2026, 3, 14), province="44")
    assert (ten_days.previous.start, ten_days.previous.end) == (dt.date(2026, 2, 23), dt.date(2026, 3, 4))
    assert ten_days.previous.province == "44"
    assert quarter_bounds(2026, 4) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert default_period(dt.date(2026, 3, 15)) == (dt.date(2025, 4, 1), dt.date(2026, 3, 15))


@pytest.mark.parametrize(
    "interval, first, count, label",
    [
        ("day", dt.date(2025, 11, 30), 34, "2025-11-30"),
        ("week", dt.date(2025, 11, 24), 6, "2025-11-24"),  # the Monday of the first day's week
        ("month", dt.date(2025, 11, 1), 3, "2025-11"),
        ("quarter", dt.date(2025, 10, 1), 2, "2025 Q4"),
        ("year", dt.date(2025, 1, 1), 2, "2025"),
    ],
)
def test_every_bucket_of_the_period_is_there_even_an_empty_one(interval, first, count, label):
    starts = buckets(Filters(start=dt.date(2025, 11, 30), end=dt.date(2026, 1, 2), interval=interval))
    assert starts[0] == first and len(starts) == count and starts == sorted(set(starts))
    assert bucket_label(starts[0], interval) == label
