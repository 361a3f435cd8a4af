"""What a person, or an API client, is told when something goes wrong: the site's own 400, 403, 404, 500
and 503 pages, the API's JSON error bodies, and 503 with Retry-After when PostgreSQL, Redis (cache and
broker) or the SMS provider is down.

500 and 503 carry a short reference, logged with the exception, so staff find the traceback a person
quotes. Everything here must work with the database down: error pages never touch the session.
"""

import logging
import secrets
import sys
from datetime import timedelta

import kombu.exceptions
import redis.exceptions
from django import db
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf_exceptions
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger("portal.errors")

RETRY_AFTER_SECONDS = 30


class SmsDeliveryError(Exception):
    """The SMS provider did not take the message: the task retries, and a page waiting on it answers 503."""


class Overloaded(Exception):
    """More lookups are running than the workers can hold: try again shortly."""

    def __init__(self, in_flight: int):
        super().__init__(f"{in_flight} lookups in flight")
        self.in_flight = in_flight


API_PREFIXES = ("/api/", "/oauth/", "/number-recycling/")
CAMARA_PREFIX = "/number-recycling/"
OAUTH_PREFIX = "/oauth/"

# Which part is down, by the exception it raises. Django wraps psycopg's errors in its own classes;
# the broker raises kombu's; the cache (rate limits, replay checks) raises redis-py's.
DEPENDENCY_ERRORS = {
    "database": (db.OperationalError, db.InterfaceError),
    "broker": (kombu.exceptions.OperationalError,),
    "cache": (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError),
    "sms": (SmsDeliveryError,),
    "capacity": (Overloaded,),  # not down but full: more lookups running than the workers hold (admission)
}
DEPENDENCY_EXCEPTIONS = tuple(cls for classes in DEPENDENCY_ERRORS.values() for cls in classes)

# CAMARA's error codes for the statuses the CAMARA endpoint can answer (CAMARA API design guide).
CAMARA_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
# CAMARA's own sentences for these (its messages are English, as the endpoint's other errors)
CAMARA_MESSAGES = {500: "Unknown server error. Typically a server bug.", 503: "Service Unavailable."}
# OAuth 2.0 (RFC 6749 §5.2, §4.1.2.1) error codes for the token endpoint.
OAUTH_CODES = {400: "invalid_request", 401: "invalid_client", 500: "server_error", 503: "temporarily_unavailable"}


