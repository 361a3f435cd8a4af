"""Staff sign-in rules, enforced here and nowhere else, by who the user is, not by where the request goes.

Everyone who signs in is staff (citizens never have accounts), so a signed-in user is a staff user:

- **Second factor.** Until this session has passed TOTP (the code at sign-in, or setting TOTP up just
  now), a staff user reaches only the pages that sign in, set up or enter TOTP, and sign out. Everything
  else is refused: pages, the admin, evidence files, the staff and statistics APIs, and any view added
  later, without a list of paths to keep up to date.
- **Session limits.** A staff session ends after STAFF_SESSION_IDLE_SECONDS without a request and
  STAFF_SESSION_MAX_SECONDS after sign-in, whatever happens in between. Citizens' sessions (their
  lookups, a proven number) keep Django's defaults.
"""

import time
from urllib.parse import urlencode

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

SECOND_FACTOR_SESSION_KEY = "staff_second_factor"  # the user's id, once this session passed TOTP
LOGIN_AT_SESSION_KEY = "staff_login_at"  # Unix seconds
SEEN_AT_SESSION_KEY = "staff_seen_at"  # Unix seconds, refreshed at most once a minute
SEEN_AT_RESOLUTION_SECONDS = 60  # a session write a minute, not one per request

# What a staff user may open before the second factor (URL names): sign in, enter or set up TOTP (and
# the password check allauth may ask for first), sign out, choose the language.
BEFORE_SECOND_FACTOR = frozenset(
    {
        "account_login",
        "account_logout",
        "account_reauthenticate",
        "mfa_authenticate",
        "mfa_reauthenticate",
        "mfa_activate_totp",
        "set_language",
    }
)


def has_totp(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def second_factor_record(session, user) -> None:
    session[SECOND_FACTOR_SESSION_KEY] = str(user.pk)


def second_factor_passed(request) -> bool:
    return request.session.get(SECOND_FACTOR_SESSION_KEY) == str(request.user.pk)


# --- Signal receivers (connected in registry/apps.py) -----------------------------------------------------


def on_authentication_step(sender, request, method, user, **kwargs):
    """allauth: the TOTP (or a recovery code) was entered, at sign-in or to re-authenticate."""
    if method == "mfa" and request is not None:
        second_factor_record(request.session, user)


def on_authenticator_added(sender, request, user, authenticator, **kwargs):
    """allauth: TOTP was set up, which takes a code from the new authenticator: that is the factor."""
    if authenticator.type == Authenticator.Type.TOTP and request is not None:
        second_factor_record(request.session, user)


def on_logged_in(sender, request, user, **kwargs):
    """Django: a staff user signed in; the session's clocks start, and its store expiry with them."""
    now = time.time()
    request.session[LOGIN_AT_SESSION_KEY] = now
    request.session[SEEN_AT_SESSION_KEY] = now
    request.session.set_expiry(settings.STAFF_SESSION_IDLE_SECONDS)


# --- Middleware ------------------------------------------------------------------------------------------


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


class StaffSessionLimitMiddleware:
    """Ends a staff session that was idle too long or is too old, and keeps the session store's own
    expiry in step (so `clearsessions` removes it and the cookie goes with it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            ended = self._ended(request)
            if ended:
                logout(request)
                if _is_api(request):
                    return JsonResponse({"detail": ended}, status=401)
                messages.info(request, ended)
                return redirect(f"{reverse('account_login')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def _ended(request) -> str:
        session, now = request.session, time.time()
        login_at, seen_at = session.get(LOGIN_AT_SESSION_KEY), session.get(SEEN_AT_SESSION_KEY)
        if not isinstance(login_at, (int, float)) or not isinstance(seen_at, (int, float)):
            return _("Please sign in again.")  # a session from before these limits
        if now - login_at >= settings.STAFF_SESSION_MAX_SECONDS:
            return _("You were signed out: a staff session lasts at most %(hours)d hours. Please sign in again.") % {
                "hours": settings.STAFF_SESSION_MAX_SECONDS // 3600
            }
        if now - seen_at >= settings.STAFF_SESSION_IDLE_SECONDS:
            return _("You were signed out after %(minutes)d minutes without activity. Please sign in again.") % {
                "minutes": settings.STAFF_SESSION_IDLE_SECONDS // 60
            }
        if (
            now - seen_at >= SEEN_AT_RESOLUTION_SECONDS
            or session.get_expiry_age() > settings.STAFF_SESSION_IDLE_SECONDS
        ):
            session[SEEN_AT_SESSION_KEY] = now
            left = min(settings.STAFF_SESSION_IDLE_SECONDS, login_at + settings.STAFF_SESSION_MAX_SECONDS - now)
            session.set_expiry(max(1, int(left)))
        return ""


class StaffMFARequiredMiddleware:
    """The second factor, for every view: see the module's docstring."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.user.is_authenticated or second_factor_passed(request):
            return None
        if request.resolver_match.view_name in BEFORE_SECOND_FACTOR:
            return None
        totp = has_totp(request.user)
        if _is_api(request):
            detail = (
                _("This session has not entered the TOTP code yet: enter it before using the staff API.")
                if totp
                else _("Set up two-factor authentication (TOTP) before using the staff API.")
            )
            return JsonResponse({"detail": detail}, status=403)
        target = "mfa_reauthenticate" if totp else "mfa_activate_totp"
        return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
