"""Member-platform protocol v2: the one module that signs, verifies, builds and parses what travels
between the portal and member platforms (docs/protocol.md). Nothing else builds signatures by hand.

Signing, both directions, is Standard Webhooks (/work/shared/specs/standard-webhooks/, symmetric
`v1`): `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256
of "{id}.{timestamp}.{body}">`, the key being the secret's bytes (base64 after `whsec_`). The signature
header may list several signatures, space-separated: while two keys are valid the portal signs with
both, and a verifier accepts any one that matches a valid key. More than five minutes of clock skew,
or a `webhook-id` seen before (the replay and idempotency key), is refused. Requests to the member API
also say who calls: `X-Portal-Key-Id`, the key the signature is under (Standard Webhooks has no key id).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import aiohttp
import httpx
from django.core.cache import cache

from portal.outbound import clients as outbound
from portal.outbound import policy

VERSION = "v2"
HEADER_KEY_ID = "X-Portal-Key-Id"  # member API requests only: who is calling
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # what the portal issues; the spec allows 24 to 64
MAX_SKEW_SECONDS = 300
MAX_BODY_BYTES = 256 * 1024  # a lookup answer is a few accounts; anything bigger is refused unread
MAX_ACCOUNTS = 1000
ACCOUNT_LOOKUP_PATH = "/v2/account-lookup"
UNBIND_PATH = "/v2/unbind"
IDENTITY_CHECK_PATH = "/v2/identity-check"
NUMBER_NOTICES_PATH = "/v2/number-notices"  # where the simulator's apps take notices; members choose their own URL
REAL_NAME_MATCH = ("true", "false", "not_available")
_ACCOUNT_REF = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces
# The signature headers, checked before anything reads them. ASCII only, on purpose: str.isdigit() takes
# "²" (which int() refuses) and int() takes "١٢٣"; a header must never reach int(), the cache or
# hmac.compare_digest (which raises on non-ASCII text) in a shape that could raise. A webhook-id never
# holds a "." (the spec: it would let one signed content pass for another).
KEY_ID = re.compile(r"[\x21-\x7e]{1,64}")
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_:-]{1,128}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# One to eight space-separated "<version>,<base64>"; only v1 (HMAC-SHA256, 44 characters) is checked,
# others (v1a, asymmetric) are skipped as the spec's verifiers do.
_SIGNATURES = re.compile(r"v[0-9]{1,2}[a-z]?,[A-Za-z0-9+/=]{1,128}( v[0-9]{1,2}[a-z]?,[A-Za-z0-9+/=]{1,128}){0,7}")
_V1 = re.compile(r"v1,([A-Za-z0-9+/]{43}=)")
REPLAY_TIMEOUT_SECONDS = 2 * MAX_SKEW_SECONDS + 60


class ProtocolError(Exception):
    """What a member sent breaks protocol v2; `reason` says how, in words staff can act on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SignatureError(ProtocolError):
    pass


def new_secret() -> str:
    """A fresh signing secret in the spec's form: `whsec_` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The HMAC key: the base64 after `whsec_` (as the standardwebhooks libraries read it)."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SignatureError("a signing secret is whsec_ and base64") from error


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)  # URL-safe base64: never a "."


def _mac(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.digest(secret_bytes(secret), content, "sha256")).decode()


def sign(body: bytes, *, keys: str | Iterable[str], msg_id: str | None = None, key_id: str = "",
         timestamp: int | None = None) -> dict[str, str]:
    """The Standard Webhooks headers that sign `body`, with one `v1` signature per secret (the valid
    keys, newest first, during a rotation). `msg_id` is the message's replay and idempotency key (a
    retry keeps it); `key_id` adds `X-Portal-Key-Id`, for a member's request to the portal."""
    msg_id = msg_id or new_message_id()
    if not _MESSAGE_ID.fullmatch(msg_id):
        raise ValueError("a webhook-id is 1 to 128 of A-Z a-z 0-9 _ : -")
    ts = str(int(time.time()) if timestamp is None else timestamp)
    keys = [keys] if isinstance(keys, str) else list(keys)
    if not keys:
        raise ValueError("nothing to sign with")
    headers = {HEADER_ID: msg_id, HEADER_TIMESTAMP: ts,
               HEADER_SIGNATURE: " ".join(f"v1,{_mac(s, msg_id, ts, body)}" for s in keys)}
    return {HEADER_KEY_ID: key_id, **headers} if key_id else headers


