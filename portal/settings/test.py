"""The test suite: real PostgreSQL and Redis. With DATABASE_URL / REDIS_URL unset, the embedded servers
under var/test/ that tests/conftest.py starts for the run and stops after it."""

import os

os.environ.setdefault(
    "PORTAL_VAR_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "var", "test"))
)

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
# Member platforms in tests are the simulator and small servers on 127.0.0.1, over http; a test that
# shows a refusal of loopback overrides this.
OUTBOUND_REQUIRE_HTTPS = False
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
