"""Development: `make run`. Works with nothing configured (the embedded PostgreSQL and Redis under var/,
generated keys)."""

import secrets

from .base import *  # noqa: F403
from .base import env, generate_fernet_key, generated_secret

DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
SECRET_KEY = env.str("SECRET_KEY", default="") or generated_secret("secret_key", lambda: secrets.token_urlsafe(50))
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or [
    generated_secret("field_encryption_key", generate_fernet_key)
]
# The simulator's apps are on 127.0.0.1, over http.
OUTBOUND_REQUIRE_HTTPS = env.bool("OUTBOUND_REQUIRE_HTTPS", default=False)
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=["127.0.0.0/8"])
