"""Staff pages, the admin and the staff API open only for users who have TOTP set up.

allauth asks for the TOTP code at every login once an authenticator exists; this middleware makes sure
one exists: a signed-in user without TOTP is sent to set it up before anything staff-only opens.
"""

from urllib.parse import urlencode

from allauth.mfa.models import Authenticator
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

STAFF_ONLY_PREFIXES = ("/staff/", "/admin/", "/api/v1/staff/", "/api/v1/stats/")


def has_totp(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class StaffMFARequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(STAFF_ONLY_PREFIXES) and request.user.is_authenticated and not has_totp(request.user):
            if path.startswith("/api/"):
                return JsonResponse(
                    {"detail": _("Set up two-factor authentication (TOTP) before using the staff API.")},
                    status=403,
                )
            return redirect(f"{reverse('mfa_activate_totp')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
