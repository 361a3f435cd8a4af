"""The site's URLs plus views that fail on purpose, for the error-page tests (ROOT_URLCONF override)."""

from django.core.exceptions import PermissionDenied
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from portal.core.errors import SmsDeliveryError
from portal.urls import handler400, handler403, handler404, handler500  # noqa: F401
from portal.urls import urlpatterns as site_urlpatterns


def boom(request):
    raise RuntimeError("a bug nobody caught")


def denied(request):
    raise PermissionDenied


def sms_provider_down(request):
    raise SmsDeliveryError("provider unreachable: ConnectError")


class ApiBoom(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("a bug nobody caught, in the API")


urlpatterns = [
    path("test-errors/boom/", boom),
    path("test-errors/denied/", denied),
    path("test-errors/sms/", sms_provider_down),
    path("api/v1/test-errors/boom", ApiBoom.as_view()),
    *site_urlpatterns,
]
