"""Settings shared by every profile. Everything a deployment changes is read from the environment."""

from pathlib import Path

import environ

from portal.devtools import devservers

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Local state for development and tests only (the embedded PostgreSQL and Redis, generated keys).
# Production keeps nothing here: every instance reads the same PostgreSQL and Redis.
VAR_DIR = Path(environ.Env().str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()


def generated_secret(name: str, make) -> str:
    """A development secret, generated once into var/ so restarts keep sessions and encrypted data."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def generate_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "captcha",
    "csp",
    "django_filters",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "portal",
    "registry",
    "complaints",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.core.middleware.ChineseFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "portal.core.upload_limits.RequestBodyLimitMiddleware",  # before CSRF, which is the first to read a form's body
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "registry.middleware.StaffSessionLimitMiddleware",
    "registry.middleware.StaffMFARequiredMiddleware",
    # last: sees the view's database/broker/cache/SMS failures first and answers 503 with Retry-After
    "portal.core.errors.DependencyDownMiddleware",
]
# A refused form (an old page, another site) gets the site's own 403 page (portal/core/errors.py).
CSRF_FAILURE_VIEW = "portal.core.errors.csrf_failure"

# --- Content-Security-Policy and Permissions-Policy, on every response ----------------------------------
# Only the portal's own files: no inline script, no inline style, no event-handler attributes (the
# project's JavaScript is in static/js, its charts are SVG with presentation attributes). data: images
# for allauth's TOTP QR code. /api/docs/ (Swagger UI) widens style-src for itself only (portal/urls.py).
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Features no page of the portal uses are switched off, for the portal and anything it might embed.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.core.context_processors.rules",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# PostgreSQL only. With DATABASE_URL unset (development, tests), the embedded server under var/ that
# `make run` and `make test` start (portal/devtools/devservers.py); production refuses to start without it.
EMBEDDED_POSTGRES = not env.str("DATABASE_URL", default="")
DATABASES = {
    "default": env.db_url_config(env.str("DATABASE_URL", default="") or devservers.database_url(VAR_DIR)),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: the broker and the shared cache (rate limits, used TOTP codes) ---------------------------------
# With REDIS_URL unset, the embedded Valkey server on a Unix socket under var/ (portal/devtools/devservers.py).
EMBEDDED_REDIS = not env.str("REDIS_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="") or devservers.redis_url(VAR_DIR)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="portal"),
    }
}

# --- Celery -----------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or devservers.broker_url(REDIS_URL)
# With late acknowledgement, Redis hands an unacknowledged task to another worker after this long.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or CELERY_BROKER_URL
CELERY_RESULT_EXPIRES = 3600
# The database row is every job's outcome; a stored result would be a Redis write nobody reads. The
# one task whose result is read (worker_identity) asks for it.
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# Work must not be lost: acknowledge after the task ran, give it back if the worker dies, and take one
# message at a time. Every task is therefore idempotent; the database row is the truth.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULE: dict = {
    # The queue only nudges; rows left queued (a lost message, a broker restart) are sent again.
    "sms-resend-stuck": {"task": "portal.tasks.sms_resend_stuck", "schedule": 60.0},
    "lookup-sweep": {"task": "portal.tasks.lookup_sweep", "schedule": 5.0},
    "lookup-purge": {"task": "portal.tasks.lookup_purge", "schedule": 3600.0},
    # Members' recycling checks are buffered in Redis and written to the audit trail in batches.
    "number-check-audit-flush": {"task": "portal.tasks.number_check_audit_flush", "schedule": 5.0},
    # Complaints: mark late answers, escalate unanswered cases, close cases whose feedback window ended.
    "complaint-deadlines": {"task": "complaints.tasks.complaint_deadlines_enforce", "schedule": 600.0},
    "complaint-purge": {"task": "complaints.tasks.complaint_purge", "schedule": 3600.0},
    "unbind-sweep": {"task": "portal.tasks.unbind_sweep", "schedule": 30.0},
    # carriers' lookups and renewals: settle those whose work is done, re-send callbacks; purge numbers
    "carrier-sweep": {"task": "portal.carrier_sweep", "schedule": 5.0},
    "carrier-purge": {"task": "portal.carrier_purge", "schedule": 3600.0},
    "notices-sweep": {"task": "portal.tasks.notices_sweep", "schedule": 5.0},
    "number-event-uploads-sweep": {"task": "portal.tasks.number_event_uploads_sweep", "schedule": 60.0},
    "bulk-check-files-sweep": {"task": "portal.bulk_check_files_sweep", "schedule": 60.0},
    "bulk-check-files-purge": {"task": "portal.bulk_check_files_purge", "schedule": 3600.0},
    # Statistics: rebuild the daily rollups of recent days and of cases that changed (cheap, incremental).
    "statistics-refresh": {"task": "complaints.tasks.statistics_refresh", "schedule": 600.0},
    # Expired sessions (staff ones end after 30 min idle) are deleted, not left in the table.
    "sessions-purge": {"task": "portal.tasks.sessions_purge", "schedule": 3600.0},
}
# A worker writes a heartbeat row this often; /healthz calls the worker down after WORKER_STALE_AFTER.
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", default=10)
WORKER_STALE_AFTER_SECONDS = env.int("WORKER_STALE_AFTER_SECONDS", default=60)

# --- Auth and staff accounts ----------------------------------------------------------------------------
AUTH_USER_MODEL = "registry.StaffUser"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "staff_home"
ACCOUNT_ADAPTER = "registry.adapters.StaffAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"  # administrators create staff accounts with a known address
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[码号服务门户] "
MFA_ADAPTER = "registry.adapters.StaffMFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "码号服务门户"
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600  # an invitation link stays valid three days
# allauth's limits, per client address (StaffAccountAdapter.get_client_ip: portal/core/client_address.py) and
# per e-mail ("key"). Failed logins: 5 a minute and 20 an hour from one address, 5 per 5 minutes per account.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "5/m/ip,20/h/ip,5/5m/key",
    "reset_password": "5/m/ip,20/h/ip,3/h/key",
    "reset_password_from_key": "20/m/ip",
    "reauthenticate": "10/m/user",
    "change_password": "5/m/user",
}
# Staff sessions end after this long without a request, and this long after sign-in at most
# (registry/middleware.py); citizens' sessions keep Django's SESSION_COOKIE_AGE.
STAFF_SESSION_IDLE_SECONDS = env.int("STAFF_SESSION_IDLE_SECONDS", default=30 * 60)
STAFF_SESSION_MAX_SECONDS = env.int("STAFF_SESSION_MAX_SECONDS", default=12 * 3600)

# Secrets the portal must read back (members' signing keys, TOTP seeds) are encrypted with Fernet.
# Several keys may be given, comma separated: the first encrypts, all decrypt (for key rotation).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- Email and SMS ---------------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@numbers.example.cn")
# The SMS gateway backend (dotted path); the database backend keeps messages for the staff outbox.
SMS_BACKEND = env.str("SMS_BACKEND", default="portal.sms.backends.DatabaseBackend")
SMS_HTTP_URL = env.str("SMS_HTTP_URL", default="")
SMS_HTTP_TOKEN = env.str("SMS_HTTP_TOKEN", default="")
SMS_HTTP_TIMEOUT_SECONDS = env.float("SMS_HTTP_TIMEOUT_SECONDS", default=5.0)

# --- Calls to member platforms (portal/outbound/) --------------------------------------------------------
# Members choose the URLs the portal calls; only public addresses are called, over https, and redirects
# are never followed. Networks listed here are allowed anyway (CIDR, comma-separated in the environment).
OUTBOUND_REQUIRE_HTTPS = env.bool("OUTBOUND_REQUIRE_HTTPS", default=True)
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])

# --- Lookup (一证通查) ------------------------------------------------------------------------------
# The proxies in front of the web processes that append to X-Forwarded-For (0: none, REMOTE_ADDR is the
# client). Read only by portal/core/client_address.py: the SMS-code limits and, through StaffAccountAdapter,
# allauth's login limits.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
LOOKUP_CODE_TTL_SECONDS = env.int("LOOKUP_CODE_TTL_SECONDS", default=300)
LOOKUP_CODE_MAX_WRONG = 5
LOOKUP_CODE_RESEND_SECONDS = env.int("LOOKUP_CODE_RESEND_SECONDS", default=60)
# Codes a day: to a number from one client address (a stranger spends only their own share of the
# holder's), to a number from anywhere (the ceiling), and from one client address to any number.
LOOKUP_CODES_PER_NUMBER_AND_CLIENT_PER_DAY = env.int("LOOKUP_CODES_PER_NUMBER_AND_CLIENT_PER_DAY", default=10)
LOOKUP_CODES_PER_NUMBER_PER_DAY = env.int("LOOKUP_CODES_PER_NUMBER_PER_DAY", default=30)
LOOKUP_CODES_PER_CLIENT_PER_DAY = env.int("LOOKUP_CODES_PER_CLIENT_PER_DAY", default=50)
# The SMS budget: codes sent per clock hour by the whole site (counted in Redis); once spent, new codes
# are refused and an alarm is logged.
SMS_CODES_PER_HOUR = env.int("SMS_CODES_PER_HOUR", default=1000)
LOOKUP_ONE_PER_NUMBER_HOURS = env.int("LOOKUP_ONE_PER_NUMBER_HOURS", default=24)
LOOKUP_RETENTION_DAYS = env.int("LOOKUP_RETENTION_DAYS", default=30)
LOOKUP_BATCH_SIZE = env.int("LOOKUP_BATCH_SIZE", default=100)  # member calls one task makes concurrently
LOOKUP_MAX_ATTEMPTS = env.int("LOOKUP_MAX_ATTEMPTS", default=3)
LOOKUP_DEADLINE_GRACE_SECONDS = env.int("LOOKUP_DEADLINE_GRACE_SECONDS", default=5)
LOOKUP_CALLBACK_SECONDS = env.int("LOOKUP_CALLBACK_SECONDS", default=120)  # for members answering 202
LOOKUP_CIRCUIT_FAILURES = env.int("LOOKUP_CIRCUIT_FAILURES", default=5)
LOOKUP_CIRCUIT_SECONDS = env.int("LOOKUP_CIRCUIT_SECONDS", default=60)
# Load shedding (portal/admission.py): a new lookup past this many in flight answers 503 "busy, try again";
# about the workers' completed lookups a second times the longest wait accepted (15/s x ~13 s here). 0: off.
LOOKUPS_IN_FLIGHT_MAX = env.int("LOOKUPS_IN_FLIGHT_MAX", default=200)

# Complaints (12300 / CFPB rules): the platform answers within 15 days, "in progress" becomes final within
# 60; the holder may rate or dispute for 30 days; same number, app and category within 30 days is a likely
# duplicate. Personal details are purged a year after the case closes; the counted fields stay.
COMPLAINT_ANSWER_DAYS = env.int("COMPLAINT_ANSWER_DAYS", default=15)
COMPLAINT_FINAL_DAYS = env.int("COMPLAINT_FINAL_DAYS", default=60)
COMPLAINT_FEEDBACK_DAYS = env.int("COMPLAINT_FEEDBACK_DAYS", default=30)
COMPLAINT_DUPLICATE_DAYS = 30
COMPLAINT_RETENTION_DAYS = env.int("COMPLAINT_RETENTION_DAYS", default=365)
COMPLAINT_EVIDENCE_FILES = 5
COMPLAINT_EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
COMPLAINT_EVIDENCE_DIR = env.str(
    "COMPLAINT_EVIDENCE_DIR", default=str(VAR_DIR / "evidence")
)  # never under the web root
# Statistics (complaints/statistics/): platforms are ranked per 100,000 lookups only when that many lookups
# asked them in the period (Ofcom ranks only providers above a size floor); public cells under the
# threshold are suppressed; the periodic refresh rebuilds the last few days and the days of changed cases.
STATISTICS_RANKING_MIN_LOOKUPS = env.int("STATISTICS_RANKING_MIN_LOOKUPS", default=200)
STATISTICS_PUBLIC_MIN_CELL = 5
STATISTICS_REFRESH_RECENT_DAYS = 2
STATISTICS_REFRESH_CHANGED_HOURS = 2
COMPLAINT_VERIFIED_MINUTES = 30  # how long a proven number may file or follow without a new SMS code

# --- Unbinding (一键解绑) ----------------------------------------------------------------------------
UNBIND_WORKING_DAYS = env.int("UNBIND_WORKING_DAYS", default=5)  # a platform's deadline to answer
UNBIND_MAX_ATTEMPTS = env.int("UNBIND_MAX_ATTEMPTS", default=6)  # pushes to a platform before staff must look
UNBIND_TIMEOUT_SECONDS = env.float("UNBIND_TIMEOUT_SECONDS", default=10.0)
UNBIND_RETRY_BASE_SECONDS = env.int("UNBIND_RETRY_BASE_SECONDS", default=10)  # 10, 20, 40, 80, 160 s
# Carriers acting for their subscribers (portal/carrier/): lookups, renewals and history reads a minute
# per carrier; how old a subscriber's verification may be; callbacks to the carrier's system.
CARRIER_ACTIONS_PER_MINUTE = env.int("CARRIER_ACTIONS_PER_MINUTE", default=600)
CARRIER_ATTESTATION_MAX_AGE_SECONDS = env.int("CARRIER_ATTESTATION_MAX_AGE_SECONDS", default=30 * 60)
CARRIER_CALLBACK_MAX_ATTEMPTS = env.int("CARRIER_CALLBACK_MAX_ATTEMPTS", default=6)  # 10, 20, 40, 80, 160 s apart
# Working days are Monday to Friday, less the public holidays, plus the weekend days that are worked
# instead (调休), as the State Council publishes them each year. ISO dates; extend every December.
PUBLIC_HOLIDAYS = env.list(
    "PUBLIC_HOLIDAYS",
    default=[
        "2026-01-01",
        "2026-01-02",
        "2026-02-16",
        "2026-02-17",
        "2026-02-18",
        "2026-02-19",
        "2026-02-20",
        "2026-02-23",
        "2026-04-06",
        "2026-05-01",
        "2026-05-04",
        "2026-05-05",
        "2026-06-19",
        "2026-09-25",
        "2026-10-01",
        "2026-10-02",
        "2026-10-05",
        "2026-10-06",
        "2026-10-07",
    ],
)
EXTRA_WORKING_DAYS = env.list(
    "EXTRA_WORKING_DAYS", default=["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]
)

# Recycled-number notices (portal/notices/): the retry schedule is published
# data in portal/core/backoff.py (NOTICE_RETRY_SCHEDULE, seconds separated by commas, replaces it: tests);
# an endpoint failing this many days is disabled; staff replay notices of the last NOTICE_REPLAY_DAYS,
# a notice at most NOTICE_REPLAYS_PER_DAY times a day. Then each try's timeout, when a pending notice
# counts as stuck, notices a task sends.
NOTICE_RETRY_SCHEDULE = env.list("NOTICE_RETRY_SCHEDULE", cast=float, default=[])
NOTICE_DISABLE_AFTER_DAYS = env.float("NOTICE_DISABLE_AFTER_DAYS", default=5.0)
NOTICE_REPLAY_DAYS = env.int("NOTICE_REPLAY_DAYS", default=7)
NOTICE_REPLAYS_PER_DAY = env.int("NOTICE_REPLAYS_PER_DAY", default=20)
NOTICE_TIMEOUT_SECONDS = env.float("NOTICE_TIMEOUT_SECONDS", default=10.0)
NOTICE_STUCK_SECONDS = env.int("NOTICE_STUCK_SECONDS", default=120)
NOTICE_TASK_SIZE = env.int("NOTICE_TASK_SIZE", default=100)

# --- Carriers' CSV uploads of number events --------------------------------------------------------
# Files are kept outside the web root (never served), on a disk web and workers share; deleted once read.
NUMBER_EVENT_UPLOAD_DIR = Path(env.str("NUMBER_EVENT_UPLOAD_DIR", default=str(VAR_DIR / "uploads" / "number-events")))
NUMBER_EVENT_UPLOAD_MAX_BYTES = env.int("NUMBER_EVENT_UPLOAD_MAX_BYTES", default=200 * 1024 * 1024)  # ~2.5 million rows
NUMBER_EVENT_UPLOAD_CHUNK_ROWS = env.int("NUMBER_EVENT_UPLOAD_CHUNK_ROWS", default=10_000)  # one API batch
NUMBER_EVENT_UPLOAD_TASK_SECONDS = env.int(
    "NUMBER_EVENT_UPLOAD_TASK_SECONDS", default=60
)  # then the task re-queues itself
NUMBER_EVENT_UPLOAD_RETENTION_DAYS = env.int("NUMBER_EVENT_UPLOAD_RETENTION_DAYS", default=90)  # rejected rows' values
# --- Members' bulk checks as files (portal/bulkcheck/) --------------------------------------------------
# A file of `number,date` rows (250,000 at most, as the FCC's database takes), kept outside the web root,
# checked a chunk at a time; the file is deleted once checked, its result after the retention period.
BULK_CHECK_FILE_DIR = Path(env.str("BULK_CHECK_FILE_DIR", default=str(VAR_DIR / "uploads" / "bulk-checks")))
BULK_CHECK_FILE_MAX_ROWS = env.int("BULK_CHECK_FILE_MAX_ROWS", default=250_000)
BULK_CHECK_FILE_MAX_BYTES = env.int("BULK_CHECK_FILE_MAX_BYTES", default=16 * 1024 * 1024)  # 250,000 rows of 60 bytes
BULK_CHECK_FILE_CHUNK_ROWS = env.int("BULK_CHECK_FILE_CHUNK_ROWS", default=5_000)  # one set-based query
BULK_CHECK_FILE_TASK_SECONDS = env.int("BULK_CHECK_FILE_TASK_SECONDS", default=60)  # then the task re-queues itself
BULK_CHECK_FILE_RETENTION_DAYS = env.int(
    "BULK_CHECK_FILE_RETENTION_DAYS", default=7
)  # then file and result are deleted
BULK_CHECK_FILES_IN_PROGRESS = env.int("BULK_CHECK_FILES_IN_PROGRESS", default=3)  # per organisation, queued or running
# Members' recycling checks: limits per integration (shared by every instance through Redis), and how long
# the audit trail of who checked which number (hashed) is kept (purged by lookup_purge).
NUMBER_CHECKS_PER_SECOND = env.int("NUMBER_CHECKS_PER_SECOND", default=100)  # CAMARA checks
NUMBER_CHECK_BULK_NUMBERS_PER_MINUTE = env.int(
    "NUMBER_CHECK_BULK_NUMBERS_PER_MINUTE", default=60_000
)  # numbers in bulk checks
NUMBER_CHECK_AUDIT_RETENTION_DAYS = env.int("NUMBER_CHECK_AUDIT_RETENTION_DAYS", default=90)
# Upload limits (portal/core/upload_limits.py), checked before a body is read: each view's own (evidence, carriers'
# files), REQUEST_BODY_MAX_BYTES for every other view (a little over DATA_UPLOAD_MAX_MEMORY_SIZE, Django's
# cap on a body read whole, such as a carrier's JSON batch). The first handler stops files at their cap.
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=3 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "portal.core.upload_limits.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
CAPTCHA_LENGTH = 4
CAPTCHA_IMAGE_SIZE = (120, 44)
CAPTCHA_FONT_SIZE = 30
CAPTCHA_TEST_MODE = env.bool("CAPTCHA_TEST_MODE", default=False)

# --- Language and time ---------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "portal" / "locale"]  # the one catalog for the whole site
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- API -------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    # every API error in the API's own JSON shape; a dependency that is down answers 503 (portal/core/errors.py)
    "EXCEPTION_HANDLER": "portal.core.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "码号服务门户 API",
    "DESCRIPTION": "Number-service portal: member registry, citizen lookup, complaints.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ComplaintAnswerEnum": "complaints.models.Complaint.Answer",
        "NumberCheckAnswerEnum": ["yes", "no", "no_data", "invalid"],
        "UnbindStateEnum": ["queued", "sent", "done", "refused"],
        # one name for the number-event types, whether a field holds one (the feed) or a list (subscriptions)
        "NumberEventTypeEnum": ["cancelled", "reassigned", "ported_out", "ported_in"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # one line per member call would drown the worker's log; failures are on the rows. "django" goes to
    # the one console handler only (Django's own default adds a second one while DEBUG is on).
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}
