"""The portal's API under /api/v1/, by domain."""

from django.urls import path

from portal.carrier import api as carrier_api
from portal.lookup import api as lookup
from portal.notices import api as notices
from portal.recycling import api as recycling
from portal.unbinding import api as unbinding
from portal.verification import api as verification

urlpatterns = [
    path("captcha", verification.CaptchaView.as_view(), name="api_captcha"),
    path("verification-codes", verification.VerificationCodeView.as_view(), name="api_verification_codes"),
    path("lookups", lookup.LookupCreateView.as_view(), name="api_lookups"),
    path("lookups/<uuid:lookup_id>", lookup.LookupDetailView.as_view(), name="api_lookup"),
    path("lookups/<uuid:lookup_id>/unbind-requests", lookup.LookupUnbindView.as_view(), name="api_lookup_unbind"),
    path(
        "platform/unbind-requests", unbinding.PlatformUnbindRequestsView.as_view(), name="api_platform_unbind_requests"
    ),
    path(
        "platform/unbind-requests/<uuid:request_id>/answer",
        unbinding.PlatformUnbindAnswerView.as_view(),
        name="api_platform_unbind_answer",
    ),
    path("carrier/number-events", recycling.NumberEventsView.as_view(), name="api_carrier_number_events"),
    path("platform/number-events", recycling.NumberEventFeedView.as_view(), name="api_platform_number_events"),
    path("platform/number-checks", recycling.NumberChecksView.as_view(), name="api_platform_number_checks"),
    path(
        "platform/notice-subscription",
        notices.NoticeSubscriptionView.as_view(),
        name="api_platform_notice_subscription",
    ),
    path(
        "platform/notices/<uuid:notice_id>/report",
        notices.NoticeReportView.as_view(),
        name="api_platform_notice_report",
    ),
    path(
        "platform/notices/<uuid:notice_id>/replay",
        notices.NoticeReplayView.as_view(),
        name="api_platform_notice_replay",
    ),
    path(
        "platform/lookups/<uuid:request_id>/results",
        lookup.PlatformLookupCallbackView.as_view(),
        name="api_platform_lookup_results",
    ),
]
urlpatterns += carrier_api.urlpatterns  # the carrier front door (portal/carrier/api.py)
