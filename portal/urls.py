from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portal import errors, views
from portal.api.views import NumberRecyclingCheckView
from portal.carrier import views as carrier_views
from registry.api.views import TokenView

# The admin signs in through allauth, so it gets the same rate limits and TOTP step as every login.
admin.site.login = login_required(admin.site.login)
admin.site.site_header = "码号服务门户 · 管理"
admin.site.site_title = "码号服务门户"

urlpatterns = [
    # first: called a thousand times a second, it should not wait for every other pattern to be tried
    path("number-recycling/v0.2/check", NumberRecyclingCheckView.as_view(), name="camara_number_recycling_check"),
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", errors.favicon),
    path("staff/sms-outbox/", views.sms_outbox, name="sms_outbox"),
    path("staff/lookups/", views.staff_lookups, name="staff_lookups"),
    path("staff/apps/<int:pk>/notices/", views.staff_app_notices, name="staff_app_notices"),
    path("staff/notices/", views.staff_notices, name="staff_notices"),
    path("staff/notices/<uuid:notice_id>/", views.staff_notice_detail, name="staff_notice_detail"),
    path("staff/notices/<uuid:notice_id>/resend", views.staff_notice_resend, name="staff_notice_resend"),
    path("second-hand/", views.second_hand_start, name="second_hand_start"),
    path("second-hand/verify/", views.second_hand_verify, name="second_hand_verify"),
    path("second-hand/result/", views.second_hand_result, name="second_hand_result"),
    path("staff/number-events/uploads/", views.staff_number_event_uploads, name="staff_number_event_uploads"),
    path("staff/number-events/uploads/demo.csv", views.staff_number_event_demo_file, name="staff_number_event_demo_file"),
    path("staff/number-events/uploads/<int:pk>/", views.staff_number_event_upload, name="staff_number_event_upload"),
    path("staff/number-events/uploads/<int:pk>/progress", views.staff_number_event_upload_progress, name="staff_number_event_upload_progress"),
    path("staff/number-events/uploads/<int:pk>/rejected.csv", views.staff_number_event_upload_rejected, name="staff_number_event_upload_rejected"),
    path("before-giving-up/", views.before_giving_up, name="before_giving_up"),
    path("lookup/", views.lookup_start, name="lookup_start"),
    path("lookup/verify/", views.lookup_verify, name="lookup_verify"),
    path("lookup/<uuid:lookup_id>/", views.lookup_results, name="lookup_results"),
    path("lookup/<uuid:lookup_id>/status", views.lookup_status, name="lookup_status"),
    path("lookup/<uuid:lookup_id>/unbind/", views.lookup_unbind, name="lookup_unbind"),
    path("unbind/", views.unbind_track, name="unbind_track"),
    path("unbind/verify/", views.unbind_verify, name="unbind_verify"),
    path("staff/unbind-requests/", views.staff_unbind_requests, name="staff_unbind_requests"),
    path("staff/unbind-requests/<uuid:public_id>/", views.staff_unbind_request, name="staff_unbind_request"),
    path("captcha/", include("captcha.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("", include("registry.urls")),
    path("", include("complaints.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # The split view serves Swagger UI's start-up script from its own URL, so script-src stays 'self'; Swagger UI
    # (React) sets style attributes and its page has a <style> block, so this page alone allows inline style.
    path("api/docs/", csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(url_name="api_schema")),
         name="api_docs"),
    path("api/v1/", include("registry.api.urls")),
    path("api/v1/", include("portal.api.urls")),
    path("api/v1/", include("complaints.api.urls")),
    path("oauth/token", TokenView.as_view(), name="oauth_token"),
]

# The site's own error pages (HTML in the person's language; JSON on the API's paths): portal/errors.py.
handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error

# the carrier front door's counter console (portal/carrier/views.py)
urlpatterns += [
    path("staff/counter/", carrier_views.counter, name="carrier_counter"),
    path("staff/counter/renewals/", carrier_views.renewal_start, name="carrier_renewal_start"),
    path("staff/counter/renewals/<uuid:public_id>/", carrier_views.renewal, name="carrier_renewal"),
    path("staff/counter/renewals/<uuid:public_id>/progress", carrier_views.renewal_progress,
         name="carrier_renewal_progress"),
]
