from django.urls import path

from portal.api import views
from portal.carrier import api as carrier_api

urlpatterns = [
    path("captcha", views.CaptchaView.as_view(), name="api_captcha"),
    path("verification-codes", views.VerificationCodeView.as_view(), name="api_verification_codes"),
    path("lookups", views.LookupCreateView.as_view(), name="api_lookups"),
    path("lookups/<uuid:lookup_id>", views.LookupDetailView.as_view(), name="api_lookup"),
    path("lookups/<uuid:lookup_id>/unbind-requests", views.LookupUnbindView.as_view(), name="api_lookup_unbind"),
    path("platform/unbind-requests", views.PlatformUnbindRequestsView.as_view(), name="api_platform_unbind_requests"),
    path("platform/unbind-requests/<uuid:request_id>/answer", views.PlatformUnbindAnswerView.as_view(),
         name="api_platform_unbind_answer"),
    path("carrier/number-events", views.NumberEventsView.as_view(), name="api_carrier_number_events"),
    path("platform/number-events", views.NumberEventFeedView.as_view(), name="api_platform_number_events"),
    path("platform/number-checks", views.NumberChecksView.as_view(), name="api_platform_number_checks"),
    path("platform/notice-subscription", views.NoticeSubscriptionView.as_view(), name="api_platform_notice_subscription"),
    path("platform/notices/<uuid:notice_id>/report", views.NoticeReportView.as_view(), name="api_platform_notice_report"),
    path("platform/lookups/<uuid:request_id>/results", views.PlatformLookupCallbackView.as_view(), name="api_platform_lookup_results"),
]
urlpatterns += carrier_api.urlpatterns  # the carrier front door (portal/carrier/api.py)
