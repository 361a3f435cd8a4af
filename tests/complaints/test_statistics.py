"""Statistics: every figure matches counts made independently from the case rows; the rollups follow changes
(incremental refresh); a provincial regulator never sees another province (pages, CSV, API); the public open
data suppresses small cells in HTML, CSV and JSON; the case CSV carries no personal data."""

import csv
import io
import itertools
import json
import random
import re
import statistics as pystats
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from complaints import services
from complaints import statistics as stats
from complaints.models import Complaint, ComplaintDay
from portal.core.crypto import encrypt
from portal.lookup.models import Lookup, LookupQuery
from portal.recycling.models import NumberEvent
from registry.models import Organisation, StaffUser
from tests.registry.factories import (
    MemberAppFactory,
    OrganisationFactory,
    StaffUserFactory,
    platform_staff,
)

pytestmark = pytest.mark.django_db

_references = itertools.count(1)


def make_case(**fields) -> Complaint:
    fields.setdefault("received_at", timezone.now() - timedelta(days=3))
    fields.setdefault("category", Complaint.Category.DEBT_COLLECTION)
    fields.setdefault("province", "44")
    if fields.get("app") is not None:
        fields.setdefault("organisation", fields["app"].organisation)
    return Complaint.objects.create(reference=f"TS-STAT-{next(_references):05d}", phone_hash="x", **fields)


def regulator(province: str = "", **kwargs) -> StaffUser:
    return StaffUserFactory(role=StaffUser.Role.REGULATOR, province=province, **kwargs)


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def world():
    """Two platforms, two carriers, and 160 cases spread over this period and the previous one, in three
    provinces, with every kind of outcome; a merged duplicate that must not be counted."""
    rng = random.Random(6)
    platforms = [MemberAppFactory(organisation=OrganisationFactory(legal_name=name)) for name in ("甲平台", "乙平台")]
    carriers = [
        OrganisationFactory(kind=Organisation.Kind.BASIC_CARRIER, legal_name=name) for name in ("甲移动", "乙联通")
    ]
    now = timezone.now()
    cases = []
    for _n in range(160):
        received = now - timedelta(days=rng.uniform(0, 175), hours=rng.randint(0, 23))
        case = dict(
            received_at=received,
            category=rng.choice(Complaint.Category.values[:4]),
            province=rng.choice(["44", "44", "11", "31"]),
            app=rng.choice(platforms + [None]),
            carrier=rng.choice(carriers + [None]),
            state=Complaint.State.SENT,
        )
        if rng.random() < 0.7:
            case.update(
                answered_at=received + timedelta(days=rng.uniform(1, 30)),
                timely=rng.random() < 0.75,
                state=Complaint.State.ANSWERED,
            )
            if rng.random() < 0.6:
                case.update(feedback=rng.choice(Complaint.Feedback.values), state=Complaint.State.CLOSED)
        elif rng.random() < 0.3:
            case.update(timely=False, escalated_at=received + timedelta(days=16), state=Complaint.State.ESCALATED)
        cases.append(make_case(**case))
    make_case(received_at=now - timedelta(days=2), merged_into=cases[0], state=Complaint.State.CLOSED)
    stats.statistics_refresh(full=True)
    return {"platforms": platforms, "carriers": carriers}


def period(days: int = 90) -> stats.Filters:
    today = timezone.localdate()
    return stats.Filters(start=today - timedelta(days=days - 1), end=today, interval="month")


def cases_in(filters: stats.Filters, **where) -> list[Complaint]:
    """The independent count: the case rows themselves, filtered in Python."""
    rows = []
    for c in Complaint.objects.filter(merged_into__isnull=True):
        if not filters.start <= timezone.localdate(c.received_at) <= filters.end:
            continue
        if all(getattr(c, field) == value for field, value in where.items()):
            rows.append(c)
    return rows


def share(part, whole):
    return round(100.0 * part / whole, 1) if whole else None


def expected_headline(cases):
    decided = [c for c in cases if c.timely is not None]
    rated = [c for c in cases if c.feedback]
    answered = [(c.answered_at - c.received_at).days for c in cases if c.answered_at]  # whole days
    return {
        "complaints": len(cases),
        "on_time": share(sum(c.timely for c in decided), len(decided)),
        "satisfied": share(sum(c.feedback == "satisfied" for c in rated), len(rated)),
        "median_days": pystats.median(answered) if answered else None,
    }


