from django.urls import path

from complaints.api import views

urlpatterns = [
    path("platform/complaints", views.PlatformComplaintListView.as_view(), name="api_platform_complaints"),
    path("platform/complaints/<str:reference>", views.PlatformComplaintDetailView.as_view(), name="api_platform_complaint"),
    path("platform/complaints/<str:reference>/answer", views.PlatformComplaintAnswerView.as_view(), name="api_platform_complaint_answer"),
    path("platform/complaints/<str:reference>/evidence/<uuid:evidence_id>", views.PlatformComplaintEvidenceView.as_view(),
         name="api_platform_complaint_evidence"),
]
