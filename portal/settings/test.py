"""The test suite: real PostgreSQL and Redis (never a silent fall-back to SQLite; see tests/conftest.py)."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("PORTAL_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "var", "test"))

from .base import *  # noqa: E402,F403
from .base import CACHES  # noqa: E402

DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
SECRET_KEY = "test-only-secret-key-not-for-any-real-deployment-0123456789"
# A fixed test key: worker processes started by the tests must decrypt what the tests wrote.
FIELD_ENCRYPTION_KEYS = ["dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5LTA="]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES["default"]["KEY_PREFIX"] = "portal-test"
WORKER_HEARTBEAT_SECONDS = 1
WHITENOISE_AUTOREFRESH = True  # serve static files from the finders; no collectstatic in tests
WHITENOISE_USE_FINDERS = True  # (it defaults to DEBUG, off here: without it no static file was served)
CAPTCHA_TEST_MODE = True  # the captcha accepts "passed"
LOOKUP_CODES_PER_CLIENT_PER_DAY = 1000  # every test client comes from 127.0.0.1
