"""Keyed hashes for personal data the portal must recognise but never keep in clear (phone numbers
for the daily limits, SMS codes, client addresses, access tokens)."""

import hashlib
import hmac

from django.conf import settings


def keyed_hash(kind: str, value: str) -> str:
    key = hashlib.sha256(f"portal-privacy:{kind}:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
