"""Carriers report number events; each number gets a history that feeds lookups."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.lookup import services
from portal.recycling import selectors
from portal.recycling.models import NumberEvent
from portal.verification.services import verification_code_send
from registry import protocol
from registry import services as registry_services
from tests.portal.lookup.helpers import latest_code
from tests.registry.factories import (
    IntegrationFactory,
    MemberAppFactory,
    OrganisationFactory,
)
from tests.signing import signed_headers

pytestmark = pytest.mark.django_db
URL = "/api/v1/carrier/number-events"


def member_key(kind="basic_carrier", status="active"):
    org = OrganisationFactory(kind=kind, status=status)
    integration = IntegrationFactory(app=MemberAppFactory(organisation=org, category="telecom"))
    key, secret = registry_services.integration_key_issue(integration=integration, by=None)
    return org, key, secret


def post(client, payload, key, secret, seconds_ago=0):
    body = json.dumps(payload).encode()
    return client.post(
        URL,
        body,
        content_type="application/json",
        **signed_headers(body, key_id=key.key_id, secret=secret, seconds_ago=seconds_ago),
    )


def event(event_id, phone="+8613812345678", kind="cancelled", days_ago=200):
    return {
        "event_id": event_id,
        "phone_number": phone,
        "type": kind,
        "occurred_at": (timezone.now() - timedelta(days=days_ago)).isoformat(),
    }


def test_a_batch_is_kept_once_and_bad_rows_are_reported_with_index_and_reason(client):
    carrier, key, secret = member_key()
    batch = [
        event("e1"),
        event("e2", kind="reassigned", days_ago=30),
        {"event_id": "e3", "phone_number": "12345", "type": "cancelled", "occurred_at": "2026-01-01T00:00:00+08:00"},
        {
            "event_id": "e4",
            "phone_number": "+8613900000000",
            "type": "stolen",
            "occurred_at": "2026-01-01T00:00:00+08:00",
        },
        {"event_id": "e5", "phone_number": "+8613900000000", "type": "cancelled", "occurred_at": "yesterday"},
    ]
    first = post(client, {"events": batch}, key, secret).json()
    assert first["accepted"] == 2 and first["duplicates"] == 0
    assert [(r["index"], r["reason"].split(" ")[0]) for r in first["rejected"]] == [
        (2, "phone_number"),
        (3, "type"),
        (4, "occurred_at"),
    ]

    again = post(client, {"events": batch}, key, secret, seconds_ago=-1).json()  # re-sent, signed anew (a later second)
    assert again["accepted"] == 0 and again["duplicates"] == 2
    assert NumberEvent.objects.filter(carrier=carrier).count() == 2


def test_a_reassignment_within_the_freeze_period_is_flagged(client):
    carrier, key, secret = member_key(kind="mvno")
    result = post(
        client, {"events": [event("c1", days_ago=100), event("r1", kind="reassigned", days_ago=40)]}, key, secret
    ).json()
    assert result["freeze_breaches"] == 1
    breach = NumberEvent.objects.get(event_id="r1")
    assert breach.freeze_breach and breach.days_since_cancellation == 60


def test_only_active_carriers_may_report(client):
    _platform, key, secret = member_key(kind="internet_platform")
    assert post(client, {"events": [event("x")]}, key, secret).status_code == 403
    _suspended, key, secret = member_key(status="suspended")
    assert post(client, {"events": [event("x")]}, key, secret).status_code == 403


def test_unsigned_forged_and_oversized_batches_are_refused(client):
    _carrier, key, secret = member_key()
    assert client.post(URL, {"events": []}, content_type="application/json").status_code in (401, 403)
    assert post(client, {"events": [event("x")]}, key, protocol.new_secret()).status_code == 401
    too_many = post(client, {"events": [event(f"e{i}") for i in range(10_001)]}, key, secret)
    assert too_many.status_code == 400 and "10000" in too_many.json()["detail"]


def test_the_history_gives_lookups_the_date_the_holder_got_the_number(client):
    carrier, key, secret = member_key()
    post(client, {"events": [event("c1", days_ago=400), event("r1", kind="reassigned", days_ago=250)]}, key, secret)
    expected = timezone.localtime(timezone.now() - timedelta(days=250)).date()
    assert selectors.holder_since("13812345678") == expected
    assert selectors.holder_since("13900000000") is None

    integration = IntegrationFactory()
    registry_services.integration_key_issue(integration=integration, by=None)
    verification_code_send(phone_number="13812345678", client_ip="127.0.0.1")
    lookup, _ = services.lookup_start(phone_number="13812345678", id_last6="40213X", code=latest_code())
    assert lookup.holder_since == expected


def test_a_replayed_request_is_refused(client):
    _carrier, key, secret = member_key()
    body = json.dumps({"events": [event("x")]}).encode()
    headers = signed_headers(body, key_id=key.key_id, secret=secret)
    assert client.post(URL, body, content_type="application/json", **headers).status_code == 200
    replay = client.post(URL, body, content_type="application/json", **headers)
    assert replay.status_code == 401 and "replay" in replay.json()["detail"]


def test_carrier_api_is_in_the_openapi_schema(client):
    assert "/api/v1/carrier/number-events" in client.get("/api/schema/").content.decode()


def test_members_check_up_to_a_thousand_numbers_at_once(client):
    carrier, key, secret = member_key()
    carrier.number_segments = "138"
    carrier.save()
    post(client, {"events": [event("c1", days_ago=300), event("r1", kind="reassigned", days_ago=100)]}, key, secret)
    _platform, pkey, psecret = member_key(kind="internet_platform")
    long_ago = (timezone.localdate() - timedelta(days=400)).isoformat()
    recently = (timezone.localdate() - timedelta(days=50)).isoformat()
    checks = [
        {"phone_number": "+8613812345678", "date": long_ago},
        {"phone_number": "+8613812345678", "date": recently},
        {"phone_number": "+8613312345678", "date": long_ago},
        {"phone_number": "12", "date": long_ago},
    ]
    body = json.dumps({"checks": checks}).encode()
    headers = signed_headers(body, key_id=pkey.key_id, secret=psecret)
    results = client.post("/api/v1/platform/number-checks", body, content_type="application/json", **headers).json()[
        "results"
    ]
    assert [r["answer"] for r in results] == ["yes", "no", "no_data", "invalid"]

    too_many = json.dumps({"checks": checks * 251}).encode()
    headers = signed_headers(too_many, key_id=pkey.key_id, secret=psecret)
    assert (
        client.post("/api/v1/platform/number-checks", too_many, content_type="application/json", **headers).status_code
        == 400
    )


def test_members_pull_the_events_page_by_page_with_a_stable_cursor(client):
    _carrier, key, secret = member_key()
    post(
        client,
        {"events": [event(f"e{i}", phone=f"+86138000000{i:02d}", days_ago=10 + i) for i in range(5)]},
        key,
        secret,
    )
    NumberEvent.objects.update(received_at=timezone.now() - timedelta(seconds=10))
    _platform, pkey, psecret = member_key(kind="internet_platform")

    def page(cursor="", limit=2):
        target = f"/api/v1/platform/number-events?cursor={cursor}&limit={limit}"
        signed = protocol.signed_bytes("GET", target, b"")
        headers = signed_headers(signed, key_id=pkey.key_id, secret=psecret)
        return client.get(target, **headers).json()

    seen, cursor = [], ""
    for _ in range(4):
        result = page(cursor)
        seen += [e["phone_number"] for e in result["events"]]
        cursor = result["next_cursor"]
        if not result["has_more"]:
            break
    assert sorted(seen) == [f"+86138000000{i:02d}" for i in range(5)]
    assert page(cursor)["events"] == []  # nothing new: the same cursor comes back


def test_a_reassignment_is_checked_against_cancellations_stored_earlier_and_odd_ids_survive(client):
    _carrier, key, secret = member_key()
    post(client, {"events": [event("c-old", days_ago=300), event("c-new", days_ago=100)]}, key, secret)
    odd = 'r "1", {x}\\y'
    result = post(
        client,
        {
            "events": [
                event(odd, kind="reassigned", days_ago=50),
                event("r2", phone="+8613900000000", kind="reassigned"),
            ]
        },
        key,
        secret,
        seconds_ago=-1,
    ).json()
    assert result["accepted"] == 2 and result["freeze_breaches"] == 1
    breach = NumberEvent.objects.get(event_id=odd)
    assert breach.freeze_breach and breach.days_since_cancellation == 50  # against the latest cancellation before it
    assert NumberEvent.objects.get(event_id="r2").days_since_cancellation is None  # no cancellation known
