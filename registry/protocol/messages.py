"""What members are asked and what they answer, protocol v2 (docs/protocol.md): the ID challenge, account
lookups, identity checks and unbind requests; every answer parsed strictly."""

from __future__ import annotations

import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import date

from registry.protocol.signing import ProtocolError
from registry.protocol.transport import MAX_BODY_BYTES

MAX_ACCOUNTS = 1000


ACCOUNT_LOOKUP_PATH = "/v2/account-lookup"


UNBIND_PATH = "/v2/unbind"


IDENTITY_CHECK_PATH = "/v2/identity-check"


NUMBER_NOTICES_PATH = "/v2/number-notices"  # where the simulator's apps take notices; members choose their own URL


REAL_NAME_MATCH = ("true", "false", "not_available")


_ACCOUNT_REF = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces


ID_CHALLENGE_BYTES = 32


_ID_CHALLENGE = re.compile(r"[0-9a-f]{64}")


_ID_DIGEST = re.compile(r"[0-9a-f]{64}")


NOT_AVAILABLE = "not_available"


MAX_ID_DIGESTS = 10  # distinct digests in one answer: a number has had a few holders, not thousands


def id_challenge() -> str:
    """A fresh random challenge for one member call: 64 lowercase hex characters (32 random bytes)."""
    return secrets.token_hex(ID_CHALLENGE_BYTES)


def id_digest(challenge: str, id_last6: str) -> str:
    """hex HMAC-SHA256(key = the challenge's 64 ASCII characters, msg = the six characters, X in
    capitals). The member computes it over its own record, the portal over the holder's input."""
    return hmac.digest(challenge.encode("ascii"), id_last6.strip().upper().encode("ascii"), "sha256").hex()


def id_check_answer(challenge: str, id_number: str | None) -> str:
    """The member's side: what to answer for an account whose real-name record holds `id_number`
    (None: no record, "not_available")."""
    return id_digest(challenge, id_number.strip()[-6:]) if id_number else NOT_AVAILABLE


def id_check_matches(answer: str | None, expected: str) -> str:
    """The portal's side: "true" / "false" when the member answered a digest (compared in constant time
    with the portal's own digest of the holder's characters), "not_available" when it has no record."""
    if answer is None or answer == NOT_AVAILABLE:
        return NOT_AVAILABLE
    return "true" if hmac.compare_digest(answer, expected) else "false"


def account_lookup_request(*, request_id: str, phone_e164: str, holder_since: date | None, id_challenge: str) -> dict:
    """`POST {base_url}/v2/account-lookup`. Besides the number, only a random challenge: nothing in it
    depends on the holder's ID characters."""
    return {
        "request_id": request_id,
        "phone_number": phone_e164,
        "holder_since": holder_since.isoformat() if holder_since else None,
        "id_challenge": id_challenge,
    }


def identity_check_request(*, request_id: str, phone_e164: str, id_challenge: str) -> dict:
    """`POST {base_url}/v2/identity-check` (carriers): the number and a random challenge."""
    return {"request_id": request_id, "phone_number": phone_e164, "id_challenge": id_challenge}


def parse_id_challenge(request) -> str:
    """The member's side (the simulator): the request's challenge, or ProtocolError."""
    challenge = request.get("id_challenge") if isinstance(request, dict) else None
    if not isinstance(challenge, str) or not _ID_CHALLENGE.fullmatch(challenge):
        raise ProtocolError("id_challenge must be 64 lowercase hex characters")
    return challenge


def _id_answer(value, where: str) -> str | None:
    if value == NOT_AVAILABLE:
        return None
    if not isinstance(value, str) or not _ID_DIGEST.fullmatch(value):
        raise ProtocolError(f'{where} must be 64 lowercase hex characters or "not_available"')
    return value


def parse_identity_check_answer(body: bytes) -> str | None:
    """A carrier's answer `{"id_last6_digest": "<hex>" | "not_available"}`: the digest of its own
    record's last six characters under the request's challenge, or None for not_available."""
    payload = _json_object(body)
    if not isinstance(payload, dict) or set(payload) != {"id_last6_digest"}:
        raise ProtocolError('answer must be exactly {"id_last6_digest": "<64 hex>" | "not_available"}')
    return _id_answer(payload["id_last6_digest"], "id_last6_digest")


@dataclass(frozen=True)
class Account:
    account_ref: str
    registered_on: date
    id_last6_digest: str | None  # None: the member keeps no real-name record for it


def likely_previous_holders(registered_on: date, holder_since: date | None, real_name_match: str) -> bool:
    """Registered before the current holder got the number, or under another real name."""
    return real_name_match == "false" or (holder_since is not None and registered_on < holder_since)