def new_reference() -> str:
    """8 characters a person can read out on the phone (no 0/O, 1/I)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(8))


def dependency_of(exc: BaseException | None) -> str | None:
    """The part that is down ("database", "broker", "cache", "sms") if `exc`, or what caused it, says so."""
    for _depth in range(5):  # only explicit causes (`raise ... from`): a bug met while handling one is still a bug
        if exc is None:
            return None
        for part, classes in DEPENDENCY_ERRORS.items():
            if isinstance(exc, classes):
                return part
        exc = exc.__cause__
    return None


def is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIXES)


def log_failure(exc: BaseException, *, part: str | None, request=None) -> str:
    """Log the exception with a new reference and return the reference (shown to the person)."""
    reference = new_reference()
    what = f"{part} unavailable" if part else "unexpected error"
    path = request.path_info if request is not None else "-"
    if part == "capacity":  # load, not a fault: one line, no traceback (under overload there are many)
        logger.warning("reference %s: %s on %s %s (%s)", reference, what, getattr(request, "method", "-"), path, exc)
        return reference
    logger.error(
        "reference %s: %s on %s %s",
        reference,
        what,
        getattr(request, "method", "-"),
        path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return reference


def busy_message(*, api: bool = False) -> str:
    if api:
        return _("Too many lookups are running right now. This is temporary: try again in a minute.")
    return _(
        "Too many people are looking up their number right now. This is temporary: what you typed is kept; "
        "try again in a minute."
    )


def temporary_message(part: str | None = None, *, api: bool = False) -> str:
    if part == "capacity":
        return busy_message(api=api)
    if part == "broker" or part == "sms":
        return _("Our text-message service is briefly unavailable. This is temporary: try again in a minute.")
    if api:
        return _("A service the portal needs is briefly unavailable. This is temporary: try again in a minute.")
    return _(
        "A service this page needs is briefly unavailable. This is temporary: nothing you sent is lost; try again in "
        "a minute."
    )


# --- The API: JSON, in each API's own error shape ---------------------------------------------------


def api_error(
    request,
    status: int,
    code: str,
    detail: str,
    *,
    reference: str = "",
    retry_after: int | None = None,
    extra: dict | None = None,
) -> JsonResponse:
    """The portal API's {code, detail, retry_at}, CAMARA's {status, code, message}, OAuth's
    {error, error_description}."""
    path = request.path_info
    if path.startswith(CAMARA_PREFIX):
        body = {
            "status": status,
            "code": CAMARA_CODES.get(status, code.upper()),
            "message": CAMARA_MESSAGES.get(status, detail),
        }
    elif path.startswith(OAUTH_PREFIX):
        body = {"error": OAUTH_CODES.get(status, code), "error_description": detail}
    else:
        retry_at = timezone.now() + timedelta(seconds=retry_after) if retry_after else None
        body = {"code": code, "detail": detail, "retry_at": retry_at and retry_at.isoformat()} | (extra or {})
    if reference:
        body["reference"] = reference
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    if retry_after:
        response["Retry-After"] = str(retry_after)
    correlator = request.headers.get("x-correlator") if path.startswith(CAMARA_PREFIX) else None
    if correlator and len(correlator) <= 256 and correlator.isprintable():
        response["x-correlator"] = correlator
    return response


def api_exception_handler(exc, context):
    """DRF's errors in the API's shapes; a dependency that is down answers 503 with Retry-After. Anything
    else unexpected is re-raised by DRF and answered by `server_error` (JSON on API paths)."""
    request = context["request"]
    part = dependency_of(exc)
    if part:
        return unavailable_response(request, exc, part)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    retry_after = None
    if isinstance(exc, drf_exceptions.ValidationError):
        code, detail, extra = "invalid", _validation_sentence(response.data), {"errors": response.data}
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        detail = response.data.get("detail") if isinstance(response.data, dict) else None
        detail, extra = (detail if isinstance(detail, str) else _validation_sentence(response.data)), {}
        if isinstance(exc, drf_exceptions.Throttled) and exc.wait:
            retry_after = int(exc.wait) + 1
    answer = api_error(request, response.status_code, code, detail, retry_after=retry_after, extra=extra)
    for header in ("WWW-Authenticate", "Allow"):
        if header in response:
            answer[header] = response[header]
    return answer


def _validation_sentence(data) -> str:
    """One sentence for a DRF ValidationError's field errors: "phone_number: This field is required."."""
    if isinstance(data, dict):
        parts = [
            f"{field}: {_validation_sentence(errors)}" if field != "non_field_errors" else _validation_sentence(errors)
            for field, errors in data.items()
        ]
        return " ".join(parts)
    if isinstance(data, list):
        return " ".join(_validation_sentence(item) for item in data)
    return str(data)


# --- Pages ------------------------------------------------------------------------------------------

ERROR_PAGES = {
    400: "errors/400.html",
    403: "errors/403.html",
    404: "errors/404.html",
    500: "errors/500.html",
    503: "errors/503.html",
}


