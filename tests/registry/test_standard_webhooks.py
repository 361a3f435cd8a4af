"""Issue 14 §2: every message the portal signs is Standard Webhooks, checked with clients nobody here
wrote: the `standardwebhooks` package verifies what the portal sends (captured by a member platform on
loopback) and signs what the portal receives; the CloudEvents SDK parses every notice."""

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from django.urls import reverse
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from portal.lookup import fanout
from portal.lookup.models import LookupQuery
from portal.lookup.services import lookup_start
from portal.notices import delivery as notices
from portal.notices.models import NoticeAttempt, NoticeDelivery
from portal.notices.services import notice_subscription_save
from portal.unbinding import services
from portal.unbinding.models import UnbindRequest
from portal.verification.services import verification_code_send
from registry import protocol
from registry import services as registry_services
from registry.endpoint_check import integration_check_endpoint
from tests.member_server import MemberServer
from tests.portal.lookup.helpers import latest_code
from tests.portal.lookup.test_lookup_staff import started  # noqa: F401  (a lookup row waiting for a member's callback)
from tests.portal.outbound.test_outbound import no_stray_tasks  # noqa: F401
from tests.registry.factories import (
    IntegrationFactory,
    MemberAppFactory,
    OrganisationFactory,
)


class LibraryMember(MemberServer):
    """Speaks only through the standardwebhooks library: it verifies every request with
    `Webhook(secret).verify` (401 if that fails) and signs every answer with `Webhook(secret).sign`.
    `secrets[app]` is the one secret it holds for that app."""

    def answer(self, name, request):
        try:
            payload = Webhook(self.secrets[name]).verify(request["body"], request["headers"])
        except WebhookVerificationError as error:
            return 401, {"error": str(error)}, None
        path = request["path"]
        if path.endswith(protocol.NUMBER_NOTICES_PATH):
            return 200, {"received": True}, None
        if path.endswith(protocol.IDENTITY_CHECK_PATH):
            answer = {"id_last6_digest": "not_available"}
        elif path.endswith(protocol.UNBIND_PATH):
            answer = {"state": "done"}
        else:  # someone else's ID characters: the account is likely the previous holder's
            other = protocol.id_digest(payload["id_challenge"], "12345X")
            answer = {"accounts": [{"account_ref": "u1", "registered_on": "2018-01-01", "id_last6_digest": other}]}
        return 200, answer, self.secrets[name]

    def sign(self, secret, reply):
        return library_headers(secret, reply)


def library_headers(secret: str, body: bytes, *, msg_id: str = "", at: datetime | None = None) -> dict[str, str]:
    """A message signed by the standardwebhooks library, as a member signs with it."""
    msg_id = msg_id or f"msg_{time.time_ns()}"
    at = at or datetime.now(tz=timezone.utc)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


def as_client_kwargs(headers: dict[str, str]) -> dict[str, str]:
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


def verified_by_library(request: dict, secret: str) -> dict:
    """What the standardwebhooks library makes of a captured request (it raises if it is not valid)."""
    return Webhook(secret).verify(request["body"], request["headers"])


@pytest.fixture
def member():
    capturing = LibraryMember()
    yield capturing
    capturing.stop()


def run_lookup(phone: str):
    """A citizen's lookup: the carrier's identity check (in lookup_start), then the apps' calls, made
    in this process as a worker makes them."""

    verification_code_send(phone_number=phone, client_ip="127.0.0.1")
    lookup, _token = lookup_start(phone_number=phone, id_last6="40213X", code=latest_code())
    fanout.run(list(lookup.queries.values_list("pk", flat=True)))
    return lookup


@pytest.mark.django_db(transaction=True)
def test_lookup_identity_check_and_unbind_requests_verify_with_the_standardwebhooks_library(member, no_stray_tasks):  # noqa: F811
    carrier = OrganisationFactory(kind="basic_carrier", number_segments="139")
    member.register(
        "carrier-app", organisation=carrier, category="telecom", supports_identity_check=True, supports_lookup=False
    )
    app, _key, secret = member.register("app-a", supports_unbind=True)

    lookup = run_lookup("13900001234")

    (check,) = member.received(protocol.IDENTITY_CHECK_PATH)
    assert verified_by_library(check, member.secrets["carrier-app"])["id_challenge"]
    (request,) = member.received(protocol.ACCOUNT_LOOKUP_PATH)
    assert verified_by_library(request, secret)["phone_number"] == "+8613900001234"
    # the portal took the answers the library signed
    query = lookup.queries.get(app=app)
    assert (query.state, query.accounts_previous) == ("answered", 1)
    lookup.refresh_from_db()
    assert lookup.identity_check == "not_available"

    (unbind,) = services.unbind_request_create(lookup=lookup)
    assert services.unbind_deliver(request_id=unbind.pk) in ("done", "skipped")  # "skipped": a worker was quicker
    (sent,) = member.received(protocol.UNBIND_PATH)
    assert verified_by_library(sent, secret)["accounts"] == [{"account_ref": "u1", "registered_on": "2018-01-01"}]
    assert UnbindRequest.objects.get(pk=unbind.pk).state == "done"  # the library-signed answer was taken
    for sent in member.requests:  # the headers are the spec's, and nothing else signs
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= {k.lower() for k in sent["headers"]}
        assert not {k for k in sent["headers"] if k.lower().startswith("x-portal")}


