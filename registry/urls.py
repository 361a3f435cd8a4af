from django.urls import path

from registry import views

urlpatterns = [
    path("directory/", views.directory, name="directory"),
    path("staff/apps/<int:pk>/", views.staff_app_detail, name="staff_app_detail"),
    path("staff/apps/<int:pk>/check-endpoint/", views.staff_app_check_endpoint, name="staff_app_check_endpoint"),
]
