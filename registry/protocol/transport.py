"""Sending a signed message to a member: POST (httpx or aiohttp), held to the outbound policy, redirects never
followed, the answer read only up to the cap."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
import httpx

from portal.outbound import clients as outbound
from portal.outbound import policy
from registry.protocol.signing import ProtocolError, encode, sign

MAX_BODY_BYTES = 256 * 1024  # a lookup answer is a few accounts; anything bigger is refused unread


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
                return Reply(
                    response.status_code,
                    dict(response.headers),
                    b"".join(chunks),
                    int((time.monotonic() - started) * 1000),
                )
    except (policy.Refused, httpx.TransportError) as error:
        refused = outbound.refusal(error)
        if refused is None:
            raise
        raise DestinationRefused(refused) from error


def post_signed(url: str, payload: dict, *, keys: Iterable[str], timeout_s: float, msg_id: str | None = None) -> Reply:
    """POST a protocol v2 request signed with each of `keys` (see `post`); `msg_id` is its webhook-id
    (the request id, so a retry keeps it), a fresh one by default."""
    body = encode(payload)
    return post(
        url, body, {"Content-Type": "application/json", **sign(body, keys=keys, msg_id=msg_id)}, timeout_s=timeout_s
    )


async def apost(session, url: str, body: bytes, headers: dict[str, str], *, timeout_s: float) -> Reply:
    """The asynchronous POST (aiohttp) of an already signed body, reading the answer only up to the cap.
    `session` comes from portal.outbound (held to the policy); redirects are never followed.

    Raises asyncio.TimeoutError for the member's timeout, aiohttp.ClientError for the network,
    DestinationRefused for a destination the policy refuses and ProtocolError for an answer over the cap."""
    started = time.monotonic()
    try:
        policy.check_scheme(url)
        async with session.post(
            url, data=body, headers=headers, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            if (response.content_length or 0) > MAX_BODY_BYTES:
                raise ProtocolError(f"answer of {response.content_length} bytes is over the {MAX_BODY_BYTES}-byte cap")
            chunks, size = [], 0
            async for chunk in response.content.iter_chunked(65536):
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise ProtocolError(f"answer is over the {MAX_BODY_BYTES}-byte cap")
                chunks.append(chunk)
            return Reply(
                response.status, dict(response.headers), b"".join(chunks), int((time.monotonic() - started) * 1000)
            )
    except (policy.Refused, aiohttp.ClientError) as error:
        refused = outbound.refusal(error)
        if refused is None:
            raise
        raise DestinationRefused(refused) from error