@pytest.mark.parametrize(
    "narrow", [{}, {"province": "44", "category": "debt_collection"}, {"carrier": 0, "state": "closed"}]
)
def test_figures_match_counts_from_the_case_rows(world, narrow):
    where = {}
    filters = period()
    if "carrier" in narrow:
        carrier = world["carriers"][0]
        filters, where = (
            stats.Filters(**{**filters.__dict__, "carrier": carrier.pk, "state": "closed"}),
            {"carrier_id": carrier.pk, "state": "closed"},
        )
    elif narrow:
        filters = stats.Filters(**{**filters.__dict__, **narrow})
        where = narrow
    data = stats.statistics_dashboard(filters)
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
    body = client.get(
        f"/api/v1/stats/trends?interval=week&lens=province&start={period().start}&end={period().end}"
    ).json()
    assert {s["key"]: sum(s["values"]) for s in body["series"]}["11"] == len(cases_in(period(), province="11"))
    assert client.get("/api/v1/stats/trends?interval=fortnight").status_code == 400


def test_the_periodic_refresh_follows_new_and_changed_cases():
    admin = StaffUserFactory()
    old = make_case(received_at=timezone.now() - timedelta(days=40), state=Complaint.State.SUBMITTED)
    stats.statistics_refresh(full=True)
    day = timezone.localdate(old.received_at)
    assert ComplaintDay.objects.get(day=day, dims=ComplaintDay.ALL_DIMS).state == "submitted"

    services.complaint_close(complaint=old, by=admin, note="重复投诉")  # a change through the service: an event
    make_case(received_at=timezone.now())  # a new case today
    stats.statistics_refresh()  # what beat runs: recent days and the days of changed cases only
    assert ComplaintDay.objects.get(day=day, dims=ComplaintDay.ALL_DIMS).state == "closed"
    assert ComplaintDay.objects.filter(day=timezone.localdate()).exists()
    assert settings.CELERY_BEAT_SCHEDULE["statistics-refresh"]["task"] == "complaints.tasks.statistics_refresh"


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
    assert page.context["filters"].start == stats.default_period()[0]


def test_the_case_csv_carries_no_personal_data(client):
    app = MemberAppFactory()
    make_case(
        app=app,
        phone_encrypted=encrypt("13800138000"),
        email_encrypted=encrypt("holder@example.cn"),
        description="前机主欠款的秘密描述",
        answer_text="平台回复原文",
        city="深圳",
    )
    client.force_login(regulator())
    response = client.get("/staff/statistics/cases.csv")
    assert response.streaming
    body = "\n".join(",".join(r) for r in csv_rows(response))
    assert app.organisation.legal_name in body
    for secret in ("13800138000", "138****8000", "holder@example.cn", "秘密描述", "平台回复原文"):
        assert secret not in body


def test_per_100k_lookups_only_above_the_size_floor(settings):
    settings.STATISTICS_RANKING_MIN_LOOKUPS = 4
    big, small = MemberAppFactory(), MemberAppFactory()
    for app, lookups, complaints in ((big, 8, 2), (small, 3, 2)):
        for _n in range(lookups):
            lookup = Lookup.objects.create(
                phone_hash="x", access_token_hash="x", created_at=timezone.now() - timedelta(days=1)
            )
            LookupQuery.objects.create(lookup=lookup, app=app, deadline_at=timezone.now())
        for _n in range(complaints):
            make_case(app=app)
    stats.statistics_refresh(full=True)
    rows = {r["key"]: r for r in stats.statistics_by_platform(period())}
    assert rows[str(big.organisation_id)]["per_100k"] == 25000.0 and rows[str(big.organisation_id)]["rank"] == 1
    assert rows[str(small.organisation_id)]["per_100k"] is None and rows[str(small.organisation_id)]["complaints"] == 2
    headline = {f["key"]: f["value"] for f in stats.statistics_headline(period())}
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
    stats.statistics_refresh(full=True)
    assert stats.statistics_by_carrier(period())[0]["per_100k"] == 25000.0
    headline = {f["key"]: f["value"] for f in stats.statistics_headline(period())}
    assert headline["numbers_recycled"] == 4 and headline["freeze_breaches"] == 1