def parse_account_lookup_answer(body: bytes) -> list[Account]:
    """Strictly validate a 200 answer `{accounts: [...]}`; anything else raises ProtocolError."""
    payload = _json_object(body)
    if not isinstance(payload, dict) or set(payload) != {"accounts"} or not isinstance(payload["accounts"], list):
        raise ProtocolError('answer must be an object with exactly one key, "accounts", holding a list')
    if len(payload["accounts"]) > MAX_ACCOUNTS:
        raise ProtocolError(f"more than {MAX_ACCOUNTS} accounts")
    accounts = []
    for index, item in enumerate(payload["accounts"]):
        where = f"accounts[{index}]"
        if not isinstance(item, dict) or set(item) != {"account_ref", "registered_on", "id_last6_digest"}:
            raise ProtocolError(f"{where} must have exactly account_ref, registered_on, id_last6_digest")
        ref, registered = item["account_ref"], item["registered_on"]
        if not isinstance(ref, str) or not _ACCOUNT_REF.fullmatch(ref):
            raise ProtocolError(f"{where}.account_ref must be 1 to 128 printable ASCII characters")
        try:
            registered_on = (
                date.fromisoformat(registered) if isinstance(registered, str) and len(registered) == 10 else None
            )
        except ValueError:
            registered_on = None
        if registered_on is None:
            raise ProtocolError(f"{where}.registered_on must be a date, YYYY-MM-DD")
        accounts.append(Account(ref, registered_on, _id_answer(item["id_last6_digest"], f"{where}.id_last6_digest")))
    # Which accounts the holder then asks to unbind tells the member which digests did not match: an
    # answer guessing many candidates would learn the holder's characters from that. A real number has
    # had a few holders.
    if len({a.id_last6_digest for a in accounts if a.id_last6_digest}) > MAX_ID_DIGESTS:
        raise ProtocolError(f"more than {MAX_ID_DIGESTS} different id_last6_digest values in one answer")
    return accounts


UNBIND_RESULTS = ("done", "refused")


MAX_REASON_CHARS = 500


def unbind_request(*, request_id: str, phone_e164: str, holder_since: date | None, accounts: list[dict]) -> dict:
    """`POST {base_url}/v2/unbind`: remove these accounts' binding to the number (the previous
    holder's, as the platform's own lookup answer dated them)."""
    return {
        "request_id": request_id,
        "phone_number": phone_e164,
        "holder_since": holder_since.isoformat() if holder_since else None,
        "accounts": [{"account_ref": a["account_ref"], "registered_on": a["registered_on"]} for a in accounts],
    }


@dataclass(frozen=True)
class UnbindAnswer:
    state: str  # "done", "refused" or "accepted" (the platform answers later)
    reason: str = ""


def _unbind_result(payload, *, key: str, accepted_allowed: bool) -> UnbindAnswer:
    allowed = UNBIND_RESULTS + (("accepted",) if accepted_allowed else ())
    if not isinstance(payload, dict) or key not in payload or not set(payload) <= {key, "reason"}:
        raise ProtocolError(f'answer must be {{"{key}": {" | ".join(map(repr, allowed))}, "reason": "..."}}')
    result, reason = payload[key], payload.get("reason", "")
    if result not in allowed:
        raise ProtocolError(f"{key} must be one of {', '.join(allowed)}")
    if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
        raise ProtocolError(f"reason must be a string of at most {MAX_REASON_CHARS} characters")
    reason = reason.strip()
    if result == "refused" and not reason:
        raise ProtocolError("a refusal needs a reason the holder can read")
    return UnbindAnswer(result, reason if result == "refused" else "")


def _json_object(body: bytes):
    if len(body) > MAX_BODY_BYTES:
        raise ProtocolError(f"answer of {len(body)} bytes is over the {MAX_BODY_BYTES}-byte cap")
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:  # its position, never the text around it: a body is not copied
        raise ProtocolError(f"invalid JSON ({error.msg} at byte {error.pos})") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise ProtocolError("invalid JSON (not UTF-8)") from error


def parse_unbind_answer(status: int, body: bytes) -> UnbindAnswer:
    """The platform's answer to `/v2/unbind`: `200 {"state": "done"}`, `200 {"state": "refused",
    "reason": "..."}`, or `202` (body empty or `{"state": "accepted"}`): it answers later through the
    platform API. Anything else raises ProtocolError."""
    if status == 202:
        if body.strip():
            answer = _unbind_result(_json_object(body), key="state", accepted_allowed=True)
            if answer.state != "accepted":
                raise ProtocolError('a 202 answer is empty or {"state": "accepted"}')
        return UnbindAnswer("accepted")
    if status != 200:
        raise ProtocolError(f"HTTP {status}")
    answer = _unbind_result(_json_object(body), key="state", accepted_allowed=False)
    return answer


def parse_unbind_result(payload) -> UnbindAnswer:
    """A platform's later answer, through the platform API: `{"result": "done" | "refused", "reason"}`."""
    return _unbind_result(payload, key="result", accepted_allowed=False)
