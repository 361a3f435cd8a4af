"""Keyed hashes for personal data the portal must recognise but never keep in clear (phone numbers
for the daily limits, SMS codes, client addresses, access tokens)."""

import hashlib
import hmac
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=32)
def _key(kind: str, secret_key: str) -> bytes:
    return hashlib.sha256(f"portal-privacy:{kind}:{secret_key}".encode()).digest()


def keyed_hash(kind: str, value: str) -> str:
    # one-shot HMAC with the derived key kept: a lookup hashes one ID check per member app
    return hmac.digest(_key(kind, settings.SECRET_KEY), value.encode(), "sha256").hex()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
