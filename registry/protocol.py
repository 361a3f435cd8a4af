"""Member-platform protocol v1: the one module that signs, verifies, builds and parses what travels
between the portal and member platforms (docs/protocol.md). Nothing else builds signatures by hand.

Signing, both directions: `X-Portal-Key-Id`, `X-Portal-Timestamp` (Unix seconds) and
`X-Portal-Signature` = hex HMAC-SHA256 over `timestamp + "." + body` with the key's secret. More than
five minutes of clock skew, or a signature seen before, is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from django.core.cache import cache

VERSION = "v1"
HEADER_KEY_ID = "X-Portal-Key-Id"
HEADER_TIMESTAMP = "X-Portal-Timestamp"
HEADER_SIGNATURE = "X-Portal-Signature"
MAX_SKEW_SECONDS = 300
MAX_BODY_BYTES = 256 * 1024  # a lookup answer is a few accounts; anything bigger is refused unread
MAX_ACCOUNTS = 1000
ACCOUNT_LOOKUP_PATH = "/v1/account-lookup"
UNBIND_PATH = "/v1/unbind"
IDENTITY_CHECK_PATH = "/v1/identity-check"
NUMBER_NOTICES_PATH = "/v1/number-notices"  # where the simulator's apps take notices; members choose their own URL
REAL_NAME_MATCH = ("true", "false", "not_available")
_ACCOUNT_REF = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces
# The signature headers, checked before anything reads them. ASCII only, on purpose: str.isdigit() takes
# "²" (which int() refuses) and int() takes "١٢٣"; a header must never reach int(), the cache or
# hmac.compare_digest (which raises on non-ASCII text) in a shape that could raise.
KEY_ID = re.compile(r"[\x21-\x7e]{1,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


class ProtocolError(Exception):
    """What a member sent breaks protocol v1; `reason` says how, in words staff can act on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SignatureError(ProtocolError):
    pass


