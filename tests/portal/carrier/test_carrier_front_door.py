"""The carrier as a front door (issue 16): a carrier's system, signed as its integration, looks up,
renews and reads the history of its subscribers' numbers; the guard rails (own segments only, rate
limits, strict attestations, the audit trail, the holder's SMS and tracking page)."""

from datetime import timedelta

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.carrier import services as carrier_services
from portal.carrier.models import CarrierAction
from portal.lookup.models import Lookup
from portal.recycling.models import NumberEvent
from portal.sms.models import SmsMessage
from portal.unbinding.models import UnbindRequest
from registry.models import Organisation
from tests.conftest import running_simulator
from tests.portal.carrier.helpers import Carrier, CarrierSystem, attestation, callback_verified
from tests.portal.lookup.helpers import latest_code, simulated_apps, wait_for
from tests.portal.unbinding.helpers import number_with_previous_accounts
from tests.portal.unbinding.test_unbind import signed_get, signed_post
from tests.registry.factories import OrganisationFactory, StaffUserFactory

pytestmark = pytest.mark.django_db(transaction=True)

NUMBER = "13900008801"  # in the carrier's segment 139
OTHERS_NUMBER = "13800008801"  # another carrier's (138)


@pytest.fixture
def system():
    server = CarrierSystem()
    yield server
    server.stop()


@pytest.fixture
def carrier(system):
    return Carrier(system)


@pytest.fixture
def other_carrier(system):
    return Carrier(system, segments="138", name="other-carrier-app")


def _renew(client, carrier, number=NUMBER, **extra):
    return carrier.post(
        client, reverse("api_carrier_renewals"), {"phone_number": "+86" + number, "attestation": attestation(), **extra}
    )


def _reassigned(number: str, days_ago: int = 40) -> None:
    NumberEvent.objects.create(
        carrier=Organisation.objects.filter(number_segments="139").first(),
        event_id=f"R-{number}",
        phone_number=number,
        type="reassigned",
        occurred_at=timezone.now() - timedelta(days=days_ago),
    )


