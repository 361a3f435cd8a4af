from django.urls import path

from complaints import views
from complaints.statistics import views as statistics_views

app_name = "complaints"

urlpatterns = [
    path("complaints/", views.index, name="index"),
    path("complaints/new/", views.file_start, name="file"),
    path("complaints/new/details/", views.complaint_form, name="form"),
    path("complaints/verify/", views.verify, name="verify"),
    path("complaints/follow/", views.follow_start, name="follow"),
    path("complaints/evidence/<uuid:evidence_id>", views.evidence_file, name="evidence"),
    path("complaints/<str:reference>/", views.detail, name="detail"),
    path("complaints/<str:reference>/feedback/", views.feedback, name="feedback"),
    path("staff/complaints/", views.staff_list, name="staff_list"),
    path("staff/complaints/export.csv", views.staff_export, name="staff_export"),
    path("staff/statistics/", statistics_views.dashboard, name="statistics"),
    path("staff/statistics/cases.csv", statistics_views.cases_csv, name="statistics_cases_csv"),
    path("staff/statistics/quarterly/", statistics_views.quarterly, name="statistics_quarterly"),
    path("staff/statistics/<slug:table>.csv", statistics_views.table_csv, name="statistics_table_csv"),
    path("statistics/", statistics_views.public, name="public_statistics"),
    path("statistics/open-data.csv", statistics_views.public_csv, name="public_statistics_csv"),
    path("statistics/open-data.json", statistics_views.public_json, name="public_statistics_json"),
    path("staff/complaints/<str:reference>/", views.staff_detail, name="staff_detail"),
    path("staff/complaints/<str:reference>/<slug:action>/", views.staff_action, name="staff_action"),
]
