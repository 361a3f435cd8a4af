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

from django.core.cache import cache

VERSION = "v2"


HEADER_KEY_ID = "X-Portal-Key-Id"  # member API requests only: who is calling


HEADER_ID = "webhook-id"


HEADER_TIMESTAMP = "webhook-timestamp"


HEADER_SIGNATURE = "webhook-signature"


SECRET_PREFIX = "whsec_"


SECRET_BYTES = 32  # what the portal issues; the spec allows 24 to 64


MAX_SKEW_SECONDS = 300


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


def sign(
    body: bytes, *, keys: str | Iterable[str], msg_id: str | None = None, key_id: str = "", timestamp: int | None = None
) -> dict[str, str]:
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
    headers = {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: ts,
        HEADER_SIGNATURE: " ".join(f"v1,{_mac(s, msg_id, ts, body)}" for s in keys),
    }
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
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets_for_key_id: Callable[[str], Iterable[str]],
    now: float | None = None,
    replay_scope: str = "member-api",
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
