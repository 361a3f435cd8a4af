"""The public open data suppresses small cells in HTML, CSV and JSON, and one hidden cell is not given
away by the total."""

import json
import re

import pytest
from django.utils import timezone

from complaints.statistics.services import statistics_refresh
from tests.complaints.statistics.helpers import csv_rows, make_case
from tests.registry.factories import MemberAppFactory, OrganisationFactory

pytestmark = pytest.mark.django_db


def test_public_open_data_suppresses_small_cells(client):
    def app(name):
        return MemberAppFactory(organisation=OrganisationFactory(legal_name=name))

    made = (
        (app("大平台"), "44", "debt_collection", 9),
        (app("中平台"), "32", "debt_collection", 8),
        (app("小平台"), "11", "banned", 3),
        (app("微平台"), "31", "wrong_tag", 2),
    )
    for platform, province, category, count in made:
        for _n in range(count):
            make_case(app=platform, province=province, category=category, answered_at=timezone.now(), timely=True)
    statistics_refresh(full=True)

    data = client.get("/statistics/open-data.json").json()
    assert {r["key"]: r["complaints"] for r in data["by_province"]} == {"44": 9, "32": 8, "11": None, "31": None}
    assert {r["label"]: r["complaints"] for r in data["by_platform"]} == {
        "大平台": 9,
        "中平台": 8,
        "小平台": None,
        "微平台": None,
    }
    assert {r["label"]: r["on_time_share"] for r in data["by_platform"]}["小平台"] is None
    by_category = {r["key"]: r["complaints"] for r in data["by_category"]}
    assert by_category == {"debt_collection": 17, "banned": None, "wrong_tag": None}
    assert not re.search(r'"(complaints|answered)": [0-4]\b', json.dumps(data))

    rows = csv_rows(client.get("/statistics/open-data.csv"))
    cells = {(r[0], r[1], r[3]): r[4] for r in rows[1:]}
    assert cells[("by_province", "11", "complaints")] == "" and cells[("by_province", "44", "complaints")] == "9"
    counts = [value for (_t, _k, measure), value in cells.items() if measure != "on_time_share"]
    assert all(value == "" or float(value) >= 5 for value in counts)

    html = client.get("/statistics/").content.decode()
    assert "&lt;5" in html and "小平台" in html
    assert ">3<" not in html and ">2<" not in html


def test_one_suppressed_cell_is_not_given_away_by_the_total(client):
    for province, count in (("44", 9), ("31", 6), ("11", 3)):
        for _n in range(count):
            make_case(province=province)
    statistics_refresh(full=True)
    provinces = {r["key"]: r["complaints"] for r in client.get("/statistics/open-data.json").json()["by_province"]}
    # 18 in total: with only Beijing hidden, 18 - 9 - 6 would reveal its 3; the next smallest is hidden too
    assert provinces == {"44": 9, "31": None, "11": None}
