from django.urls import path

from complaints.api import views
from complaints.statistics import api as statistics

urlpatterns = [
    path("platform/complaints", views.PlatformComplaintListView.as_view(), name="api_platform_complaints"),
    path(
        "platform/complaints/<str:reference>",
        views.PlatformComplaintDetailView.as_view(),
        name="api_platform_complaint",
    ),
    path(
        "platform/complaints/<str:reference>/answer",
        views.PlatformComplaintAnswerView.as_view(),
        name="api_platform_complaint_answer",
    ),
    path(
        "platform/complaints/<str:reference>/evidence/<uuid:evidence_id>",
        views.PlatformComplaintEvidenceView.as_view(),
        name="api_platform_complaint_evidence",
    ),
    path("stats/headline", statistics.HeadlineView.as_view(), name="api_stats_headline"),
    path("stats/trends", statistics.TrendsView.as_view(), name="api_stats_trends"),
    path("stats/platforms", statistics.PlatformsView.as_view(), name="api_stats_platforms"),
    path("stats/carriers", statistics.CarriersView.as_view(), name="api_stats_carriers"),
    path("stats/provinces", statistics.ProvincesView.as_view(), name="api_stats_provinces"),
    path("stats/categories", statistics.CategoriesView.as_view(), name="api_stats_categories"),
]
