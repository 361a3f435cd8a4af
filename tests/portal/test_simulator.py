"""The platform simulator is a real HTTP server speaking protocol v1 with real signatures."""

import time
from datetime import date

import httpx
import pytest

from registry import protocol
from registry.demo import demo_key_secret


def lookup(url, slug, phone="+8613812345678", secret=None, timeout=3.0):
    secret = secret or demo_key_secret(slug)
    payload = protocol.account_lookup_request(
        request_id=f"r-{time.time_ns()}", phone_e164=phone, holder_since=date(2024, 1, 1),
        id_check=protocol.id_check("40213X", secret=secret),
    )
    body = protocol.encode(payload)
    headers = protocol.sign(body, key_id=f"demo_{slug}", secret=secret)
    return httpx.post(f"{url}/{slug}{protocol.ACCOUNT_LOOKUP_PATH}", content=body, headers=headers, timeout=timeout)


def test_answers_are_signed_valid_and_reproducible(simulator):
    first, again = lookup(simulator, "app01"), lookup(simulator, "app01")
    assert first.status_code == 200
    secret = demo_key_secret("app01")
    assert protocol.verify(first.headers, first.content, secrets_for_key_id=lambda k: [secret]) == "demo_app01"
    assert protocol.parse_account_lookup_answer(first.content) == protocol.parse_account_lookup_answer(again.content)


def test_some_numbers_have_accounts_and_some_of_those_predate_the_holder(simulator):
    answers = [protocol.parse_account_lookup_answer(lookup(simulator, "app01", phone=f"+86138000000{i:02d}").content)
               for i in range(30)]
    accounts = [a for answer in answers for a in answer]
    assert any(not answer for answer in answers) and accounts
    assert {a.likely_previous_holders(date(2024, 1, 1)) for a in accounts} == {True, False}


def test_a_wrong_signature_is_refused(simulator):
    response = lookup(simulator, "app01", secret="not-the-secret")
    assert response.status_code == 401 and "does not match" in response.json()["error"]


def test_slow_failing_and_garbage_apps_misbehave_as_configured(simulator):
    with pytest.raises(httpx.TimeoutException):
        lookup(simulator, "app02", timeout=0.5)
    assert lookup(simulator, "app03").status_code == 503
    garbage = lookup(simulator, "app04")
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_account_lookup_answer(garbage.content)
