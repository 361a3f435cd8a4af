"""Asking for an SMS code (pages and API): nobody can bomb or lock out someone else's phone, and nothing
said before the code is proven tells anything about a number."""

import logging
from datetime import timedelta

import pytest
from captcha.models import CaptchaStore
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.lookup.models import Lookup
from portal.lookup.services import lookup_start
from portal.sms.models import SmsMessage
from portal.verification import services
from portal.verification.models import VerificationCode
from tests.portal.lookup.helpers import latest_code, page_text

pytestmark = pytest.mark.django_db

API = "/api/v1/verification-codes"
PASSED = {"captcha_key": "x", "captcha_answer": "passed"}  # the test settings accept "passed"
HOLDER, STRANGER, PROXY = "198.51.100.7", "203.0.113.9", "10.0.0.1"


def codes_sent() -> int:
    return SmsMessage.objects.filter(purpose="verification_code").count()


def ask(client, phone="13812345678", *, address=HOLDER, **extra):
    return client.post(
        API, {"phone_number": phone} | PASSED, content_type="application/json", REMOTE_ADDR=address, **extra
    )


@pytest.fixture
def one_app():
    from registry import services as registry_services
    from tests.registry.factories import IntegrationFactory

    integration = IntegrationFactory()
    registry_services.integration_key_issue(integration=integration, by=None)
    return integration.app