@pytest.mark.django_db(transaction=True)
def test_every_notice_verifies_with_the_library_and_parses_with_the_cloudevents_sdk(member, no_stray_tasks):  # noqa: F811
    app = MemberAppFactory(name="notified", supports_lookup=False)
    subscription, secret = notice_subscription_save(
        app=app, webhook_url=f"{member.url}/notified{protocol.NUMBER_NOTICES_PATH}", event_types=["reassigned"]
    )
    member.secrets["notified"] = secret
    assert secret.startswith("whsec_")
    delivery = NoticeDelivery.objects.create(
        subscription=subscription,
        after_event_id=0,
        up_to_event_id=0,
        event_types="reassigned",
        numbers=1,
        max_attempts=3,
    )
    notices.run([str(delivery.pk)])
    assert NoticeAttempt.objects.get(delivery=delivery).status_code == 200

    (notice,) = member.received(protocol.NUMBER_NOTICES_PATH)
    assert verified_by_library(notice, secret)["id"] == str(delivery.pk)
    # structured mode (application/cloudevents+json), as the portal sends it
    event = from_http_event(HTTPMessage(headers=notice["headers"], body=notice["body"]))
    assert event.get_id() == notice["headers"]["webhook-id"] == str(delivery.pk)  # one id: the idempotency key
    assert (event.get_type(), event.get_source(), event.get_specversion()) == (
        protocol.NOTICE_TYPE,
        protocol.NOTICE_SOURCE,
        protocol.NOTICE_SPECVERSION,
    )
    assert event.get_extension("reportpath") == reverse("api_platform_notice_report", args=[delivery.pk])
    assert event.get_data() == {"events": []}


@pytest.mark.django_db(transaction=True)
def test_during_a_rotation_a_member_holding_either_secret_verifies(member, no_stray_tasks):  # noqa: F811
    app, old_key, old_secret = member.register("rotating")
    _new_key, new_secret = registry_services.integration_key_issue(integration=app.integration, by=None)

    run_lookup("13900005678")
    (request,) = member.received(protocol.ACCOUNT_LOOKUP_PATH)
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2  # one per valid key
    verified_by_library(request, old_secret)
    verified_by_library(request, new_secret)
    assert LookupQuery.objects.get(app=app).state == "answered"  # its answer, under the old key, was taken

    registry_services.integration_key_revoke(key=old_key)
    member.requests.clear()
    run_lookup("13900005679")
    (request,) = member.received(protocol.ACCOUNT_LOOKUP_PATH)
    verified_by_library(request, new_secret)
    with pytest.raises(WebhookVerificationError):
        verified_by_library(request, old_secret)  # a revoked key signs nothing any more
    # a member that still holds only the revoked key refuses the portal's message
    assert LookupQuery.objects.filter(app=app).latest("pk").error == "HTTP 401"


@pytest.mark.django_db
def test_lookup_callback_signed_by_the_library_settles_the_row(client, started):  # noqa: F811
    other_person = protocol.id_digest(started["query"].id_check["challenge"], "12345X")
    body = json.dumps(
        {"accounts": [{"account_ref": "u1", "registered_on": "2018-01-01", "id_last6_digest": other_person}]}
    ).encode()
    headers = {protocol.HEADER_KEY_ID: started["key"].key_id, **library_headers(started["secret"], body)}
    url = reverse("api_platform_lookup_results", args=[started["query"].request_id])
    assert client.post(url, body, content_type="application/json", **as_client_kwargs(headers)).status_code == 204
    assert LookupQuery.objects.get(pk=started["query"].pk).state == "answered"


@pytest.fixture
def platform_key(db):
    integration = IntegrationFactory()
    return registry_services.integration_key_issue(integration=integration, by=None)


def member_api_get(client, key, secret, path, **signing):
    """A member API GET: the library signs the target (path and query) as the body, as protocol v2 says."""
    headers = {protocol.HEADER_KEY_ID: key.key_id, **library_headers(secret, path.encode(), **signing)}
    return client.get(path, **as_client_kwargs(headers))


def test_member_api_requests_signed_by_the_library_open_the_api(client, platform_key):
    key, secret = platform_key
    assert member_api_get(client, key, secret, "/api/v1/platform/number-events?limit=1").status_code == 200


def test_attack_replayed_webhook_id_is_refused(client, platform_key):
    key, secret = platform_key
    path = "/api/v1/platform/number-events"
    assert member_api_get(client, key, secret, path, msg_id="msg_once").status_code == 200
    # re-signed a second later (a new signature, as an attacker who holds a captured request cannot,
    # but as a replay under the same id must not be taken either)
    again = member_api_get(
        client, key, secret, path, msg_id="msg_once", at=datetime.now(tz=timezone.utc) - timedelta(seconds=1)
    )
    assert again.status_code == 401 and "replay" in again.json()["detail"]


