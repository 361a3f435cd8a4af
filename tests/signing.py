"""Protocol v2 signature headers as Django test-client keyword arguments."""

import time

from registry import protocol


def signed_headers(body: bytes, *, key_id: str, secret: str, seconds_ago: int = 0) -> dict[str, str]:
    headers = protocol.sign(body, key_id=key_id, secret=secret, timestamp=int(time.time()) - seconds_ago)
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
