"""Protocol v2 signature headers (Standard Webhooks, with X-Portal-Key-Id: who calls) as Django
test-client keyword arguments."""

import time

from registry import protocol


def signed_headers(body: bytes, *, key_id: str, secret: str, seconds_ago: int = 0, msg_id: str | None = None) -> dict[str, str]:
    headers = protocol.sign(body, keys=secret, key_id=key_id, msg_id=msg_id, timestamp=int(time.time()) - seconds_ago)
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
