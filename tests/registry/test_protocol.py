"""Member-platform protocol v1: signatures both ways, the ID check, strict answers."""

import json
import time
from datetime import date

import pytest

from registry import protocol
from registry.protocol import ProtocolError, SignatureError

SECRET, OLD_SECRET = "s3cret-new", "s3cret-old"


def secrets_for(key_id):
    return {"pk_live": [SECRET, OLD_SECRET]}.get(key_id, [])


def test_a_signed_body_verifies_once_and_a_replay_is_refused():
    body = protocol.encode({"request_id": "r1", "phone_number": "+8613812345678"})
    headers = protocol.sign(body, key_id="pk_live", secret=SECRET)
    assert protocol.verify(headers, body, secrets_for_key_id=secrets_for) == "pk_live"
    with pytest.raises(SignatureError, match="replay"):
        protocol.verify(headers, body, secrets_for_key_id=secrets_for)


def test_the_previous_key_still_verifies_during_rotation():
    body = b"{}"
    headers = protocol.sign(body, key_id="pk_live", secret=OLD_SECRET)
    assert protocol.verify(headers, body, secrets_for_key_id=secrets_for) == "pk_live"


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda h, b: (h, b + b" "), "does not match"),
        (lambda h, b: ({**h, protocol.HEADER_KEY_ID: "pk_other"}, b), "unknown key id"),
        (lambda h, b: ({k: v for k, v in h.items() if k != protocol.HEADER_SIGNATURE}, b), "missing"),
        (lambda h, b: ({**h, protocol.HEADER_TIMESTAMP: "yesterday"}, b), "Unix seconds"),
    ],
)
def test_tampered_messages_are_refused_with_the_reason(tamper, reason):
    body = b'{"accounts":[]}'
    headers, body = tamper(protocol.sign(body, key_id="pk_live", secret=SECRET), body)
    with pytest.raises(SignatureError, match=reason):
        protocol.verify(headers, body, secrets_for_key_id=secrets_for)


def test_more_than_five_minutes_of_skew_is_refused():
    body = b"{}"
    headers = protocol.sign(body, key_id="pk_live", secret=SECRET, timestamp=int(time.time()) - 301)
    with pytest.raises(SignatureError, match="away from the portal's clock"):
        protocol.verify(headers, body, secrets_for_key_id=secrets_for)
    fresh = protocol.sign(body, key_id="pk_live", secret=SECRET, timestamp=int(time.time()) - 299)
    assert protocol.verify(fresh, body, secrets_for_key_id=secrets_for)


def test_headers_are_read_whatever_their_case():
    body = b"{}"
    headers = {k.lower(): v for k, v in protocol.sign(body, key_id="pk_live", secret=SECRET).items()}
    assert protocol.verify(headers, body, secrets_for_key_id=secrets_for) == "pk_live"


def test_id_check_lets_the_platform_compare_without_the_digits_in_clear():
    request = protocol.account_lookup_request(
        request_id="r2", phone_e164="+8613812345678", holder_since=date(2025, 3, 1),
        id_check=protocol.id_check("40213x", secret=SECRET),
    )
    sent = protocol.encode(request)
    assert b"40213" not in sent and request["holder_since"] == "2025-03-01"
    assert protocol.id_check_matches(request["id_check"], "110105194912" + "40213X", secret=SECRET)
    assert not protocol.id_check_matches(request["id_check"], "110105194912312346", secret=SECRET)
    # a fresh salt each time: the same digits never give the same digest twice
    assert protocol.id_check("12345X", secret=SECRET)["digest"] != protocol.id_check("12345X", secret=SECRET)["digest"]


def test_a_valid_answer_is_parsed_and_previous_holders_accounts_are_marked():
    body = json.dumps({"accounts": [
        {"account_ref": "u-1", "registered_on": "2019-05-02", "real_name_match": "not_available"},
        {"account_ref": "u-2", "registered_on": "2025-06-01", "real_name_match": "true"},
        {"account_ref": "u-3", "registered_on": "2025-06-01", "real_name_match": "false"},
    ]}).encode()
    accounts = protocol.parse_account_lookup_answer(body)
    assert [a.likely_previous_holders(date(2025, 3, 1)) for a in accounts] == [True, False, True]
    assert protocol.parse_account_lookup_answer(b'{"accounts": []}') == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>502 Bad Gateway</html>", "invalid JSON"),
        (b'{"accounts": {}}', "exactly one key"),
        (b'{"accounts": [], "debug": true}', "exactly one key"),
        (b'{"accounts": [{"account_ref": "a", "registered_on": "2020-13-01", "real_name_match": "true"}]}', "YYYY-MM-DD"),
        (b'{"accounts": [{"account_ref": "a", "registered_on": "2020-01-01", "real_name_match": "yes"}]}', "real_name_match"),
        (b'{"accounts": [{"account_ref": "", "registered_on": "2020-01-01", "real_name_match": "true"}]}', "account_ref"),
        (b'{"accounts": [{"account_ref": "a"}]}', "exactly account_ref"),
        (b'{"accounts": [' + b'"x",' * 200_000 + b'"x"]}', "cap"),
    ],
)
def test_garbage_answers_are_refused_with_a_reason(body, reason):
    with pytest.raises(ProtocolError, match=reason):
        protocol.parse_account_lookup_answer(body)
