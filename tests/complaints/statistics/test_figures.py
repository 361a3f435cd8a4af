"""Every figure matches counts made independently from the case rows, on the pages, in the API and in
the reports."""

import pytest

from complaints.statistics.filters import Filters
from complaints.statistics.reports import statistics_dashboard
from tests.complaints.statistics.helpers import cases_in, expected_headline, period, regulator

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "narrow", [{}, {"province": "44", "category": "debt_collection"}, {"carrier": 0, "state": "closed"}]
)
def test_figures_match_counts_from_the_case_rows(world, narrow):
    where = {}
    filters = period()
    if "carrier" in narrow:
        carrier = world["carriers"][0]
        filters = Filters(**{**filters.__dict__, "carrier": carrier.pk, "state": "closed"})
        where = {"carrier_id": carrier.pk, "state": "closed"}
    elif narrow:
        filters = Filters(**{**filters.__dict__, **narrow})
        where = narrow
    data = statistics_dashboard(filters)
    now_cases, before_cases = cases_in(filters, **where), cases_in(filters.previous, **where)
    assert now_cases and before_cases

    headline = {f["key"]: f for f in data["headline"]}
    for key, value in expected_headline(now_cases).items():
        assert headline[key]["value"] == value, key
    for key, value in expected_headline(before_cases).items():
        assert headline[key]["previous"] == value, key

    platforms = {r["key"]: r["complaints"] for r in data["platforms"]}
    for app in world["platforms"]:
        expected = len([c for c in now_cases if c.organisation_id == app.organisation_id])
        assert platforms.get(str(app.organisation_id), 0) == expected
    provinces = {r["key"]: r["complaints"] for r in data["provinces"]}
    assert provinces == {p: n for p in ("44", "11", "31") if (n := len([c for c in now_cases if c.province == p]))}
    for category in data["trend"]["series"]:
        assert sum(category["values"]) == len([c for c in now_cases if c.category == category["key"]])
    assert sum(p["received"] for p in data["timeliness"]["points"]) == len(now_cases)


def test_the_api_gives_the_same_figures_as_the_case_rows(client, world):
    client.force_login(regulator())
    body = client.get("/api/v1/stats/headline?" + f"start={period().start}&end={period().end}").json()
    assert {f["key"]: f["value"] for f in body["figures"]}["complaints"] == len(cases_in(period()))
    query = f"interval=week&lens=province&start={period().start}&end={period().end}"
    body = client.get(f"/api/v1/stats/trends?{query}").json()
    assert {s["key"]: sum(s["values"]) for s in body["series"]}["11"] == len(cases_in(period(), province="11"))
    assert client.get("/api/v1/stats/trends?interval=fortnight").status_code == 400