def _mac(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(body: bytes, *, key_id: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The three headers that sign `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {HEADER_KEY_ID: key_id, HEADER_TIMESTAMP: ts, HEADER_SIGNATURE: _mac(secret, ts, body)}


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets_for_key_id: Callable[[str], Iterable[str]],
    now: float | None = None,
    replay_scope: str = "portal",
    remember: bool = True,
) -> str:
    """Check a signed message and return its key id, or raise SignatureError with the reason.

    `secrets_for_key_id` returns the secrets valid for that key id (none if unknown). A signature is
    accepted once: it is remembered (in the shared cache) for longer than the allowed skew. The answer
    to a request the portal itself just sent is bound to that connection and need not be remembered
    (`remember=False`); requests and callbacks that arrive on their own always are.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    key_id = lowered.get(HEADER_KEY_ID.lower(), "")
    ts = lowered.get(HEADER_TIMESTAMP.lower(), "")
    signature = lowered.get(HEADER_SIGNATURE.lower(), "")
    if not (key_id and ts and signature):
        raise SignatureError("missing signature headers")
    if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
        raise SignatureError(f"{HEADER_KEY_ID} must be 1 to 64 printable ASCII characters")
    if not isinstance(ts, str) or not _TIMESTAMP.fullmatch(ts):
        raise SignatureError(f"{HEADER_TIMESTAMP} must be Unix seconds in ASCII digits")
    if not isinstance(signature, str) or not _SIGNATURE.fullmatch(signature):
        raise SignatureError(f"{HEADER_SIGNATURE} must be 64 hexadecimal characters")
    skew = abs((time.time() if now is None else now) - int(ts))
    if skew > MAX_SKEW_SECONDS:
        raise SignatureError(f"timestamp is {int(skew)} s away from the portal's clock (at most {MAX_SKEW_SECONDS})")
    candidates = list(secrets_for_key_id(key_id))
    if not candidates:
        raise SignatureError(f"unknown key id {key_id[:64]!r}")
    if not any(hmac.compare_digest(_mac(secret, ts, body), signature.lower()) for secret in candidates):
        raise SignatureError("signature does not match the body")
    if remember and not cache.add(f"protocol-sig:{replay_scope}:{signature.lower()}", 1, timeout=2 * MAX_SKEW_SECONDS + 60):
        raise SignatureError("signature already used (replay)")
    return key_id


def signed_bytes(method: str, target: str, body: bytes) -> bytes:
    """What a request's signature covers: its body, or for a request without one (GET) its target,
    the path with the query string, so two different pages never share a signature."""
    return body if method not in ("GET", "HEAD") else target.encode()


def encode(payload: dict) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed are the bytes that are sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def id_check(id_last6: str, *, secret: str, salt: str | None = None) -> dict[str, str]:
    """Lets a platform compare the holder's last six ID characters with its own real-name record
    without them travelling in clear: HMAC-SHA256 keyed with the integration's secret over a fresh
    per-request salt and the six characters (X in capitals)."""
    salt = salt or secrets.token_hex(16)
    digest = hmac.new(secret.encode(), f"{salt}:{id_last6.upper()}".encode(), hashlib.sha256).hexdigest()
    return {"alg": "hmac-sha256", "salt": salt, "digest": digest}


def id_check_matches(check: Mapping[str, str], id_number: str, *, secret: str) -> bool:
    """The platform side: does the ID number on record end with the six characters checked?"""
    expected = id_check(id_number[-6:], secret=secret, salt=check.get("salt", ""))["digest"]
    return hmac.compare_digest(expected, str(check.get("digest", "")))


def account_lookup_request(*, request_id: str, phone_e164: str, holder_since: date | None, id_check: dict) -> dict:
    """`POST {base_url}/v1/account-lookup`; `id_check` as `id_check()` made it for this member."""
    return {
        "request_id": request_id,
        "phone_number": phone_e164,
        "holder_since": holder_since.isoformat() if holder_since else None,
        "id_check": id_check,
    }


def parse_identity_check_answer(body: bytes) -> str:
    """A carrier's answer `{"id_last6_match": "true"|"false"|"not_available"}` (as CAMARA KYC Match)."""
    payload = _json_object(body)
    if not isinstance(payload, dict) or set(payload) != {"id_last6_match"} or payload["id_last6_match"] not in REAL_NAME_MATCH:
        raise ProtocolError('answer must be exactly {"id_last6_match": "true" | "false" | "not_available"}')
    return payload["id_last6_match"]


@dataclass(frozen=True)
class Account:
    account_ref: str
    registered_on: date
    real_name_match: str

    def likely_previous_holders(self, holder_since: date | None) -> bool:
        """Registered before the current holder got the number, or under another real name."""
        return self.real_name_match == "false" or (holder_since is not None and self.registered_on < holder_since)


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
        if not isinstance(item, dict) or set(item) != {"account_ref", "registered_on", "real_name_match"}:
            raise ProtocolError(f"{where} must have exactly account_ref, registered_on, real_name_match")
        ref, registered, match = item["account_ref"], item["registered_on"], item["real_name_match"]
        if not isinstance(ref, str) or not _ACCOUNT_REF.fullmatch(ref):
            raise ProtocolError(f"{where}.account_ref must be 1 to 128 printable ASCII characters")
        try:
            registered_on = date.fromisoformat(registered) if isinstance(registered, str) and len(registered) == 10 else None
        except ValueError:
            registered_on = None
        if registered_on is None:
            raise ProtocolError(f"{where}.registered_on must be a date, YYYY-MM-DD")
        if match not in REAL_NAME_MATCH:
            raise ProtocolError(f'{where}.real_name_match must be "true", "false" or "not_available"')
        accounts.append(Account(ref, registered_on, match))
    return accounts


# --- Unbinding ----------------------------------------------------------------------------------------

UNBIND_RESULTS = ("done", "refused")
MAX_REASON_CHARS = 500


def unbind_request(*, request_id: str, phone_e164: str, holder_since: date | None, accounts: list[dict]) -> dict:
    """`POST {base_url}/v1/unbind`: remove these accounts' binding to the number (the previous
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
    except (ValueError, UnicodeDecodeError) as error:
        raise ProtocolError(f"answer is not JSON: {error}") from error


def parse_unbind_answer(status: int, body: bytes) -> UnbindAnswer:
    """The platform's answer to `/v1/unbind`: `200 {"state": "done"}`, `200 {"state": "refused",
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


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: int


def post_signed(url: str, payload: dict, *, key_id: str, secret: str, timeout_s: float) -> Reply:
    """POST a signed protocol v1 request; the answer body is read only up to the cap.

    Raises httpx.TimeoutException / httpx.TransportError for the network, ProtocolError for a body
    over the cap."""
    import httpx

    body = encode(payload)
    headers = {"Content-Type": "application/json", **sign(body, key_id=key_id, secret=secret)}
    started = time.monotonic()
    with httpx.Client(timeout=timeout_s) as client:
        with client.stream("POST", url, content=body, headers=headers, timeout=timeout_s) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise ProtocolError(f"answer is over the {MAX_BODY_BYTES}-byte cap")
                chunks.append(chunk)
            return Reply(response.status_code, dict(response.headers), b"".join(chunks),
                         int((time.monotonic() - started) * 1000))



async def apost(session, url: str, body: bytes, headers: dict[str, str], *, timeout_s: float) -> Reply:
    """The asynchronous POST (aiohttp) of an already signed body, reading the answer only up to the cap.

    Raises asyncio.TimeoutError for the member's timeout, aiohttp.ClientError for the network and
    ProtocolError for an answer over the cap."""
    import aiohttp

    started = time.monotonic()
    async with session.post(url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
        if (response.content_length or 0) > MAX_BODY_BYTES:
            raise ProtocolError(f"answer of {response.content_length} bytes is over the {MAX_BODY_BYTES}-byte cap")
        chunks, size = [], 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ProtocolError(f"answer is over the {MAX_BODY_BYTES}-byte cap")
            chunks.append(chunk)
        return Reply(response.status, dict(response.headers), b"".join(chunks), int((time.monotonic() - started) * 1000))


# --- Recycled-number notices (CloudEvents 1.0, structured mode) ------------------------------------------

NOTICE_SPECVERSION = "1.0"
NOTICE_SOURCE = "urn:number-portal:number-events"
NOTICE_TYPE = "cn.number-portal.number-events.v1"
NOTICE_CONTENT_TYPE = "application/cloudevents+json"
NOTICE_MAX_NUMBERS = 1000  # events a notice carries at most
NOTICE_MAX_BODY_BYTES = 1024 * 1024  # what a member must accept: 1,000 events are about 150 KiB


def notice_data(*, notice_events: list[dict]) -> bytes:
    """The `data` of notices carrying these events (the pull feed's serialisation), encoded once and
    shared by every app that takes the same events."""
    return encode({"events": notice_events})


def notice_body(*, notice_id: str, time_iso: str, data: bytes, report_path: str) -> bytes:
    """One notice as a CloudEvents 1.0 JSON document: `id, source, type, specversion, time,
    datacontenttype, data` plus the extension attribute `reportpath` (where the member reports back).
    `data` is already encoded (notice_data); it is spliced in, not encoded again per app."""
    head = encode({
        "datacontenttype": "application/json", "id": notice_id, "reportpath": report_path,
        "source": NOTICE_SOURCE, "specversion": NOTICE_SPECVERSION, "time": time_iso, "type": NOTICE_TYPE,
    })
    return b'{"data":' + data + b"," + head[1:]


def notice_headers(body: bytes, *, key_id: str, secret: str) -> dict[str, str]:
    return {"Content-Type": NOTICE_CONTENT_TYPE, **sign(body, key_id=key_id, secret=secret)}


def parse_notice(body: bytes) -> dict:
    """The member's side (the simulator uses it): a notice must be a CloudEvent of our type whose data
    holds a list of events; anything else raises ProtocolError."""
    if len(body) > NOTICE_MAX_BODY_BYTES:
        raise ProtocolError("notice over the cap")
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ProtocolError(f"notice is not JSON: {error}") from error
    required = {"id", "source", "type", "specversion", "time", "datacontenttype", "data"}
    if not isinstance(event, dict) or not required <= set(event):
        raise ProtocolError(f"a notice is a CloudEvent with {', '.join(sorted(required))}")
    if event["specversion"] != NOTICE_SPECVERSION or event["type"] != NOTICE_TYPE:
        raise ProtocolError("not a number-events CloudEvent 1.0")
    if not isinstance(event["data"], dict) or not isinstance(event["data"].get("events"), list):
        raise ProtocolError('data must be {"events": [...]}')
    return event


def notice_report(*, bindings_removed: int) -> dict:
    """What a member sends back per notice: `POST {portal}{reportpath}` with this body, signed with its
    integration key."""
    return {"bindings_removed": bindings_removed}


def parse_notice_report(payload) -> int:
    if not isinstance(payload, dict) or set(payload) != {"bindings_removed"}:
        raise ProtocolError('the body must be exactly {"bindings_removed": <count>}')
    value = payload["bindings_removed"]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000_000:
        raise ProtocolError("bindings_removed must be a whole number from 0 to 10,000,000")
    return value
