"""Hostile signature headers (protocol v2, Standard Webhooks) and OAuth credentials: every shape gets a refusal with its
reason (401 from the API), never an exception and never a 500."""

import json
import time

import pytest
from django.urls import reverse

from registry import protocol
from registry import services as registry_services
from registry.protocol import SignatureError
from tests.portal.lookup.test_lookup_staff import started  # noqa: F401  (a lookup row waiting for a member's callback)
from tests.registry.factories import IntegrationFactory, OrganisationFactory
from tests.signing import signed_headers

SECRET = protocol.new_secret()
GOOD = protocol.sign(b"{}", keys=SECRET, key_id="pk_live")
HOSTILE_TIMESTAMPS = ["²", "١٢٣", "１２３", "٣", "9" * 5000, "-1", "+1", "1e9", " 1", "1 ", "1.5", "0x10", "Â²"]
HOSTILE_SIGNATURES = [
    "v1,²" + "A" * 43,
    "v1,é" * 11,
    "v1," + "A" * 43 + "\x00",
    "v1," + "A" * 200,
    "A" * 44,
    "v1 ," + "A" * 44,
    " v1," + "A" * 44,
    "v1," + "A" * 44 + " ",
    ("v1," + "A" * 44 + " ") * 8 + "v1," + "A" * 44,
    "v1,",
    "V1," + "A" * 44,
]
HOSTILE_MESSAGE_IDS = ["msg.1", "消息", "a\x00b", "a" * 129, "msg 1", "msg_1\n"]
HOSTILE_KEY_IDS = ["密钥", "a\x00b", "a" * 65, "pk live", "pk_live\n"]


def secrets_for(key_id):
    return [SECRET] if key_id == "pk_live" else []


@pytest.mark.parametrize("timestamp", HOSTILE_TIMESTAMPS)
def test_attack_timestamp_header_in_non_ascii_digits_or_any_shape_is_refused_with_a_reason(timestamp):
    with pytest.raises(SignatureError, match="Unix seconds in ASCII digits"):
        protocol.verify({**GOOD, protocol.HEADER_TIMESTAMP: timestamp}, b"{}", keys=[SECRET])


@pytest.mark.parametrize("signature", HOSTILE_SIGNATURES)
def test_attack_signature_header_that_is_not_v1_base64_is_refused_before_comparing(signature):
    with pytest.raises(SignatureError, match="v1,<base64>"):
        protocol.verify({**GOOD, protocol.HEADER_SIGNATURE: signature}, b"{}", keys=[SECRET])


@pytest.mark.parametrize("msg_id", HOSTILE_MESSAGE_IDS)
def test_attack_webhook_id_with_a_dot_or_outside_its_alphabet_is_refused_before_comparing(msg_id):
    with pytest.raises(SignatureError, match="webhook-id must be"):
        protocol.verify({**GOOD, protocol.HEADER_ID: msg_id}, b"{}", keys=[SECRET])


@pytest.mark.parametrize("key_id", HOSTILE_KEY_IDS)
def test_attack_key_id_header_outside_printable_ascii_is_refused_before_any_lookup(key_id):
    asked = []
    with pytest.raises(SignatureError, match="printable ASCII"):
        protocol.verify_caller({**GOOD, protocol.HEADER_KEY_ID: key_id}, b"{}", secrets_for_key_id=asked.append)
    assert asked == []  # the database never sees it (a NUL makes PostgreSQL raise)


@pytest.fixture
def carrier_key(db):
    integration = IntegrationFactory(app__organisation=OrganisationFactory(kind="basic_carrier"))
    return registry_services.integration_key_issue(integration=integration, by=None)


def hostile(headers: dict, **replace) -> dict:
    names = {
        "key_id": protocol.HEADER_KEY_ID,
        "timestamp": protocol.HEADER_TIMESTAMP,
        "signature": protocol.HEADER_SIGNATURE,
        "msg_id": protocol.HEADER_ID,
    }
    for field, value in replace.items():
        headers["HTTP_" + names[field].upper().replace("-", "_")] = value
    return headers