def _signature_parts(headers: Mapping[str, str], now: float | None) -> tuple[str, str, list[str]]:
    """The webhook-id, the timestamp and the v1 signatures, once their shapes and the clock are checked."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get(HEADER_ID, "")
    ts = lowered.get(HEADER_TIMESTAMP, "")
    signature = lowered.get(HEADER_SIGNATURE, "")
    if not (msg_id and ts and signature):
        raise SignatureError("missing signature headers (webhook-id, webhook-timestamp, webhook-signature)")
    if not isinstance(msg_id, str) or not _MESSAGE_ID.fullmatch(msg_id):
        raise SignatureError(f"{HEADER_ID} must be 1 to 128 of A-Z a-z 0-9 _ : -")
    if not isinstance(ts, str) or not _TIMESTAMP.fullmatch(ts):
        raise SignatureError(f"{HEADER_TIMESTAMP} must be Unix seconds in ASCII digits")
    if not isinstance(signature, str) or not _SIGNATURES.fullmatch(signature):
        raise SignatureError(f'{HEADER_SIGNATURE} must be "v1,<base64>", several separated by spaces')
    skew = abs((time.time() if now is None else now) - int(ts))
    if skew > MAX_SKEW_SECONDS:
        raise SignatureError(f"timestamp is {int(skew)} s away from the portal's clock (at most {MAX_SKEW_SECONDS})")
    return msg_id, ts, [m.group(1) for m in map(_V1.fullmatch, signature.split(" ")) if m]


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    keys: Iterable[str],
    now: float | None = None,
    replay_scope: str = "portal",
    remember: bool = True,
) -> str:
    """Check a Standard Webhooks signature against any of `keys` (the secrets of an integration's valid
    keys) and return the message's webhook-id, or raise SignatureError with the reason.

    A webhook-id is accepted once per `replay_scope`: it is remembered (in the shared cache) for longer
    than the allowed skew. The answer to a request the portal itself just sent is bound to that
    connection and need not be remembered (`remember=False`); requests and callbacks that arrive on
    their own always are."""
    msg_id, ts, given = _signature_parts(headers, now)
    candidates = list(keys)
    if not candidates:
        raise SignatureError("no valid key")
    expected = [_mac(secret, msg_id, ts, body) for secret in candidates]
    # every pair compared, each in constant time: the time taken does not tell which key matched
    if not any([hmac.compare_digest(e, g) for e in expected for g in given]):
        raise SignatureError("signature does not match the body")
    if remember and not cache.add(f"protocol-id:{replay_scope}:{msg_id}", 1, timeout=REPLAY_TIMEOUT_SECONDS):
        raise SignatureError("webhook-id already used (replay)")
    return msg_id


def caller_key_id(headers: Mapping[str, str]) -> str:
    """The `X-Portal-Key-Id` of a member's request to the portal ("" if absent), or SignatureError if
    it is not a key id's shape (checked before it reaches the database)."""
    key_id = {k.lower(): v for k, v in headers.items()}.get(HEADER_KEY_ID.lower(), "")
    if key_id and (not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id)):
        raise SignatureError(f"{HEADER_KEY_ID} must be 1 to 64 printable ASCII characters")
    return key_id


def verify_caller(
    headers: Mapping[str, str], body: bytes, *, secrets_for_key_id: Callable[[str], Iterable[str]],
    now: float | None = None, replay_scope: str = "member-api",
) -> str:
    """A member's request to the portal: `X-Portal-Key-Id` names the key whose secret must have made
    one of the signatures. Returns the key id; webhook-ids are remembered per key, so one member's ids
    never collide with another's."""
    key_id = caller_key_id(headers)
    if not key_id:
        raise SignatureError(f"missing {HEADER_KEY_ID}")
    _signature_parts(headers, now)  # every header's shape before the database is asked
    candidates = list(secrets_for_key_id(key_id))
    if not candidates:
        raise SignatureError(f"unknown key id {key_id!r}")
    verify(headers, body, keys=candidates, now=now, replay_scope=f"{replay_scope}:{key_id}")
    return key_id


def signed_bytes(method: str, target: str, body: bytes) -> bytes:
    """What a request's signature covers: its body, or for a request without one (GET) its target,
    the path with the query string, so two different pages never share a signature."""
    return body if method not in ("GET", "HEAD") else target.encode()


def encode(payload: dict) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed are the bytes that are sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


