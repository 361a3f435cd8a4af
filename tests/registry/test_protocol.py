"""Member-platform protocol v2: signatures both ways, the ID check, strict answers."""

import json
import time
from datetime import date

import pytest

from registry import protocol
from registry.protocol import ProtocolError, SignatureError

SECRET, OLD_SECRET = protocol.new_secret(), protocol.new_secret()


def secrets_for(key_id):
    return {"pk_live": [SECRET, OLD_SECRET]}.get(key_id, [])


def test_issued_secrets_are_whsec_and_base64_of_32_random_bytes():
    import base64

    assert SECRET.startswith("whsec_") and len(base64.b64decode(SECRET.removeprefix("whsec_"))) == 32
    assert SECRET != OLD_SECRET


def test_a_signed_body_verifies_once_and_a_replayed_webhook_id_is_refused():
    body = protocol.encode({"request_id": "r1", "phone_number": "+8613812345678"})
    headers = protocol.sign(body, keys=SECRET, msg_id="msg_r1")
    assert protocol.verify(headers, body, keys=[SECRET]) == "msg_r1"
    resigned = protocol.sign(
        body, keys=SECRET, msg_id="msg_r1", timestamp=int(time.time()) - 1
    )  # a new signature, the same id
    with pytest.raises(SignatureError, match="replay"):
        protocol.verify(resigned, body, keys=[SECRET])


def test_the_previous_key_still_verifies_during_rotation():
    body = b"{}"
    assert protocol.verify(protocol.sign(body, keys=OLD_SECRET), body, keys=[SECRET, OLD_SECRET])
    both = protocol.sign(body, keys=[SECRET, OLD_SECRET])
    assert len(both[protocol.HEADER_SIGNATURE].split(" ")) == 2
    assert protocol.verify(both, body, keys=[OLD_SECRET], remember=False)
    assert protocol.verify(both, body, keys=[SECRET], remember=False)


def test_a_member_request_names_its_key_and_is_verified_under_that_key_only():
    body = b"{}"
    headers = protocol.sign(body, keys=SECRET, key_id="pk_live")
    assert protocol.verify_caller(headers, body, secrets_for_key_id=secrets_for) == "pk_live"
    with pytest.raises(SignatureError, match="unknown key id"):
        protocol.verify_caller(
            {**protocol.sign(body, keys=SECRET), protocol.HEADER_KEY_ID: "pk_other"},
            body,
            secrets_for_key_id=secrets_for,
        )
    with pytest.raises(SignatureError, match="missing X-Portal-Key-Id"):
        protocol.verify_caller(protocol.sign(body, keys=SECRET), body, secrets_for_key_id=secrets_for)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda h, b: (h, b + b" "), "does not match"),
        (lambda h, b: ({**h, protocol.HEADER_ID: "msg_other"}, b), "does not match"),
        (
            lambda h, b: ({**h, protocol.HEADER_TIMESTAMP: str(int(h[protocol.HEADER_TIMESTAMP]) - 1)}, b),
            "does not match",
        ),
        (lambda h, b: ({k: v for k, v in h.items() if k != protocol.HEADER_SIGNATURE}, b), "missing"),
        (lambda h, b: ({**h, protocol.HEADER_TIMESTAMP: "yesterday"}, b), "Unix seconds"),
    ],
)
def test_tampered_messages_are_refused_with_the_reason(tamper, reason):
    body = b'{"accounts":[]}'
    headers, body = tamper(protocol.sign(body, keys=SECRET), body)
    with pytest.raises(SignatureError, match=reason):
        protocol.verify(headers, body, keys=[SECRET, OLD_SECRET])


def test_more_than_five_minutes_of_skew_is_refused():
    body = b"{}"
    headers = protocol.sign(body, keys=SECRET, timestamp=int(time.time()) - 301)
    with pytest.raises(SignatureError, match="away from the portal's clock"):
        protocol.verify(headers, body, keys=[SECRET])
    fresh = protocol.sign(body, keys=SECRET, timestamp=int(time.time()) - 299)
    assert protocol.verify(fresh, body, keys=[SECRET])


def test_headers_are_read_whatever_their_case():
    body = b"{}"
    headers = {k.title(): v for k, v in protocol.sign(body, keys=SECRET, msg_id="msg_case").items()}
    assert "Webhook-Id" in headers
    assert protocol.verify(headers, body, keys=[SECRET]) == "msg_case"


CHALLENGE = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"


def test_the_id_digest_matches_the_test_vector_in_docs_protocol_md():
    # printf '38000X' | openssl dgst -sha256 -hmac 000102...1f
    expected = "0b14c8db25a40e5c9dd03cbe65893a6fad15b4babe51e97d402e6056f62298b8"
    assert protocol.id_digest(CHALLENGE, "38000X") == protocol.id_digest(CHALLENGE, "38000x") == expected
    assert protocol.id_check_answer(CHALLENGE, "110105199003" + "38000X") == expected  # a whole ID number: its last six
    assert protocol.id_check_answer(CHALLENGE, None) == "not_available"


