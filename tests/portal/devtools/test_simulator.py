"""The platform simulator is a real HTTP server speaking protocol v2 with real signatures."""

import time
from datetime import date

import httpx
import pytest

from portal.devtools.demo import demo_key_secret
from registry import protocol

CHALLENGE = "ab" * 32


def post(url, slug, path, payload, secret=None, timeout=3.0):
    secret = secret or demo_key_secret(slug)
    body = protocol.encode(payload)
    headers = protocol.sign(body, keys=secret)
    return httpx.post(f"{url}/{slug}{path}", content=body, headers=headers, timeout=timeout)


def lookup(url, slug, phone="+8613812345678", secret=None, timeout=3.0, challenge=CHALLENGE):
    payload = protocol.account_lookup_request(
        request_id=f"r-{time.time_ns()}",
        phone_e164=phone,
        holder_since=date(2024, 1, 1),
        id_challenge=challenge,
    )
    return post(url, slug, protocol.ACCOUNT_LOOKUP_PATH, payload, secret=secret, timeout=timeout)


def test_answers_are_signed_valid_and_reproducible(simulator):
    first, again = lookup(simulator, "app01"), lookup(simulator, "app01")
    assert first.status_code == 200
    secret = demo_key_secret("app01")
    assert protocol.verify(first.headers, first.content, keys=[secret]).startswith("msg_")
    assert protocol.parse_account_lookup_answer(first.content) == protocol.parse_account_lookup_answer(again.content)


def test_each_account_answers_the_digest_of_its_own_record_under_the_challenge(simulator):
    """The holder's accounts match the holder's characters (the number's last five digits and X in the
    simulated records), a previous holder's do not, an app without records answers not_available."""
    matches, with_record = set(), None
    for i in range(30):
        phone = f"+86138000000{i:02d}"
        holder = protocol.id_digest(CHALLENGE, phone[-5:] + "X")
        for account in protocol.parse_account_lookup_answer(lookup(simulator, "app01", phone=phone).content):
            match = protocol.id_check_matches(account.id_last6_digest, holder)
            matches.add((match, protocol.likely_previous_holders(account.registered_on, date(2024, 1, 1), match)))
            with_record = with_record or (phone if account.id_last6_digest else None)
    assert {("true", False), ("false", True)} <= matches
    # another challenge, another digest for the same record: answers do not carry over between calls
    other = protocol.parse_account_lookup_answer(
        lookup(simulator, "app01", phone=with_record, challenge="cd" * 32).content
    )
    first = protocol.parse_account_lookup_answer(lookup(simulator, "app01", phone=with_record).content)
    assert [a.account_ref for a in other] == [a.account_ref for a in first]
    assert not {a.id_last6_digest for a in other} & {a.id_last6_digest for a in first}


def test_a_request_without_a_v2_challenge_is_refused(simulator):
    v1 = {
        "request_id": "r-v1",
        "phone_number": "+8613812345678",
        "holder_since": None,
        "id_check": {"alg": "hmac-sha256", "salt": "00", "digest": "00"},
    }
    response = post(simulator, "app01", protocol.ACCOUNT_LOOKUP_PATH, v1)
    assert response.status_code == 400 and "id_challenge" in response.json()["error"]


def test_the_simulated_carrier_answers_the_digest_of_its_record(simulator):
    payload = protocol.identity_check_request(request_id="r-id", phone_e164="+8613800138000", id_challenge=CHALLENGE)
    answer = post(simulator, "app01", protocol.IDENTITY_CHECK_PATH, payload)
    digest = protocol.parse_identity_check_answer(answer.content)
    assert protocol.id_check_matches(digest, protocol.id_digest(CHALLENGE, "38000X")) == "true"
    assert protocol.id_check_matches(digest, protocol.id_digest(CHALLENGE, "38001X")) == "false"


def test_a_wrong_signature_is_refused(simulator):
    response = lookup(simulator, "app01", secret=protocol.new_secret())
    assert response.status_code == 401 and "does not match" in response.json()["error"]


def test_slow_failing_and_garbage_apps_misbehave_as_configured(simulator):
    with pytest.raises(httpx.TimeoutException):
        lookup(simulator, "app02", timeout=0.5)
    assert lookup(simulator, "app03").status_code == 503
    garbage = lookup(simulator, "app04")
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_account_lookup_answer(garbage.content)
