"""CAMARA Number Recycling v0.2: every scenario of ../shared/specs/camara-number-recycling/
number-recycling.feature that applies to two-legged tokens (C02.03 needs a three-legged token,
which the portal does not issue)."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.recycling.models import NumberEvent
from registry import services as registry_services
from registry.models import AccessToken
from tests.registry.factories import IntegrationFactory, OrganisationFactory

pytestmark = pytest.mark.django_db
URL = "/number-recycling/v0.2/check"
CORRELATOR = "b4333c46-49c0-4f62-80d7-f0ef930f1c46"


@pytest.fixture
def member_key():
    integration = IntegrationFactory()
    return registry_services.integration_key_issue(integration=integration, by=None)


@pytest.fixture
def token(client, member_key):
    key, secret = member_key
    response = client.post(
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": key.key_id,
            "client_secret": secret,
            "scope": "number-recycling:check",
        },
    )
    assert response.status_code == 200 and response.json()["token_type"] == "Bearer"
    return response.json()["access_token"]


@pytest.fixture
def history():
    """User A had +8613812345678 until 2024-02-25; user B got it on 2024-09-21 (the spec's scenario 2)."""
    carrier = OrganisationFactory(kind="basic_carrier", number_segments="138 139")
    tz = timezone.get_current_timezone()
    from datetime import datetime

    NumberEvent.objects.create(
        carrier=carrier,
        event_id="c",
        phone_number="13812345678",
        type="cancelled",
        occurred_at=datetime(2024, 2, 25, 10, tzinfo=tz),
    )
    NumberEvent.objects.create(
        carrier=carrier,
        event_id="r",
        phone_number="13812345678",
        type="reassigned",
        occurred_at=datetime(2024, 9, 21, 10, tzinfo=tz),
    )


def check(client, token, body, correlator=CORRELATOR, raw=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    if correlator:
        headers["HTTP_X_CORRELATOR"] = correlator
    return client.post(URL, raw if raw is not None else body, content_type="application/json", **headers)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["message"]
    assert response["x-correlator"] == CORRELATOR


@pytest.mark.parametrize(
    ("specified", "recycled"),
    [
        ("2023-12-22", True),  # 02: user A's date, the number changed hands since
        ("2024-03-01", True),  # nobody held the number that day
        ("2024-09-21", False),  # 01: the day user B signed
        ("2025-06-01", False),  # 01: user B still has it
    ],
)
def test_success_scenarios(client, token, history, specified, recycled):
    response = check(client, token, {"phoneNumber": "+8613812345678", "specifiedDate": specified})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json() == {"phoneNumberRecycled": recycled}
    assert response["x-correlator"] == CORRELATOR


@pytest.mark.parametrize("bad_date", ["2024/10/31", "31-10-2024", "2024-13-01", "20241031", 20241031])
def test_400_01_invalid_specified_date(client, token, history, bad_date):
    assert_error(
        check(client, token, {"phoneNumber": "+8613812345678", "specifiedDate": bad_date}), 400, "INVALID_ARGUMENT"
    )


def test_400_2_no_request_body(client, token):
    assert_error(check(client, token, None, raw=""), 400, "INVALID_ARGUMENT")


def test_400_3_empty_object(client, token):
    assert_error(check(client, token, {}), 400, "INVALID_ARGUMENT")


def test_400_4_specified_date_in_the_future(client, token, history):
    future = (timezone.localdate() + timedelta(days=2)).isoformat()
    assert_error(check(client, token, {"phoneNumber": "+8613812345678", "specifiedDate": future}), 400, "OUT_OF_RANGE")


@pytest.mark.parametrize(
    "body", [[1, 2], "text", {"specifiedDate": "2024-01-01", "phoneNumber": "+8613812345678", "extra": 1}]
)
def test_400_5_body_not_compliant(client, token, body):
    assert_error(check(client, token, body), 400, "INVALID_ARGUMENT")


def test_401_1_expired_token(client, token):
    AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(
        check(client, token, {"phoneNumber": "+8613812345678", "specifiedDate": "2024-01-01"}), 401, "UNAUTHENTICATED"
    )


def test_401_2_invalid_token(client, token):
    assert_error(
        check(client, "not-a-token", {"phoneNumber": "+8613812345678", "specifiedDate": "2024-01-01"}),
        401,
        "UNAUTHENTICATED",
    )


def test_401_3_no_authorization_header(client):
    assert_error(
        check(client, None, {"phoneNumber": "+8613812345678", "specifiedDate": "2024-01-01"}), 401, "UNAUTHENTICATED"
    )


def test_403_1_token_without_the_scope(client, token):
    AccessToken.objects.update(scopes="")
    assert_error(
        check(client, token, {"phoneNumber": "+8613812345678", "specifiedDate": "2024-01-01"}), 403, "PERMISSION_DENIED"
    )


@pytest.mark.parametrize("phone", ["13812345678", "+86 138 1234 5678", "+0123", 8613812345678])
def test_c02_01_phone_number_not_schema_compliant(client, token, phone):
    assert_error(check(client, token, {"phoneNumber": phone, "specifiedDate": "2024-01-01"}), 400, "INVALID_ARGUMENT")


def test_c02_04_missing_phone_number(client, token):
    assert_error(check(client, token, {"specifiedDate": "2024-01-01"}), 422, "MISSING_IDENTIFIER")


@pytest.mark.parametrize("phone", ["+8613312345678", "+14155550100"])  # no reporting carrier; not a mainland mobile
def test_c02_05_service_not_applicable(client, token, history, phone):
    assert_error(
        check(client, token, {"phoneNumber": phone, "specifiedDate": "2024-01-01"}), 422, "SERVICE_NOT_APPLICABLE"
    )


def test_an_invalid_x_correlator_is_refused(client, token):
    response = check(
        client, token, {"phoneNumber": "+8613812345678", "specifiedDate": "2024-01-01"}, correlator="bad correlator!"
    )
    assert response.status_code == 400 and response.json()["code"] == "INVALID_ARGUMENT"


def test_token_endpoint_refuses_wrong_credentials_grants_and_scopes(client, member_key):
    key, secret = member_key
    assert (
        client.post(
            "/oauth/token", {"grant_type": "client_credentials", "client_id": key.key_id, "client_secret": "wrong"}
        ).json()["error"]
        == "invalid_client"
    )
    assert (
        client.post(
            "/oauth/token", {"grant_type": "password", "client_id": key.key_id, "client_secret": secret}
        ).json()["error"]
        == "unsupported_grant_type"
    )
    assert (
        client.post(
            "/oauth/token",
            {
                "grant_type": "client_credentials",
                "client_id": key.key_id,
                "client_secret": secret,
                "scope": "everything",
            },
        ).json()["error"]
        == "invalid_scope"
    )
    basic = base64.b64encode(f"{key.key_id}:{secret}".encode()).decode()
    ok = client.post("/oauth/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert ok.status_code == 200 and ok["Cache-Control"] == "no-store"
    assert AccessToken.objects.get().token_hash != ok.json()["access_token"]  # only the hash is kept
