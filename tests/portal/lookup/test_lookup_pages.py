"""The citizen's journey through the pages and the API: the rules, and clear refusals."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.lookup import services
from portal.lookup.completion import lookup_complete_if_settled
from portal.lookup.models import Lookup, LookupQuery
from portal.sms.models import SmsMessage
from portal.verification.models import VerificationCode
from tests.portal.lookup.helpers import latest_code, page_text
from tests.registry.factories import IntegrationFactory

pytestmark = pytest.mark.django_db

PHONE, ID6 = "138 1234 5678", "40213x"


@pytest.fixture
def one_app():
    from registry import services as registry_services

    integration = IntegrationFactory()
    registry_services.integration_key_issue(integration=integration, by=None)
    return integration.app


def ask_code(client, phone=PHONE, id6=ID6):
    return client.post(
        reverse("lookup_start"), {"phone_number": phone, "id_last6": id6, "captcha_0": "x", "captcha_1": "passed"}
    )


def test_bad_input_is_refused_in_chinese_and_what_was_typed_is_kept(client):
    response = client.post(
        reverse("lookup_start"), {"phone_number": "12345", "id_last6": "12ab", "captcha_0": "x", "captcha_1": "passed"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "11 位数字" in page and "身份证" in page
    assert 'value="12345"' in page and 'value="12ab"' in page


def test_the_code_is_sent_and_nothing_personal_is_stored_in_clear(client):
    response = ask_code(client)
    page = response.content.decode()
    assert "138****5678" in page and "13812345678" not in page.replace('value="13812345678"', "")
    code = VerificationCode.objects.get()
    assert "13812345678" not in (code.phone_hash + code.code_hash)
    assert latest_code() not in code.code_hash


def test_resend_within_a_minute_sends_no_new_code_and_says_the_same(client):
    first = page_text(ask_code(client))
    page = page_text(ask_code(client))
    assert page == first and "如 138****5678 可以接收验证码" in page  # the same words: nothing told about the number
    assert 'value="13812345678"' in page  # carried on to the code step, which the earlier code still passes
    assert SmsMessage.objects.filter(purpose="verification_code").count() == 1


NOT_ACCEPTED = "验证码不正确或已失效"


def test_a_wrong_code_is_refused_and_the_fifth_kills_it(client, one_app):
    ask_code(client)
    code = latest_code()
    wrong = "000000" if code != "000000" else "111111"
    data = {"phone_number": "13812345678", "id_last6": "40213X", "code": wrong}
    for _try in range(5):
        page = client.post(reverse("lookup_verify"), data).content.decode()
        assert NOT_ACCEPTED in page and "最多可试 5 次" in page
    page = client.post(reverse("lookup_verify"), data | {"code": code}).content.decode()
    assert NOT_ACCEPTED in page and not Lookup.objects.exists()  # the right code, too late


def test_an_expired_code_is_refused(client, one_app):
    ask_code(client)
    VerificationCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    page = client.post(
        reverse("lookup_verify"), {"phone_number": "13812345678", "id_last6": "40213X", "code": latest_code()}
    ).content.decode()
    assert NOT_ACCEPTED in page and "5 分钟内有效" in page and not Lookup.objects.exists()


def test_a_right_code_starts_the_lookup_and_only_its_browser_sees_it(client, one_app):
    ask_code(client)
    response = client.post(
        reverse("lookup_verify"), {"phone_number": "13812345678", "id_last6": "40213X", "code": latest_code()}
    )
    assert response.status_code == 302
    lookup = Lookup.objects.get()
    assert lookup.queries.count() == 1 and lookup.queries.get().app == one_app
    query = lookup.queries.get()
    assert "40213" not in str(query.id_check)
    page = client.get(response.url).content.decode()
    assert "138****5678" in page and one_app.name in page and "<progress" in page
    assert 'http-equiv="refresh"' in page  # without JavaScript the page refreshes itself
    assert client.get(reverse("lookup_status", args=[lookup.pk])).json()["progress"] == {"settled": 0, "total": 1}
    from django.test import Client

    assert Client().get(response.url).status_code == 404


def test_one_lookup_per_number_per_day_is_told_after_the_code(client, one_app):
    ask_code(client)
    client.post(reverse("lookup_verify"), {"phone_number": "13812345678", "id_last6": "40213X", "code": latest_code()})
    VerificationCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    page = ask_code(client).content.decode()
    assert "24 小时" not in page and "如 138****5678 可以接收验证码" in page  # not before the code
    page = client.post(
        reverse("lookup_verify"), {"phone_number": "13812345678", "id_last6": "40213X", "code": latest_code()}
    ).content.decode()
    assert "24 小时" in page and Lookup.objects.count() == 1


CAPTCHA = {"captcha_key": "x", "captcha_answer": "passed"}  # the test settings' captcha answer


def test_api_follows_the_same_rules(client, one_app):
    response = client.post(
        "/api/v1/verification-codes", {"phone_number": "+86 139 0000 1234"} | CAPTCHA, content_type="application/json"
    )
    assert response.status_code == 202 and response.json()["resend_after_seconds"] == 60
    again = client.post(
        "/api/v1/verification-codes", {"phone_number": "13900001234"} | CAPTCHA, content_type="application/json"
    )
    assert again.status_code == 202 and again.json() == response.json()  # the same answer, no second code
    assert SmsMessage.objects.filter(purpose="verification_code").count() == 1

    bad = client.post(
        "/api/v1/lookups",
        {"phone_number": "13900001234", "id_last6": "40213X", "code": "000000"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert bad.status_code == 400 and "not right" in bad.json()["detail"] or latest_code() == "000000"

    created = client.post(
        "/api/v1/lookups",
        {"phone_number": "13900001234", "id_last6": "40213X", "code": latest_code()},
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    status_path = re.sub(r"^https?://[^/]+", "", body["status_url"])
    assert client.get(status_path).status_code == 404  # no token
    assert client.get(status_path, HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    result = client.get(status_path, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").json()
    assert result["phone_number"] == "139****1234" and result["apps"][0]["app"] == one_app.name


def test_the_lookup_api_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/verification-codes" in schema and "/api/v1/lookups/{lookup_id}" in schema


def test_retention_purge_keeps_only_counts(client, one_app):
    ask_code(client)
    lookup, _ = services.lookup_start(phone_number=PHONE, id_last6=ID6, code=latest_code())
    LookupQuery.objects.update(
        state="answered",
        accounts=[{"account_ref": "x", "registered_on": "2020-01-01", "likely_previous": True}],
        accounts_total=1,
        accounts_previous=1,
    )
    lookup_complete_if_settled(lookup_id=lookup.pk)
    Lookup.objects.update(created_at=timezone.now() - timedelta(days=31))
    SmsMessage.objects.update(created_at=timezone.now() - timedelta(days=31))

    assert services.lookup_purge() == 1
    lookup.refresh_from_db()
    assert lookup.phone_number == "" and lookup.phone_hash == "" and lookup.accounts_previous == 1
    assert lookup.queries.get().accounts == [] and lookup.queries.get().id_check == {}
    assert not SmsMessage.objects.exists()


@pytest.fixture
def carrier_checking_identities(simulator):
    from portal.devtools.demo import demo_key_secret
    from registry import services as registry_services
    from tests.registry.factories import MemberAppFactory, OrganisationFactory

    carrier = OrganisationFactory(kind="basic_carrier", number_segments="138 1390")
    app = MemberAppFactory(
        organisation=carrier, category="telecom", supports_identity_check=True, supports_lookup=False
    )
    integration = IntegrationFactory(app=app, base_url=f"{simulator}/app01")
    registry_services.integration_key_issue(
        integration=integration, by=None, key_id="demo_app01", secret=demo_key_secret("app01")
    )
    return app


def test_an_id_that_does_not_match_the_carriers_record_stops_the_lookup(client, one_app, carrier_checking_identities):
    ask_code(client, phone="13812345678")
    page = client.post(
        reverse("lookup_verify"), {"phone_number": "13812345678", "id_last6": "40213X", "code": latest_code()}
    ).content.decode()
    assert "实名" in page and not Lookup.objects.exists()


def test_an_id_that_matches_the_carriers_record_starts_the_lookup(client, one_app, carrier_checking_identities):
    ask_code(client, phone="13812345678")
    response = client.post(
        reverse("lookup_verify"), {"phone_number": "13812345678", "id_last6": "45678x", "code": latest_code()}
    )
    assert response.status_code == 302
    assert Lookup.objects.get().identity_check == "true"


def test_numbers_of_other_carriers_are_not_checked(client, one_app, carrier_checking_identities):
    ask_code(client, phone="13312345678")
    client.post(reverse("lookup_verify"), {"phone_number": "13312345678", "id_last6": "40213X", "code": latest_code()})
    assert Lookup.objects.get().identity_check == "skipped"


def test_behind_a_proxy_the_trusted_hop_gives_the_client_address(rf, settings):
    from portal.core.client_address import client_address

    request = rf.get("/", HTTP_X_FORWARDED_FOR="203.0.113.7", REMOTE_ADDR="10.0.0.1")
    assert client_address(request) == "10.0.0.1"  # not trusted unless configured
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "203.0.113.7"