def test_attack_forged_signature_is_refused(client, platform_key):
    key, _secret = platform_key
    forged = member_api_get(client, key, protocol.new_secret(), "/api/v1/platform/number-events")
    assert forged.status_code == 401 and "does not match" in forged.json()["detail"]


def test_attack_timestamp_outside_the_five_minute_tolerance_is_refused(client, platform_key):
    key, secret = platform_key
    path = "/api/v1/platform/number-events"
    for skew in (timedelta(minutes=-6), timedelta(minutes=6)):
        stale = member_api_get(client, key, secret, path, at=datetime.now(tz=timezone.utc) + skew)
        assert stale.status_code == 401 and "away from the portal's clock" in stale.json()["detail"]


def test_attack_the_library_refuses_a_portal_message_whose_body_or_id_was_changed():
    secret = protocol.new_secret()
    body = protocol.encode({"request_id": "r1"})
    headers = protocol.sign(body, keys=secret)
    assert Webhook(secret).verify(body, headers) == {"request_id": "r1"}
    for tampered_body, tampered in ((body + b" ", headers), (body, {**headers, "webhook-id": "msg_other"})):
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(tampered_body, tampered)


@pytest.mark.django_db
def test_issued_secrets_are_whsec_stored_encrypted_and_read_back(platform_key):
    import base64

    key, secret = platform_key
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    key.refresh_from_db()
    assert secret not in key.secret_encrypted and secret.removeprefix("whsec_") not in key.secret_encrypted
    assert key.secret() == secret
    body = b"{}"
    assert Webhook(key.secret()).verify(body, protocol.sign(body, keys=secret)) == {}


# --- the acceptance's other clients: a pulled unbind request answered, "test my endpoint", the simulator ---


@pytest.mark.django_db(transaction=True)
def test_an_unbind_answer_signed_by_the_library_is_taken_through_the_member_api(client, member, no_stray_tasks):  # noqa: F811
    app, key, secret = member.register("pulling", supports_unbind=False)  # no push: the member pulls and answers
    lookup = run_lookup("13900004321")
    (unbind,) = services.unbind_request_create(lookup=lookup)
    path = "/api/v1/platform/unbind-requests?state=open"
    listed = member_api_get(client, key, secret, path)
    assert [r["request_id"] for r in listed.json()["unbind_requests"]] == [str(unbind.public_id)]

    body = json.dumps({"result": "refused", "reason": "账号仍在使用，请联系客服"}).encode()
    headers = {protocol.HEADER_KEY_ID: key.key_id, **library_headers(secret, body)}
    answer = client.post(
        reverse("api_platform_unbind_answer", args=[unbind.public_id]),
        body,
        content_type="application/json",
        **as_client_kwargs(headers),
    )
    assert answer.status_code == 200, answer.content
    assert UnbindRequest.objects.get(pk=unbind.pk).state == "refused"


@pytest.mark.django_db
def test_test_my_endpoint_passes_every_point_against_a_member_using_only_the_library(member):
    from django.utils import translation

    app, _key, _secret = member.register("selftest-lib")
    with translation.override("en"):
        points = integration_check_endpoint(integration=app.integration)
    assert all(p.passed for p in points), [(p.name, p.detail) for p in points if not p.passed]
    assert {"Accepts the portal's signature", "Signs its answer", "Refuses a forged signature"} <= {
        p.name for p in points
    }
    first, forged = member.received(protocol.ACCOUNT_LOOKUP_PATH)
    assert verified_by_library(first, member.secrets["selftest-lib"])["request_id"].startswith("selftest-")
    with pytest.raises(WebhookVerificationError):
        verified_by_library(forged, member.secrets["selftest-lib"])


def test_the_simulator_takes_a_request_signed_by_the_library_and_its_answer_verifies_with_it(simulator):
    import httpx

    from portal.devtools.demo import demo_key_secret

    secret = demo_key_secret("app01")
    body = protocol.encode(
        protocol.account_lookup_request(
            request_id=f"lib-{time.time_ns()}", phone_e164="+8613812345678", holder_since=None, id_challenge="ab" * 32
        )
    )
    answer = httpx.post(
        f"{simulator}/app01{protocol.ACCOUNT_LOOKUP_PATH}",
        content=body,
        timeout=10,
        headers={"Content-Type": "application/json", **library_headers(secret, body)},
    )
    assert answer.status_code == 200
    assert "accounts" in Webhook(secret).verify(answer.content, dict(answer.headers))
    forged = httpx.post(
        f"{simulator}/app01{protocol.ACCOUNT_LOOKUP_PATH}",
        content=body,
        timeout=10,
        headers={"Content-Type": "application/json", **library_headers(protocol.new_secret(), body)},
    )
    assert forged.status_code == 401