# --- JSON only, and a picture check first ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "text/plain"]
)
def test_attack_cross_site_form_post_to_the_code_api_is_refused(client, content_type):
    """The bodies a web page can make its visitors' browsers post cross-site without a preflight."""
    body = {
        "application/x-www-form-urlencoded": "phone_number=13812345678&captcha_key=x&captcha_answer=passed",
        "text/plain": '{"phone_number": "13812345678", "captcha_key": "x", "captcha_answer": "passed"}',
    }
    response = client.post(
        API, body.get(content_type, "--b\r\n"), content_type=content_type, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type" and "JSON" in response.json()["detail"]
    assert codes_sent() == 0


def test_malformed_json_is_refused_clearly(client):
    response = client.post(API, "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_json" and codes_sent() == 0


def test_attack_code_api_without_the_picture_check_sends_nothing(client):
    response = client.post(API, {"phone_number": "13812345678"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "captcha_required" and "/api/v1/captcha" in response.json()["detail"]
    assert codes_sent() == 0


def test_the_picture_check_is_fetched_first_and_tried_only_once(client):
    challenge = client.post("/api/v1/captcha")
    assert challenge.status_code == 201
    body = challenge.json()
    image = client.get(body["image_url"].removeprefix("http://testserver"))
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    answer = CaptchaStore.objects.get(hashkey=body["captcha_key"]).response

    wrong = client.post(
        API,
        {"phone_number": "13812345678", "captcha_key": body["captcha_key"], "captcha_answer": "zzzz"},
        content_type="application/json",
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "captcha_invalid"
    again = client.post(
        API,
        {"phone_number": "13812345678", "captcha_key": body["captcha_key"], "captcha_answer": answer},
        content_type="application/json",
    )
    assert again.status_code == 400 and again.json()["code"] == "captcha_invalid"  # the key died with the wrong try
    assert codes_sent() == 0

    fresh = client.post("/api/v1/captcha").json()
    right = client.post(
        API,
        {
            "phone_number": "13812345678",
            "captcha_key": fresh["captcha_key"],
            "captcha_answer": CaptchaStore.objects.get(hashkey=fresh["captcha_key"]).response,
        },
        content_type="application/json",
    )
    assert right.status_code == 202 and codes_sent() == 1


def test_the_schema_says_json_only_and_the_picture_check(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    operation = schema["paths"]["/api/v1/verification-codes"]["post"]
    assert list(operation["requestBody"]["content"]) == ["application/json"]
    request = schema["components"]["schemas"]["VerificationCodeRequest"]
    assert {"phone_number", "captcha_key", "captcha_answer"} <= set(request["required"])
    assert {"202", "400", "415", "429", "503"} <= set(operation["responses"])
    assert "/api/v1/captcha" in schema["paths"]


# --- The client's address --------------------------------------------------------------------------------


def test_attack_spoofed_leftmost_forwarded_for_is_ignored(rf, settings):
    from portal.core.client_address import client_address

    settings.TRUSTED_PROXY_COUNT = 1  # our proxy appends the address it was reached from
    request = rf.get("/", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {HOLDER}", REMOTE_ADDR=PROXY)
    assert client_address(request) == HOLDER
    settings.TRUSTED_PROXY_COUNT = 2  # two of ours: the second appended the first's address
    request = rf.get("/", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {HOLDER}, 10.0.0.2", REMOTE_ADDR=PROXY)
    assert client_address(request) == HOLDER


def test_a_forwarded_for_that_did_not_pass_our_proxies_is_not_read(rf, settings):
    from portal.core.client_address import client_address

    assert client_address(rf.get("/", HTTP_X_FORWARDED_FOR="1.2.3.4", REMOTE_ADDR=HOLDER)) == HOLDER  # none trusted
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(rf.get("/", HTTP_X_FORWARDED_FOR="1.2.3.4", REMOTE_ADDR=HOLDER)) == HOLDER  # too few hops
    assert client_address(rf.get("/", HTTP_X_FORWARDED_FOR="x, not-an-address, 10.0.0.2", REMOTE_ADDR=PROXY)) == PROXY


def test_attack_rotating_spoofed_forwarded_for_does_not_escape_the_client_cap(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOOKUP_CODES_PER_CLIENT_PER_DAY = 3
    answers = [
        ask(client, f"1390000000{i}", address=PROXY, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, {STRANGER}") for i in range(4)
    ]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[-1].json()["code"] == "daily_cap" and answers[-1].json()["retry_at"]  # the client's own limit: told
    assert codes_sent() == 3
    other = ask(client, "13900000009", address=PROXY, HTTP_X_FORWARDED_FOR=HOLDER)
    assert other.status_code == 202


def test_attack_spoofed_forwarded_for_does_not_escape_allauths_login_limit(client, settings):
    """Staff login failures count per client address the same way (StaffAccountAdapter.get_client_ip)."""
    settings.TRUSTED_PROXY_COUNT = 1

    def held_up(i, real) -> bool:
        response = client.post(
            reverse("account_login"),
            {"login": f"nobody{i}@example.cn", "password": "wrong-password"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, {real}",
        )
        return any(
            e.code == "too_many_login_attempts" for e in response.context["form"].errors.as_data().get("__all__", [])
        )

    assert not any(held_up(i, STRANGER) for i in range(5))  # five failures, each with another spoofed leftmost hop
    assert held_up(9, STRANGER)
    assert not held_up(10, HOLDER)  # another address is not held up


# --- Budgets and caps --------------------------------------------------------------------------------


def test_attack_stranger_cannot_lock_out_the_holder(client, settings):
    settings.LOOKUP_CODES_PER_NUMBER_AND_CLIENT_PER_DAY = 3
    settings.LOOKUP_CODES_PER_NUMBER_PER_DAY = 5
    for _ in range(6):  # a stranger asks again and again, a minute apart
        assert ask(client, address=STRANGER).status_code == 202
        VerificationCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    assert codes_sent() == 3  # only the stranger's own share of the number's codes

    assert ask(client, address=HOLDER).status_code == 202
    assert codes_sent() == 4  # the holder still gets a code
    services.verification_code_check(phone_number="13812345678", code=latest_code())

    # Strangers from many addresses reach the number's ceiling; that is the most they can spend.
    ask(client, address="203.0.113.10")
    VerificationCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    ask(client, address="203.0.113.11")
    assert codes_sent() == 5


def test_going_from_one_flow_to_another_within_a_minute_gets_its_code():
    services.verification_code_send(phone_number="13812345678", client_ip=HOLDER, purpose="second_hand")
    services.verification_code_send(phone_number="13812345678", client_ip=HOLDER, purpose="lookup")
    assert codes_sent() == 2
    services.verification_code_check(phone_number="13812345678", code=latest_code(), purpose="lookup")


def test_sms_budget_spent_refuses_new_codes_clearly_and_raises_the_alarm(client, settings, caplog):
    settings.SMS_CODES_PER_HOUR = 2
    assert ask(client, "13900000001").status_code == 202
    assert ask(client, "13900000002").status_code == 202
    with caplog.at_level(logging.INFO, logger="portal.services"):
        refused = ask(client, "13900000003")
        en = ask(client, "13900000004", HTTP_ACCEPT_LANGUAGE="en")
        page = client.post(
            reverse("lookup_start"),
            {"phone_number": "13900000005", "id_last6": "40213X", "captcha_0": "x", "captcha_1": "passed"},
        ).content.decode()
    assert refused.status_code == 503 and refused.json()["code"] == "sms_budget_spent" and refused.json()["retry_at"]
    assert "本小时可发送的短信验证码已用完" in refused.json()["detail"]
    assert "as many SMS codes as we can this hour" in en.json()["detail"]
    assert "本小时可发送的短信验证码已用完" in page and 'value="13900000005"' in page  # what was typed is kept
    assert codes_sent() == 2
    alarms = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(alarms) == 1 and "SMS budget spent" in alarms[0].getMessage()  # once an hour, not per request
    assert not any("1390000000" in r.getMessage() for r in caplog.records)  # no number in the log


def test_the_sms_budget_is_shared_through_redis(client, settings):
    """Every web process counts in the same place: a budget spent elsewhere is spent here."""
    from django.core.cache import cache

    settings.SMS_CODES_PER_HOUR = 5
    cache.set(services._sms_budget_key(timezone.now()), 5, timeout=3600)
    assert ask(client).status_code == 503 and codes_sent() == 0


# --- One answer for every number before the code ---------------------------------------------------------


def same_answer(a, b):
    assert a.status_code == b.status_code == 202
    assert a.content == b.content
    assert dict(a.headers) == dict(b.headers)


def test_attack_oracle_the_code_api_answers_the_same_for_every_number(client, settings, one_app):
    settings.LOOKUP_CODES_PER_NUMBER_AND_CLIENT_PER_DAY = 2
    settings.LOOKUP_CODES_PER_NUMBER_PER_DAY = 3
    fresh = ask(client, "13900000001")

    ask(client, "13900000002")  # a code a minute ago
    just_sent = ask(client, "13900000002")

    for _ in range(2):  # this client's share of the number's codes spent
        ask(client, "13900000003")
        VerificationCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    capped = ask(client, "13900000003")

    for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):  # the number's ceiling reached
        ask(client, "13900000004", address=address)
        VerificationCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    ceiling = ask(client, "13900000004")

    ask(client, "13900000005")  # looked up today
    lookup_start(phone_number="13900000005", id_last6="40213X", code=latest_code())
    VerificationCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    looked_up = ask(client, "13900000005")

    for answer in (just_sent, capped, ceiling, looked_up):
        same_answer(fresh, answer)
    assert fresh.json()["detail"] == "如该号码可以接收验证码，验证码已发送。"
    assert "retry_at" not in fresh.json()


def test_attack_oracle_the_clients_own_cap_counts_every_request_alike(client, settings):
    """Were only sent codes counted, the client's cap would run out later after a withheld number."""
    settings.LOOKUP_CODES_PER_CLIENT_PER_DAY = 3
    ask(client, "13900000001")
    ask(client, "13900000001")  # withheld: a code a minute
    assert ask(client, "13900000002").status_code == 202
    refused = ask(client, "13900000003")
    assert refused.status_code == 429 and refused.json()["code"] == "daily_cap"
    assert codes_sent() == 2


def test_the_daily_lookup_limit_is_told_once_the_code_is_proven(client, one_app):
    ask(client)
    lookup_start(phone_number="13812345678", id_last6="40213X", code=latest_code())
    VerificationCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    ask(client)
    response = client.post(
        "/api/v1/lookups",
        {"phone_number": "13812345678", "id_last6": "40213X", "code": latest_code()},
        content_type="application/json",
    )
    assert (
        response.status_code == 429 and response.json()["code"] == "lookup_daily_limit" and response.json()["retry_at"]
    )
    assert Lookup.objects.count() == 1


def test_attack_oracle_a_wrong_code_says_the_same_whether_or_not_a_code_was_sent(client, one_app):
    ask(client, "13900000001")
    code = latest_code()
    wrong = "000000" if code != "000000" else "111111"

    def lookup(phone):
        return client.post(
            "/api/v1/lookups",
            {"phone_number": phone, "id_last6": "40213X", "code": wrong},
            content_type="application/json",
        )

    with_code, without_code = lookup("13900000001"), lookup("13900000002")
    assert with_code.status_code == without_code.status_code == 400
    assert with_code.content == without_code.content and with_code.json()["code"] == "code_not_accepted"
    VerificationCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert lookup("13900000001").content == without_code.content  # expired: the same again


def test_attack_oracle_the_pages_say_the_same_for_every_number(settings, one_app):
    """The lookup page's code step: a fresh number and one with a code a minute ago read the same."""

    def start(phone):
        client = Client(REMOTE_ADDR=HOLDER)
        response = client.post(
            reverse("lookup_start"),
            {"phone_number": phone, "id_last6": "40213X", "captcha_0": "x", "captcha_1": "passed"},
        )
        return response.status_code, page_text(response).replace(phone, "N").replace(
            phone[:3] + "****" + phone[-4:], "M"
        )

    start("13900000002")
    fresh, just_sent = start("13900000001"), start("13900000002")
    assert fresh == just_sent and fresh[0] == 200
    assert "如 M 可以接收验证码" in fresh[1]
    for path in ("unbind_track", "second_hand_start"):  # the other flows share the code step and its words
        client = Client(REMOTE_ADDR=HOLDER)
        page = client.post(
            reverse(path), {"phone_number": "13900000002", "captcha_0": "x", "captcha_1": "passed"}
        ).content.decode()
        assert "如 139****0002 可以接收验证码" in page
