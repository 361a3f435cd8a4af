"""Every URL of the site, grouped by the domain whose views serve it."""

from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portal.bulkcheck import urls as bulkcheck_urls
from portal.carrier import views as carrier
from portal.console import views as console
from portal.core import errors
from portal.core import views as core
from portal.devtools import views as devtools
from portal.health import views as health
from portal.lookup import views as lookup
from portal.notices import views as notices
from portal.recycling import views as recycling
from portal.recycling.api import NumberRecyclingCheckView
from portal.secondhand import views as secondhand
from portal.sms import views as sms
from portal.unbinding import views as unbinding
from registry.api.views import TokenView

# The admin signs in through allauth, so it gets the same rate limits and TOTP step as every login.
admin.site.login = login_required(admin.site.login)
admin.site.site_header = "码号服务门户 · 管理"
admin.site.site_title = "码号服务门户"

urlpatterns = [
    # first: called a thousand times a second, it should not wait for every other pattern to be tried
    path("number-recycling/v0.2/check", NumberRecyclingCheckView.as_view(), name="camara_number_recycling_check"),
    path("", core.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", errors.favicon),
    path("staff/sms-outbox/", sms.sms_outbox, name="sms_outbox"),
    path("staff/lookups/", lookup.staff_lookups, name="staff_lookups"),
    path("staff/apps/<int:pk>/notices/", notices.staff_app_notices, name="staff_app_notices"),
    path("staff/notices/", notices.staff_notices, name="staff_notices"),
    path("staff/notices/<uuid:notice_id>/", notices.staff_notice_detail, name="staff_notice_detail"),
    path("staff/notices/<uuid:notice_id>/resend", notices.staff_notice_resend, name="staff_notice_resend"),
    path("staff/notices/<uuid:notice_id>/replay", notices.staff_notice_replay, name="staff_notice_replay"),
    path(
        "staff/apps/<int:pk>/notices/enable", notices.staff_notice_endpoint_enable, name="staff_notice_endpoint_enable"
    ),
    path("second-hand/", secondhand.second_hand_start, name="second_hand_start"),
    path("second-hand/verify/", secondhand.second_hand_verify, name="second_hand_verify"),
    path("second-hand/result/", secondhand.second_hand_result, name="second_hand_result"),
    path("staff/number-events/uploads/", recycling.staff_number_event_uploads, name="staff_number_event_uploads"),
    path(
        "staff/number-events/uploads/demo.csv",
        devtools.staff_number_event_demo_file,
        name="staff_number_event_demo_file",
    ),
    path(
        "staff/number-events/uploads/<int:pk>/", recycling.staff_number_event_upload, name="staff_number_event_upload"
    ),
    path(
        "staff/number-events/uploads/<int:pk>/progress",
        recycling.staff_number_event_upload_progress,
        name="staff_number_event_upload_progress",
    ),
    path(
        "staff/number-events/uploads/<int:pk>/rejected.csv",
        recycling.staff_number_event_upload_rejected,
        name="staff_number_event_upload_rejected",
    ),
    path("before-giving-up/", core.before_giving_up, name="before_giving_up"),
    path("lookup/", lookup.lookup_start, name="lookup_start"),
    path("lookup/verify/", lookup.lookup_verify, name="lookup_verify"),
    path("lookup/<uuid:lookup_id>/", lookup.lookup_results, name="lookup_results"),
    path("lookup/<uuid:lookup_id>/status", lookup.lookup_status, name="lookup_status"),
    path("lookup/<uuid:lookup_id>/unbind/", lookup.lookup_unbind, name="lookup_unbind"),
    path("unbind/", unbinding.unbind_track, name="unbind_track"),
    path("unbind/verify/", unbinding.unbind_verify, name="unbind_verify"),
    path("staff/unbind-requests/", unbinding.staff_unbind_requests, name="staff_unbind_requests"),
    path("staff/unbind-requests/<uuid:public_id>/", unbinding.staff_unbind_request, name="staff_unbind_request"),
    path("captcha/", include("captcha.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("staff/number-check-files/", include(bulkcheck_urls.console_patterns)),
    path("staff/counter/", carrier.counter, name="carrier_counter"),
    path("staff/counter/renewals/", carrier.renewal_start, name="carrier_renewal_start"),
    path("staff/counter/renewals/<uuid:public_id>/", carrier.renewal, name="carrier_renewal"),
    path("staff/counter/renewals/<uuid:public_id>/progress", carrier.renewal_progress, name="carrier_renewal_progress"),
    path("staff/", console.staff_home, name="staff_home"),
    path("staff/apps/<int:pk>/queries/", lookup.staff_app_queries, name="staff_app_queries"),
    path("", include("registry.urls")),
    path("", include("complaints.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # The split view serves Swagger UI's start-up script from its own URL, so script-src stays 'self'; Swagger UI
    # (React) sets style attributes and its page has a <style> block, so this page alone allows inline style.
    path(
        "api/docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(url_name="api_schema")),
        name="api_docs",
    ),
    path("api/v1/", include("registry.api.urls")),
    path("api/v1/", include("portal.api_urls")),
    path("api/v1/", include(bulkcheck_urls.api_patterns)),
    path("api/v1/", include("complaints.api.urls")),
    path("oauth/token", TokenView.as_view(), name="oauth_token"),
]

# The site's own error pages (HTML in the person's language; JSON on the API's paths): portal/core/errors.py.
handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