def test_a_request_carries_only_the_number_and_a_fresh_random_challenge():
    def request():
        return protocol.account_lookup_request(
            request_id="r2",
            phone_e164="+8613812345678",
            holder_since=date(2025, 3, 1),
            id_challenge=protocol.id_challenge(),
        )

    one, other = request(), request()
    assert set(one) == {"request_id", "phone_number", "holder_since", "id_challenge"}
    assert {k: v for k, v in one.items() if k != "id_challenge"} == {
        k: v for k, v in other.items() if k != "id_challenge"
    }
    assert one["id_challenge"] != other["id_challenge"] and len(one["id_challenge"]) == 64
    assert protocol.parse_id_challenge(one) == one["id_challenge"]


def test_the_portal_compares_the_members_digest_of_its_own_record():
    expected = protocol.id_digest(CHALLENGE, "40213X")  # the portal's, from the holder's input
    assert protocol.id_check_matches(protocol.id_check_answer(CHALLENGE, "110105194912" + "40213X"), expected) == "true"
    assert protocol.id_check_matches(protocol.id_check_answer(CHALLENGE, "110105194912312346"), expected) == "false"
    assert protocol.id_check_matches(None, expected) == "not_available"
    # the same record under another challenge (another app, another lookup) does not match
    other = protocol.id_challenge()
    assert protocol.id_check_matches(protocol.id_check_answer(other, "40213X"), expected) == "false"


def test_a_valid_answer_is_parsed_and_previous_holders_accounts_are_marked():
    holder = protocol.id_digest(CHALLENGE, "40213X")
    body = json.dumps(
        {
            "accounts": [
                {"account_ref": "u-1", "registered_on": "2019-05-02", "id_last6_digest": "not_available"},
                {"account_ref": "u-2", "registered_on": "2025-06-01", "id_last6_digest": holder},
                {
                    "account_ref": "u-3",
                    "registered_on": "2025-06-01",
                    "id_last6_digest": protocol.id_digest(CHALLENGE, "12345X"),
                },
            ]
        }
    ).encode()
    accounts = protocol.parse_account_lookup_answer(body)
    matches = [protocol.id_check_matches(a.id_last6_digest, holder) for a in accounts]
    assert matches == ["not_available", "true", "false"]
    assert [
        protocol.likely_previous_holders(a.registered_on, date(2025, 3, 1), m) for a, m in zip(accounts, matches)
    ] == [True, False, True]
    assert protocol.parse_account_lookup_answer(b'{"accounts": []}') == []


def test_attack_member_answering_many_candidate_digests_is_refused():
    """Which accounts the holder asks to unbind would tell a member which of its digests did not match:
    an answer with a digest per guess of the holder's characters is refused, not compared."""
    guesses = [
        {
            "account_ref": f"g{n}",
            "registered_on": "2026-01-01",
            "id_last6_digest": protocol.id_digest(CHALLENGE, f"{n:05d}X"),
        }
        for n in range(protocol.MAX_ID_DIGESTS + 1)
    ]
    with pytest.raises(ProtocolError, match="different id_last6_digest"):
        protocol.parse_account_lookup_answer(json.dumps({"accounts": guesses}).encode())
    assert (
        len(protocol.parse_account_lookup_answer(json.dumps({"accounts": guesses[:-1]}).encode()))
        == protocol.MAX_ID_DIGESTS
    )


def test_a_carriers_identity_answer_is_a_digest_or_not_available():
    digest = protocol.id_digest(CHALLENGE, "38000X")
    assert protocol.parse_identity_check_answer(json.dumps({"id_last6_digest": digest}).encode()) == digest
    assert protocol.parse_identity_check_answer(b'{"id_last6_digest": "not_available"}') is None
    for body in (
        b'{"id_last6_match": "true"}',
        b'{"id_last6_digest": "38000X"}',
        b'{"id_last6_digest": "' + digest.upper().encode() + b'"}',
    ):
        with pytest.raises(ProtocolError):
            protocol.parse_identity_check_answer(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>502 Bad Gateway</html>", "invalid JSON"),
        (b'{"accounts": {}}', "exactly one key"),
        (b'{"accounts": [], "debug": true}', "exactly one key"),
        (
            b'{"accounts": [{"account_ref": "a", "registered_on": "2020-13-01", "id_last6_digest": "not_available"}]}',
            "YYYY-MM-DD",
        ),
        (
            b'{"accounts": [{"account_ref": "a", "registered_on": "2020-01-01", "id_last6_digest": "yes"}]}',
            "id_last6_digest",
        ),
        (
            b'{"accounts": [{"account_ref": "", "registered_on": "2020-01-01", "id_last6_digest": "not_available"}]}',
            "account_ref",
        ),
        (b'{"accounts": [{"account_ref": "a"}]}', "exactly account_ref"),
        # a v1 answer (the member compared on its own) is not v2
        (
            b'{"accounts": [{"account_ref": "a", "registered_on": "2020-01-01", "real_name_match": "true"}]}',
            "exactly account_ref",
        ),
        (b'{"accounts": [' + b'"x",' * 200_000 + b'"x"]}', "cap"),
    ],
)
def test_garbage_answers_are_refused_with_a_reason(body, reason):
    with pytest.raises(ProtocolError, match=reason):
        protocol.parse_account_lookup_answer(body)
