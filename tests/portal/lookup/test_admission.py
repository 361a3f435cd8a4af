"""Load shedding (issue 17 §3, portal/lookup/admission.py): past LOOKUPS_IN_FLIGHT_MAX lookups running, a new
lookup is refused at once with 503, Retry-After and a message saying it is temporary, before an SMS code
is spent and before a code is used up; what the person typed stays on the page."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from portal.lookup import admission
from portal.lookup.models import Lookup
from portal.sms.models import SmsMessage
from portal.verification import services
from portal.verification.models import VerificationCode
from tests.portal.lookup.helpers import latest_code
from tests.portal.lookup.test_lookup_pages import CAPTCHA, ask_code, one_app  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

LIMIT = 3
BUSY_ZH = "当前查询的人数过多"


def lookups_running(count: int, *, age=timedelta(0)):
    for _ in range(count):
        Lookup.objects.create(phone_hash="h", access_token_hash="t", created_at=timezone.now() - age)


@override_settings(LOOKUPS_IN_FLIGHT_MAX=LIMIT)
def test_over_the_limit_the_code_request_page_answers_503_busy_keeps_the_typed_number_and_sends_no_sms(client):
    lookups_running(LIMIT)
    response = ask_code(client)
    page = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert BUSY_ZH in page and "一分钟后再试" in page
    assert 'value="138 1234 5678"' in page and 'value="40213x"' in page  # the form as typed
    assert not VerificationCode.objects.exists() and not SmsMessage.objects.exists()


@override_settings(LOOKUPS_IN_FLIGHT_MAX=LIMIT)
def test_over_the_limit_the_code_step_answers_503_keeps_number_and_code_and_the_code_still_works_later(client, one_app):
    ask_code(client)
    code = latest_code()
    lookups_running(LIMIT)
    typed = {"phone_number": "13812345678", "id_last6": "40213X", "code": code}
    response = client.post(reverse("lookup_verify"), typed)
    page = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "30" and BUSY_ZH in page
    assert 'value="13812345678"' in page and f'value="{code}"' in page
    assert Lookup.objects.count() == LIMIT and VerificationCode.objects.get().used_at is None  # the code is not spent

    Lookup.objects.update(state=Lookup.State.COMPLETED)  # the rush is over
    assert client.post(reverse("lookup_verify"), typed).status_code == 302


@override_settings(LOOKUPS_IN_FLIGHT_MAX=LIMIT)
def test_over_the_limit_the_api_answers_the_503_envelope_with_retry_after(client, one_app):
    accepted = client.post(
        "/api/v1/verification-codes", {"phone_number": "13900001234"} | CAPTCHA, content_type="application/json"
    )
    assert accepted.status_code == 202
    lookups_running(LIMIT)
    for path, body in [
        ("/api/v1/verification-codes", {"phone_number": "13900005678"} | CAPTCHA),
        ("/api/v1/lookups", {"phone_number": "13900001234", "id_last6": "40213X", "code": latest_code()}),
    ]:
        response = client.post(path, body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 503 and response["Retry-After"] == "30", path
        envelope = response.json()
        assert envelope["code"] == "temporarily_unavailable" and envelope["retry_at"] and envelope["reference"]
        assert envelope["detail"] == "Too many lookups are running right now. This is temporary: try again in a minute."
    assert Lookup.objects.count() == LIMIT and VerificationCode.objects.count() == 1


@override_settings(LOOKUPS_IN_FLIGHT_MAX=LIMIT)
def test_lookups_stuck_longer_than_the_window_do_not_keep_the_door_shut(client):
    lookups_running(LIMIT, age=admission.IN_FLIGHT_WINDOW + timedelta(minutes=1))
    assert admission.lookups_in_flight() == 0
    assert ask_code(client).status_code == 200


@override_settings(LOOKUPS_IN_FLIGHT_MAX=0)
def test_a_limit_of_zero_turns_shedding_off(client):
    lookups_running(5)
    assert ask_code(client).status_code == 200


@override_settings(LOOKUPS_IN_FLIGHT_MAX=LIMIT)
def test_codes_for_other_flows_than_the_lookup_are_not_shed():
    lookups_running(LIMIT)
    services.verification_code_send(
        phone_number="13812345678", client_ip="10.0.0.1", purpose=VerificationCode.Purpose.UNBIND
    )
    assert VerificationCode.objects.get().purpose == "unbind"