# --- The ID check (v2): members never receive anything derived from the holder's ID ------------------
#
# v1 sent HMAC(member's secret, salt:last6): the member holds the key and there are only 1.1 million
# values, so any member asked recovered the holder's characters in seconds. Now the portal sends a
# fresh random challenge per member call and nothing else; the member answers, per account, the digest
# of ITS OWN record's last six characters under that challenge; only the portal, which knows the
# holder's characters, compares. A member can only brute-force its own record, which it knows anyway.

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
            registered_on = date.fromisoformat(registered) if isinstance(registered, str) and len(registered) == 10 else None
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


# --- Unbinding ----------------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class Reply:
    """What a member's endpoint answered. Only the status, the time and the portal's own words about it
    are ever recorded (`reason`); the body is parsed, never copied into an error."""

    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: int

    @property
    def reason(self) -> str:
        return outbound.status_reason(self.status)


class DestinationRefused(ProtocolError):
    """The outbound policy (portal/outbound/) refused the URL or the address it resolves to: nothing
    was sent. `reason` is as recorded (English); `refusal.reason` in the active language."""

    def __init__(self, refusal):
        super().__init__(f"refused by the outbound policy: {refusal.recorded}")
        self.refusal = refusal


def post(url: str, body: bytes, headers: dict[str, str], *, timeout_s: float) -> Reply:
    """POST an already signed body (httpx, held to the outbound policy, redirects never followed),
    reading the answer only up to the cap.

    Raises httpx.TimeoutException / httpx.TransportError for the network, DestinationRefused for a
    destination the policy refuses, ProtocolError for a body over the cap."""
    started = time.monotonic()
    try:
        policy.check_scheme(url)
        with outbound.httpx_client(timeout_s=timeout_s) as client:
            with client.stream("POST", url, content=body, headers=headers) as response:
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise ProtocolError(f"answer is over the {MAX_BODY_BYTES}-byte cap")
                    chunks.append(chunk)
                return Reply(response.status_code, dict(response.headers), b"".join(chunks),
                             int((time.monotonic() - started) * 1000))
    except (policy.Refused, httpx.TransportError) as error:
        refused = outbound.refusal(error)
        if refused is None:
            raise
        raise DestinationRefused(refused) from error


def post_signed(url: str, payload: dict, *, keys: Iterable[str], timeout_s: float, msg_id: str | None = None) -> Reply:
    """POST a protocol v2 request signed with each of `keys` (see `post`); `msg_id` is its webhook-id
    (the request id, so a retry keeps it), a fresh one by default."""
    body = encode(payload)
    return post(url, body, {"Content-Type": "application/json", **sign(body, keys=keys, msg_id=msg_id)}, timeout_s=timeout_s)


async def apost(session, url: str, body: bytes, headers: dict[str, str], *, timeout_s: float) -> Reply:
    """The asynchronous POST (aiohttp) of an already signed body, reading the answer only up to the cap.
    `session` comes from portal.outbound (held to the policy); redirects are never followed.

    Raises asyncio.TimeoutError for the member's timeout, aiohttp.ClientError for the network,
    DestinationRefused for a destination the policy refuses and ProtocolError for an answer over the cap."""
    started = time.monotonic()
    try:
        policy.check_scheme(url)
        async with session.post(url, data=body, headers=headers, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            if (response.content_length or 0) > MAX_BODY_BYTES:
                raise ProtocolError(f"answer of {response.content_length} bytes is over the {MAX_BODY_BYTES}-byte cap")
            chunks, size = [], 0
            async for chunk in response.content.iter_chunked(65536):
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise ProtocolError(f"answer is over the {MAX_BODY_BYTES}-byte cap")
                chunks.append(chunk)
            return Reply(response.status, dict(response.headers), b"".join(chunks), int((time.monotonic() - started) * 1000))
    except (policy.Refused, aiohttp.ClientError) as error:
        refused = outbound.refusal(error)
        if refused is None:
            raise
        raise DestinationRefused(refused) from error


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


def notice_headers(body: bytes, *, notice_id: str, keys: str | Iterable[str]) -> dict[str, str]:
    """A notice's webhook-id is its CloudEvent id: every retry carries the same one, so a member takes
    it once (its idempotency key)."""
    return {"Content-Type": NOTICE_CONTENT_TYPE, **sign(body, keys=keys, msg_id=notice_id)}


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
