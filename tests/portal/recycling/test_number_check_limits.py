"""Members' recycling checks (CAMARA and bulk): a rate limit per client, shared through Redis, answered
with CAMARA's 429 TOO_MANY_REQUESTS (the bulk check: the portal's refusal body); and the audit trail of
who checked which number (hashed), when, through which API, with which answer."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.core.privacy import keyed_hash
from portal.lookup import services
from portal.recycling.checks import (
    NUMBER_CHECK_AUDIT_BUFFER,
    CheckClient,
    _number_check_audit_write,
    number_check_audit_flush,
    number_check_audit_record,
)
from portal.recycling.models import NumberCheckAudit
from registry import services as registry_services
from tests.portal.recycling.test_number_recycling_camara import (  # noqa: F401  (fixture)
    CORRELATOR,
    URL,
    check,
    history,
)
from tests.registry.factories import (
    IntegrationFactory,
    OrganisationFactory,
    StaffUserFactory,
)
from tests.signing import signed_headers

pytestmark = pytest.mark.django_db
BULK = "/api/v1/platform/number-checks"


def member_client(client):
    """A member's integration, its key, and a CAMARA bearer token."""
    integration = IntegrationFactory(app__organisation=OrganisationFactory(kind="internet_platform"))
    key, secret = registry_services.integration_key_issue(integration=integration, by=None)
    response = client.post(
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": key.key_id,
            "client_secret": secret,
            "scope": "number-recycling:check",
        },
    )
    return key, secret, response.json()["access_token"]


def bulk(client, key, secret, checks):
    body = json.dumps({"checks": checks}).encode()
    return client.post(
        BULK, body, content_type="application/json", **signed_headers(body, key_id=key.key_id, secret=secret)
    )


def early_in_window(seconds: int, margin: float):
    """Start at least `margin` seconds before a rate window ends, so a test's calls share it (not a timing
    assertion)."""
    while time.time() % seconds > seconds - margin:
        time.sleep(0.02)


def test_attack_camara_flood_from_one_client_gets_429_too_many_requests(client, history, settings):  # noqa: F811
    settings.NUMBER_CHECKS_PER_SECOND = 2
    _key, _secret, token = member_client(client)
    _other_key, _other_secret, other_token = member_client(client)
    body = {"phoneNumber": "+8613812345678", "specifiedDate": "2024-03-01"}
    early_in_window(1, 0.7)
    answers = [check(client, token, body) for _ in range(4)]
    other = check(client, other_token, body)

    assert [a.status_code for a in answers[:2]] == [200, 200]
    refused = answers[3]
    assert refused.status_code == 429
    assert refused.json() == {
        "status": 429,
        "code": "TOO_MANY_REQUESTS",
        "message": "Either out of resource quota or reaching rate limiting.",
    }
    assert refused["x-correlator"] == CORRELATOR and int(refused["Retry-After"]) >= 1
    assert other.status_code == 200  # the limit is each client's own


def test_attack_bulk_flood_gets_429_in_the_portal_refusal_body(client, settings):
    settings.NUMBER_CHECK_BULK_NUMBERS_PER_MINUTE = 5
    key, secret, _token = member_client(client)
    checks = [{"phone_number": f"+861381234567{n}", "date": "2024-03-01"} for n in range(4)]
    early_in_window(60, 5)
    assert bulk(client, key, secret, checks).status_code == 200
    refused = bulk(client, key, secret, checks[::-1])  # 8 numbers in the minute, 5 allowed (another body: no replay)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    body = refused.json()
    assert set(body) == {"code", "detail", "retry_at"} and body["code"] == "rate_limited" and body["retry_at"]
    assert "本分钟核验的号码过多" in body["detail"]


def test_audit_trail_records_who_checked_which_number_hashed(client, history):  # noqa: F811
    key, secret, token = member_client(client)
    assert check(client, token, {"phoneNumber": "+8613812345678", "specifiedDate": "2024-03-01"}).status_code == 200
    assert check(client, token, {"phoneNumber": "+8617712345678", "specifiedDate": "2024-03-01"}).status_code == 422
    bulk(
        client,
        key,
        secret,
        [{"phone_number": "+8613812345678", "date": "2025-06-01"}, {"phone_number": "12", "date": "2025-06-01"}],
    )  # an invalid number names nobody

    from portal.core import ratelimit

    buffered = ratelimit.redis_client().lrange(NUMBER_CHECK_AUDIT_BUFFER, 0, -1)
    assert len(buffered) == 3 and not any(b"13812345678" in record for record in buffered)
    assert number_check_audit_flush() == 3
    rows = list(NumberCheckAudit.objects.order_by("checked_at"))
    integration = key.integration
    assert {(r.api, r.answer, r.specified_date.isoformat()) for r in rows} == {
        ("camara", "yes", "2024-03-01"),
        ("camara", "no_data", "2024-03-01"),
        ("bulk", "no", "2025-06-01"),
    }
    assert all(
        r.key_id == key.key_id
        and r.integration_id == integration.pk
        and r.organisation_id == integration.app.organisation_id
        for r in rows
    )
    assert {r.phone_hash for r in rows} == {keyed_hash("phone", "13812345678"), keyed_hash("phone", "17712345678")}
    assert number_check_audit_flush() == 0  # the buffer was emptied


def test_a_flush_read_twice_stores_each_check_once(client):
    by = CheckClient(None, IntegrationFactory().pk, "k1")
    number_check_audit_record(by=by, api="bulk", answers=[("13812345678", "2025-01-01", "no")] * 3)
    from portal.core import ratelimit

    records = ratelimit.redis_client().lrange(NUMBER_CHECK_AUDIT_BUFFER, 0, -1)
    _number_check_audit_write(records)  # a flush that died before trimming the buffer
    assert number_check_audit_flush() == 3
    assert NumberCheckAudit.objects.count() == 3


def test_audit_trail_is_purged_with_the_other_personal_data(settings):
    settings.NUMBER_CHECK_AUDIT_RETENTION_DAYS = 90
    by = CheckClient(None, IntegrationFactory().pk, "k1")
    number_check_audit_record(by=by, api="camara", answers=[("13812345678", "2025-01-01", "no")] * 2)
    number_check_audit_flush()
    old = NumberCheckAudit.objects.first()
    NumberCheckAudit.objects.filter(pk=old.pk).update(checked_at=timezone.now() - timedelta(days=91))
    services.lookup_purge()
    assert not NumberCheckAudit.objects.filter(pk=old.pk).exists() and NumberCheckAudit.objects.count() == 1


def test_administrators_read_the_audit_trail_and_search_it_by_number(client):
    by = CheckClient(None, IntegrationFactory().pk, "member-key-1")
    number_check_audit_record(
        by=by, api="camara", answers=[("13812345678", "2025-01-01", "yes"), ("13900000000", "2025-01-01", "no")]
    )
    number_check_audit_flush()
    client.force_login(StaffUserFactory(is_superuser=True, is_staff=True))
    page = client.get("/admin/portal/numbercheckaudit/", {"q": "+86 138 1234 5678"})
    assert page.status_code == 200
    assert (
        page.content.decode().count("member-key-1") == 1 and keyed_hash("phone", "13812345678") in page.content.decode()
    )
    row = NumberCheckAudit.objects.first()
    assert client.post(f"/admin/portal/numbercheckaudit/{row.pk}/change/", {"answer": "no"}).status_code == 403
    assert client.post(f"/admin/portal/numbercheckaudit/{row.pk}/delete/", {"post": "yes"}).status_code == 403
