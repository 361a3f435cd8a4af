"""The one way tests sign a request to the member API: protocol v2 signature headers (Standard Webhooks, with
X-Portal-Key-Id: who calls), as Django test-client keyword arguments, and signed JSON requests."""

import time

from registry import protocol


def signed_headers(
    body: bytes, *, key_id: str, secret: str, seconds_ago: int = 0, msg_id: str | None = None
) -> dict[str, str]:
    headers = protocol.sign(body, keys=secret, key_id=key_id, msg_id=msg_id, timestamp=int(time.time()) - seconds_ago)
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


def signed_request(client, method: str, target: str, payload=None, *, key_id: str, secret: str, seconds_ago: int = 0):
    """`method` ("get", "post", "put", ...) `target` with `payload` as JSON, signed as the member's key."""
    if method == "get":
        headers = signed_headers(
            protocol.signed_bytes("GET", target, b""), key_id=key_id, secret=secret, seconds_ago=seconds_ago
        )
        return client.get(target, **headers)
    body = protocol.encode(payload if payload is not None else {})
    return getattr(client, method)(
        target,
        body,
        content_type="application/json",
        **signed_headers(body, key_id=key_id, secret=secret, seconds_ago=seconds_ago),
    )