def test_public_open_data_suppresses_small_cells(client):
    def app(name):
        return MemberAppFactory(organisation=OrganisationFactory(legal_name=name))

    for platform, province, category, count in (
        (app("大平台"), "44", "debt_collection", 9),
        (app("中平台"), "32", "debt_collection", 8),
        (app("小平台"), "11", "banned", 3),
        (app("微平台"), "31", "wrong_tag", 2),
    ):
        for _n in range(count):
            make_case(app=platform, province=province, category=category, answered_at=timezone.now(), timely=True)
    stats.statistics_refresh(full=True)

    data = client.get("/statistics/open-data.json").json()
    assert {r["key"]: r["complaints"] for r in data["by_province"]} == {"44": 9, "32": 8, "11": None, "31": None}
    assert {r["label"]: r["complaints"] for r in data["by_platform"]} == {
        "大平台": 9,
        "中平台": 8,
        "小平台": None,
        "微平台": None,
    }
    assert {r["label"]: r["on_time_share"] for r in data["by_platform"]}["小平台"] is None
    assert {r["key"]: r["complaints"] for r in data["by_category"]} == {
        "debt_collection": 17,
        "banned": None,
        "wrong_tag": None,
    }
    assert not re.search(r'"(complaints|answered)": [0-4]\b', json.dumps(data))

    rows = csv_rows(client.get("/statistics/open-data.csv"))
    cells = {(r[0], r[1], r[3]): r[4] for r in rows[1:]}
    assert cells[("by_province", "11", "complaints")] == "" and cells[("by_province", "44", "complaints")] == "9"
    assert all(
        value == "" or float(value) >= 5 for (_t, _k, measure), value in cells.items() if measure != "on_time_share"
    )

    html = client.get("/statistics/").content.decode()
    assert "&lt;5" in html and "小平台" in html
    assert ">3<" not in html and ">2<" not in html


def test_one_suppressed_cell_is_not_given_away_by_the_total(client):
    for province, count in (("44", 9), ("31", 6), ("11", 3)):
        for _n in range(count):
            make_case(province=province)
    stats.statistics_refresh(full=True)
    provinces = {r["key"]: r["complaints"] for r in client.get("/statistics/open-data.json").json()["by_province"]}
    # 18 in total: with only Beijing hidden, 18 - 9 - 6 would reveal its 3; the next smallest is hidden too
    assert provinces == {"44": 9, "31": None, "11": None}


def test_demo_statistics_load_once():
    from portal.devtools.complaints_demo import load_statistics_demo
    from portal.devtools.demo import load_demo

    load_demo()
    first = load_statistics_demo(complaints=60, lookups=20)
    assert first["complaints"] == 60 and ComplaintDay.objects.exists()
    assert load_statistics_demo(complaints=60, lookups=20) == {"complaints": 0, "lookups": 0, "number_events": 0}


def test_a_median_beyond_the_histogram_is_read_from_the_cases():
    received = timezone.now() - timedelta(days=50)
    for days in (3, 41, 45):
        make_case(received_at=received, answered_at=received + timedelta(days=days, hours=5))
    stats.statistics_refresh(full=True)
    headline = {f["key"]: f["value"] for f in stats.statistics_headline(period())}
    assert headline["median_days"] == 41


def test_long_periods_get_wider_buckets(client):
    client.force_login(regulator())
    page = client.get("/staff/statistics/?start=2026-01-01&end=2026-06-30&interval=day")
    assert page.context["filters"].interval == "week" and page.context["interval_widened"]
    assert (
        client.get("/staff/statistics/?start=2026-06-01&end=2026-06-30&interval=day").context["filters"].interval
        == "day"
    )


def test_unbind_requests_and_recycling_notices_counted_from_their_rows():
    from portal.notices.models import NoticeDelivery, NoticeSubscription
    from portal.unbinding.models import UnbindRequest

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

    headline = {f["key"]: f for f in stats.statistics_headline(period())}
    assert headline["unbind_requests"]["value"] == 4
    assert headline["unbind_on_time"]["value"] == round(100 * 1 / 3, 1)  # of the three due, one done in time
    assert headline["members_notified"]["value"] == 2 and headline["bindings_removed"]["value"] == 7
    only_first = stats.Filters(start=period().start, end=period().end, platform=apps[0].organisation_id)
    assert {f["key"]: f["value"] for f in stats.statistics_headline(only_first)}["unbind_requests"] == 2
    by_province = stats.Filters(start=period().start, end=period().end, province="44")
    assert {f["key"]: f["available"] for f in stats.statistics_headline(by_province)}["unbind_requests"] is False