@pytest.mark.django_db
@pytest.mark.parametrize(
    "replace",
    [
        {"timestamp": "²"},
        {"timestamp": "١٢٣"},
        {"timestamp": "9" * 5000},
        {"signature": "v1,²" + "A" * 43},
        {"key_id": "密钥"},
        {"key_id": "a\x00b"},
        {"msg_id": "msg.1"},
        {"msg_id": "消息"},
    ],
)
def test_attack_hostile_signature_headers_get_401_with_the_reason_from_every_signed_endpoint(
    client, started, carrier_key, replace
):  # noqa: F811
    key, secret = carrier_key
    events = json.dumps({"events": []}).encode()
    answer = json.dumps({"result": "done"}).encode()
    report = json.dumps({"bindings_removed": 1}).encode()
    import uuid

    calls = [
        ("get", "/api/v1/platform/number-events", b""),
        ("get", "/api/v1/platform/unbind-requests", b""),
        ("get", "/api/v1/platform/complaints", b""),
        ("post", "/api/v1/carrier/number-events", events),
        ("post", f"/api/v1/platform/unbind-requests/{uuid.uuid4()}/answer", answer),
        ("post", f"/api/v1/platform/notices/{uuid.uuid4()}/report", report),
        (
            "post",
            reverse("api_platform_lookup_results", args=[started["query"].request_id]),
            json.dumps({"accounts": []}).encode(),
        ),
    ]
    for method, path, body in calls:
        headers = hostile(signed_headers(body or path.encode(), key_id=key.key_id, secret=secret), **replace)
        if method == "get":
            response = client.get(path, **headers)
        else:
            response = client.post(path, body, content_type="application/json", **headers)
        assert response.status_code == 401, (path, response.status_code, response.content[:300])
        reason = response.json().get("detail") or response.json().get("error")
        assert "ASCII" in reason or "v1,<base64>" in reason or "webhook-id must be" in reason, (path, reason)


@pytest.mark.django_db
def test_a_well_formed_signature_still_opens_the_member_api(client, carrier_key):
    key, secret = carrier_key
    path = "/api/v1/platform/number-events"
    response = client.get(path, **signed_headers(path.encode(), key_id=key.key_id, secret=secret))
    assert response.status_code == 200, response.content[:300]
    stale = signed_headers(path.encode(), key_id=key.key_id, secret=secret, seconds_ago=int(time.time()) - 1)
    assert client.get(path, **stale).status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"client_secret": "密码"},  # hmac.compare_digest raises on non-ASCII text
        {"client_id": "a\x00b"},  # PostgreSQL refuses a NUL in a query
        {"client_id": "密钥"},
    ],
)
def test_attack_odd_oauth_credentials_get_invalid_client_not_a_500(client, carrier_key, fields):
    key, secret = carrier_key
    data = {"grant_type": "client_credentials", "client_id": key.key_id, "client_secret": secret, **fields}
    response = client.post("/oauth/token", data)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


@pytest.mark.django_db
@pytest.mark.parametrize("fields", [{"client_secret": 12}, {"client_id": ["a"]}, {"scope": ["number-recycling:check"]}])
def test_attack_oauth_credentials_that_are_not_strings_get_invalid_request(client, carrier_key, fields):
    key, secret = carrier_key
    data = {"grant_type": "client_credentials", "client_id": key.key_id, "client_secret": secret, **fields}
    response = client.post("/oauth/token", data, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "received_from=%F3%88%96%AC",
        "received_to=2026-13-01",
        "received_from=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-01-01",
        "state=nonsense",
    ],
)  # ２０２６: full-width digits
def test_attack_platform_complaints_filter_that_is_no_date_gets_400_not_500(client, query):
    """Found by the schemathesis run: the list passed any string to the date filter."""
    from tests.complaints.helpers import member_system

    key, secret = member_system(OrganisationFactory())
    path = f"/api/v1/platform/complaints?{query}"
    response = client.get(path, **signed_headers(path.encode(), key_id=key.key_id, secret=secret))
    assert response.status_code == 400, response.content[:300]
    good = "/api/v1/platform/complaints?received_from=2026-01-01"
    assert client.get(good, **signed_headers(good.encode(), key_id=key.key_id, secret=secret)).status_code == 200