@pytest.mark.worker
def test_a_renewal_asks_every_app_with_unbinding_and_each_ends_done_or_refused(
    client, celery_workers, simulator, carrier, system
):
    """app01 unbinds at once, app06 refuses, app07 accepts for later and answers through the platform
    API; app05 has unbinding but its integration is off, so it waits in the pull queue and answers
    there. Apps without the capability are not asked."""
    platform = OrganisationFactory()
    apps = {
        a.name[-5:]: a
        for a in simulated_apps(
            simulator, ["app01", "app05", "app06", "app07"], supports_unbind=True, organisation=platform
        )
    }
    apps["app05"].integration.enabled = False
    apps["app05"].integration.save()
    (without,) = simulated_apps(simulator, ["app08"], organisation=platform)  # no unbinding capability
    celery_workers.start("carrier", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    _reassigned(NUMBER)

    response = _renew(client, carrier, callback_url=carrier.callback_url)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "renewal" and body["state"] == "running" and body["progress"]["total"] == 4
    assert body["phone_number"] == "139****8801"
    action = CarrierAction.objects.get(public_id=body["id"])
    requests = {r.app_id: r for r in UnbindRequest.objects.filter(lookup=action.lookup)}
    assert set(requests) == {a.pk for a in apps.values()} and without.pk not in requests
    assert requests[apps["app05"].pk].delivery == "pull" and requests[apps["app01"].pk].delivery == "push"
    assert action.lookup.origin == Lookup.Origin.CARRIER_RENEWAL and action.lookup.queries.count() == 0
    deadline = timezone.localtime(action.deadline_at)
    assert deadline.weekday() < 5 and action.deadline_at > timezone.now() + timedelta(days=5)

    wait_for(
        lambda: UnbindRequest.objects.filter(lookup=action.lookup, app=apps["app01"], state="done").exists(),
        timeout=90,
        what="app01 done",
    )
    refused = wait_for(
        lambda: UnbindRequest.objects.filter(lookup=action.lookup, app=apps["app06"], state="refused").first(),
        timeout=90,
        what="app06 refused",
    )
    assert "余额" in refused.refusal_reason
    later = wait_for(
        lambda: UnbindRequest.objects.filter(lookup=action.lookup, app=apps["app07"], state="sent").first(),
        timeout=90,
        what="app07 accepted",
    )
    assert (
        signed_post(
            client, reverse("api_platform_unbind_answer", args=[later.public_id]), {"result": "done"}, "app07"
        ).status_code
        == 200
    )
    # the pull queue: app05's platform fetches the renewal (no accounts listed: every binding before holder_since)
    listed = signed_get(client, reverse("api_platform_unbind_requests") + "?state=open", "app05").json()[
        "unbind_requests"
    ]
    (pulled,) = [r for r in listed if r["phone_number"] == "+86" + NUMBER]
    assert pulled["accounts"] == [] and pulled["holder_since"]
    signed_post(client, reverse("api_platform_unbind_answer", args=[pulled["request_id"]]), {"result": "done"}, "app05")

    action = wait_for(
        lambda: CarrierAction.objects.filter(pk=action.pk, state="completed").first(),
        timeout=30,
        what="the renewal completed",
    )
    assert (action.apps_done, action.apps_refused, action.within_deadline) == (3, 1, True)
    status = carrier.get(client, reverse("api_carrier_renewal", args=[action.public_id])).json()
    assert status["state"] == "completed" and status["progress"] == {
        "total": 4,
        "answered": 4,
        "done": 3,
        "refused": 1,
        "overdue": 0,
    }
    assert sorted(a["state"] for a in status["apps"]) == ["done", "done", "done", "refused"]
    # the holder: one SMS at the start, one at the end, none per app
    texts = list(SmsMessage.objects.filter(phone_number=NUMBER).order_by("pk").values_list("text", flat=True))
    assert len(texts) == 2 and "号码焕新" in texts[0] and "营业厅" in texts[0] and "3 个应用已解除" in texts[1]
    # the carrier's system hears of it, signed with its integration's key
    (callback,) = wait_for(lambda: system.callbacks(), timeout=60, what="the callback")
    payload = callback_verified(callback, carrier.secret)
    assert payload["type"] == "carrier.renewal.completed" and payload["data"]["progress"]["done"] == 3


def test_the_push_of_a_renewal_lists_no_accounts_and_says_since_when(carrier, simulator, client):
    (app,) = simulated_apps(simulator, ["app01"], supports_unbind=True)
    response = _renew(client, carrier, holder_since="2026-03-01")
    assert response.status_code == 201
    request = UnbindRequest.objects.get(app=app)
    assert request.accounts == [] and request.lookup.holder_since.isoformat() == "2026-03-01"
    again = _renew(client, carrier, holder_since="2026-03-01")
    assert again.status_code == 200 and again.json()["id"] == response.json()["id"]  # still running: the same one


def test_another_carriers_number_is_not_found(client, carrier, other_carrier, simulator):
    simulated_apps(simulator, ["app01"], supports_unbind=True)
    for url in ("api_carrier_lookups", "api_carrier_renewals", "api_carrier_number_history"):
        response = carrier.post(client, reverse(url), {"phone_number": OTHERS_NUMBER, "attestation": attestation()})
        assert response.status_code == 404 and response.json()["code"] == "not_found", url
        nobody = carrier.post(client, reverse(url), {"phone_number": "17700000001", "attestation": attestation()})
        assert nobody.status_code == 404, url  # nobody's segment: the same answer
    assert not CarrierAction.objects.exists() and not UnbindRequest.objects.exists()
    # another carrier's renewal cannot be read either
    mine = _renew(client, other_carrier, number=OTHERS_NUMBER, holder_since="2026-01-05").json()["id"]
    assert carrier.get(client, reverse("api_carrier_renewal", args=[mine])).status_code == 404
    assert other_carrier.get(client, reverse("api_carrier_renewal", args=[mine])).status_code == 200


def test_a_platform_members_key_may_not_act_as_a_carrier(client, system):
    platform = Carrier(system, name="platform-app")
    platform.organisation.kind = Organisation.Kind.INTERNET_PLATFORM
    platform.organisation.save()
    response = platform.post(
        client, reverse("api_carrier_renewals"), {"phone_number": NUMBER, "attestation": attestation()}
    )
    assert response.status_code == 403


def test_an_unsigned_or_replayed_call_is_refused(client, carrier):
    body = {"phone_number": NUMBER, "attestation": attestation()}
    assert client.post(reverse("api_carrier_number_history"), body, content_type="application/json").status_code in (
        401,
        403,
    )
    first = carrier.post(client, reverse("api_carrier_number_history"), body, msg_id="msg_same")
    replay = carrier.post(client, reverse("api_carrier_number_history"), body, msg_id="msg_same")
    assert first.status_code == 200 and replay.status_code == 401


@pytest.mark.worker
def test_a_carrier_lookup_answers_counts_only(client, celery_workers, simulator, carrier, system):
    simulated_apps(simulator, ["app01", "app05"])
    celery_workers.start("carrier-lookup", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    number = number_with_previous_accounts(["app01"])
    response = carrier.post(
        client,
        reverse("api_carrier_lookups"),
        {
            "phone_number": number,
            "attestation": attestation("app", "session:8f3a"),
            "callback_url": carrier.callback_url,
        },
    )
    assert response.status_code == 201, response.content
    status_url = reverse("api_carrier_lookup", args=[response.json()["id"]])
    action = CarrierAction.objects.get(public_id=response.json()["id"])
    assert action.lookup.origin == Lookup.Origin.CARRIER_LOOKUP and action.lookup.queries.count() == 2
    wait_for(lambda: carrier.get(client, status_url).json()["state"] == "completed", timeout=90, what="the lookup")
    body = carrier.get(client, status_url).json()
    assert body["summary"]["accounts_total"] >= 1
    for app in body["apps"]:
        assert set(app) == {"app", "category", "state", "accounts", "accounts_previous"}
    text = str(body)
    for account in action.lookup.queries.values_list("accounts", flat=True):
        for a in account:
            assert a["account_ref"] not in text and a["registered_on"] not in text
    (callback,) = wait_for(lambda: system.callbacks(), timeout=60, what="the callback")
    payload = callback_verified(callback, carrier.secret)
    assert payload["type"] == "carrier.lookup.completed" and "account_ref" not in str(payload)
    texts = list(SmsMessage.objects.filter(phone_number=number).values_list("text", flat=True))
    assert any("手机营业厅 App" in t and "账号查询" in t for t in texts)  # the carrier's action
    assert any("查询已完成" in t for t in texts)  # the lookup's own summary


def test_the_holders_sms_and_tracking_page_show_the_carriers_action(client, carrier, simulator):
    simulated_apps(simulator, ["app05"], supports_unbind=True)
    response = _renew(client, carrier, holder_since="2026-02-01")
    assert response.status_code == 201
    sms = SmsMessage.objects.get(phone_number=NUMBER)
    assert carrier.organisation.legal_name in sms.text and "号码焕新" in sms.text
    # the holder proves the number and sees who started what, how and when
    client.post(reverse("unbind_track"), {"phone_number": NUMBER, "captcha_0": "x", "captcha_1": "passed"})
    page = client.post(reverse("unbind_verify"), {"phone_number": NUMBER, "code": latest_code()}, follow=True)
    html = page.content.decode()
    assert 'id="carrier-actions"' in html and carrier.organisation.legal_name in html and "staff-0042" in html
    assert "139****8801" in html and NUMBER not in html
    # a stranger's browser sees nothing of it
    assert 'id="carrier-actions"' not in Client().get(reverse("unbind_track")).content.decode()


def test_every_carrier_action_is_recorded_for_administrators(client, carrier):
    carrier.post(
        client,
        reverse("api_carrier_number_history"),
        {"phone_number": NUMBER, "attestation": attestation("counter", "desk-7")},
    )
    action = CarrierAction.objects.get()
    assert (action.kind, action.channel, action.reference, action.via, action.key_id) == (
        "history",
        "counter",
        "desk-7",
        "api",
        carrier.key.key_id,
    )
    admin = Client()
    admin.force_login(StaffUserFactory(is_superuser=True))
    listing = admin.get(reverse("admin:portal_carrieraction_changelist")).content.decode()
    assert "desk-7" in listing and NUMBER not in listing


def test_the_number_history_says_second_hand_in_a_short_text(client, carrier):
    carrier_org = carrier.organisation
    NumberEvent.objects.create(
        carrier=carrier_org,
        event_id="C1",
        phone_number=NUMBER,
        type="cancelled",
        occurred_at=timezone.now() - timedelta(days=200),
    )
    NumberEvent.objects.create(
        carrier=carrier_org,
        event_id="R1",
        phone_number=NUMBER,
        type="reassigned",
        occurred_at=timezone.now() - timedelta(days=100),
    )
    body = carrier.post(
        client,
        reverse("api_carrier_number_history"),
        {"phone_number": NUMBER, "attestation": attestation()},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    ).json()
    assert body["second_hand"] is True and body["cancellations"] == 1 and body["phone_number"] == "139****8801"
    assert body["reassigned_month"] == timezone.localtime(timezone.now() - timedelta(days=100)).strftime("%Y-%m")
    assert "二次号" in body["text"] and len(body["text"]) < 300
    fresh = carrier.post(
        client, reverse("api_carrier_number_history"), {"phone_number": "13900008802", "attestation": attestation()}
    ).json()
    assert fresh["second_hand"] is False


def test_over_the_carriers_rate_limit_is_429(client, carrier, settings):
    settings.CARRIER_ACTIONS_PER_MINUTE = 2
    body = {"phone_number": NUMBER, "attestation": attestation()}
    codes = [carrier.post(client, reverse("api_carrier_number_history"), body).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = carrier.post(client, reverse("api_carrier_number_history"), body)
    assert refused.json()["code"] == "rate_limited" and 1 <= int(refused["Retry-After"]) <= 61
    assert CarrierAction.objects.count() == 2  # a refused action is not recorded as done


@pytest.mark.parametrize(
    "override, field",
    [
        ({"verified_at": "later"}, "verified_at"),
        ({"verified_at": "2026-12-01T10:00:00"}, "verified_at"),  # no offset
        ({"channel": "phone"}, "channel"),
        ({"reference": ""}, "reference"),
        ({"reference": "x" * 65}, "reference"),
        ({"reference": "王敏"}, "reference"),  # a name is not a reference
        ({"reference": "a b"}, "reference"),
    ],
)
def test_an_attestation_that_breaks_the_rules_is_refused(client, carrier, override, field):
    response = carrier.post(
        client, reverse("api_carrier_renewals"), {"phone_number": NUMBER, "attestation": attestation(**override)}
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_attestation"
    assert field in response.json()["errors"]
    assert not CarrierAction.objects.exists()


def test_an_attestation_from_the_future_or_stale_is_refused(client, carrier):
    for minutes_ago in (-10, 31):  # verified in ten minutes' time; verified 31 minutes ago
        response = carrier.post(
            client,
            reverse("api_carrier_lookups"),
            {"phone_number": NUMBER, "attestation": attestation(minutes_ago=minutes_ago)},
        )
        assert response.status_code == 400 and "verified_at" in response.json()["errors"], minutes_ago


def test_a_body_with_other_keys_or_a_bad_number_is_refused(client, carrier):
    extra = carrier.post(
        client,
        reverse("api_carrier_lookups"),
        {"phone_number": NUMBER, "attestation": attestation(), "id_last6": "38000X"},
    )
    assert extra.status_code == 400
    missing = carrier.post(client, reverse("api_carrier_lookups"), {"attestation": attestation()})
    assert missing.status_code == 400
    bad = carrier.post(client, reverse("api_carrier_lookups"), {"phone_number": "12345", "attestation": attestation()})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_phone"
    listing = carrier.post(client, reverse("api_carrier_lookups"), ["not", "an", "object"])
    assert listing.status_code == 400


def test_a_callback_url_the_outbound_policy_refuses_is_refused(client, carrier, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    response = carrier.post(
        client,
        reverse("api_carrier_lookups"),
        {
            "phone_number": NUMBER,
            "attestation": attestation(),
            "callback_url": "http://169.254.169.254/latest/meta-data",
        },
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_callback_url"


def test_a_renewal_without_a_known_holder_since_asks_for_it(client, carrier, simulator):
    simulated_apps(simulator, ["app01"], supports_unbind=True)
    response = _renew(client, carrier)
    assert response.status_code == 400 and response.json()["code"] == "holder_since_unknown"
    future = _renew(client, carrier, holder_since=(timezone.localdate() + timedelta(days=2)).isoformat())
    assert future.status_code == 400 and future.json()["code"] == "invalid_holder_since"


def test_numbers_are_purged_after_the_retention_and_the_counts_stay(carrier, settings):
    action = CarrierAction.objects.create(
        carrier=carrier.organisation,
        kind="history",
        channel="app",
        reference="s1",
        verified_at=timezone.now(),
        via="api",
        phone_number=NUMBER,
        phone_hash="h",
        state="completed",
        created_at=timezone.now() - timedelta(days=settings.LOOKUP_RETENTION_DAYS + 1),
    )
    assert carrier_services.carrier_actions_purge() == 1
    action.refresh_from_db()
    assert action.phone_number == "" and action.phone_hash == "" and action.reference == "s1"


@pytest.mark.worker
def test_the_simulators_carrier_app_uses_the_carrier_api(live_server, celery_workers):
    """What `make run` shows: app15 plays the demo carrier's app, reading a history and renewing a
    number through the API, and takes the signed callback."""
    carrier = OrganisationFactory(kind=Organisation.Kind.BASIC_CARRIER, number_segments="138")
    celery_workers.start("carrier-sim", "--concurrency", "2")
    with running_simulator(
        "--apps", "15", "--carrier-app", "app15", "--carrier-every", "3", "--portal-url", live_server.url
    ) as url:
        simulated_apps(url, ["app15"], organisation=carrier, supports_lookup=False)
        simulated_apps(url, ["app01"], supports_unbind=True)
        celery_workers.wait_until_ready(1)
        counts = wait_for(
            lambda: (c := httpx.get(f"{url}/_control/carrier").json())["callbacks"] and c,
            timeout=120,
            what="the carrier app's callback",
        )
    assert counts["histories"] >= 1 and counts["renewals"] >= 1 and counts["callbacks_refused"] == 0
    renewal = CarrierAction.objects.filter(kind="renewal", carrier=carrier).first()
    assert renewal.channel == "app" and renewal.reference.startswith("session:app15-") and renewal.via == "api"