def error_page(request, status: int, *, reference: str = "", extra: dict | None = None) -> HttpResponse:
    """One of the site's error pages, in the person's language. With the database possibly down, it shows
    no signed-in state and reads no flash messages (both would read the session)."""
    context = {
        "status": status,
        "reference": reference,
        "retry_seconds": RETRY_AFTER_SECONDS,
        "retry_url": request.get_full_path() if request.method == "GET" else "",
        **(extra or {}),
    }
    if status >= 500:
        context |= {"user": AnonymousUser(), "messages": []}
    try:
        body = render_to_string(ERROR_PAGES[status], context, request=request)
    except Exception:  # the error page itself failed (a template needing what is down): plain text, both languages
        logger.exception("reference %s: the %s page could not be rendered", reference or "-", status)
        body = (
            f"{status} · 出错了 / Something went wrong. {('参考编号 / Reference: ' + reference) if reference else ''}"
        )
        return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
    return HttpResponse(body, status=status)


def unavailable_response(request, exc: BaseException, part: str) -> HttpResponse:
    """503, Retry-After, a message that says it is temporary, and a logged reference."""
    reference = log_failure(exc, part=part, request=request)
    if is_api(request):
        response = api_error(
            request,
            503,
            "temporarily_unavailable",
            temporary_message(part, api=True),
            reference=reference,
            retry_after=RETRY_AFTER_SECONDS,
        )
    else:
        response = error_page(request, 503, reference=reference, extra={"message": temporary_message(part)})
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response._has_been_logged = True  # logged above, with the reference; Django need not log it again
    return response


def bad_request(request, exception=None):
    if is_api(request):
        return api_error(request, 400, "bad_request", _("The request could not be read."))
    return error_page(request, 400)


def permission_denied(request, exception=None):
    if is_api(request):
        return api_error(request, 403, "permission_denied", _("You do not have permission to perform this action."))
    return error_page(request, 403)


def page_not_found(request, exception=None):
    if is_api(request):
        return api_error(request, 404, "not_found", _("Not found."))
    return error_page(request, 404)


def server_error(request):
    """handler500: called inside Django's `except` block, so the exception is at hand. A dependency that is
    down (also from a middleware, e.g. the session saved after the view) is a 503, not a 500."""
    exc = sys.exc_info()[1] or RuntimeError("handler500 called without an exception")
    part = dependency_of(exc)
    if part:
        return unavailable_response(request, exc, part)
    reference = log_failure(exc, part=None, request=request)
    if is_api(request):
        response = api_error(
            request,
            500,
            "server_error",
            _("Something went wrong on our side. It was recorded; try again later."),
            reference=reference,
        )
    else:
        response = error_page(request, 500, reference=reference)
    response._has_been_logged = True
    return response


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form sent from an old page (or from another site) is refused in the site's look."""
    if is_api(request):
        return api_error(request, 403, "csrf_failed", _("CSRF check failed: reload the page and try again."))
    return error_page(request, 403, extra={"csrf": True})


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links; the site's icon is an SVG static file."""
    return redirect(static("favicon.svg"), permanent=True)


# --- Middleware ----------------------------------------------------------------------------------------


def mark_unavailable(request, exc: BaseException) -> str:
    """A view caught a dependency error and re-renders its form (what the person typed is kept): log it
    and have the middleware answer that page with 503 and Retry-After. Returns the reference."""
    part = dependency_of(exc)
    reference = log_failure(exc, part=part, request=request)
    request.dependency_unavailable = part
    return reference


class DependencyDownMiddleware:
    """A view's database, broker, cache or SMS-provider failure answers 503 with Retry-After (also with
    DEBUG on); pages that kept the person's form (`mark_unavailable`) get the same status and header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "dependency_unavailable", None) and response.status_code < 500:
            response.status_code = 503
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            response._has_been_logged = True
        return response

    def process_exception(self, request, exception):
        part = dependency_of(exception)
        return unavailable_response(request, exception, part) if part else None


def unavailable_sentence(request, exc: BaseException) -> str:
    """mark_unavailable, and the sentence for the form kept on the page: temporary, with the reference."""
    reference = mark_unavailable(request, exc)
    values = {"message": temporary_message(dependency_of(exc)), "reference": reference}
    return _("%(message)s (Reference: %(reference)s)") % values
