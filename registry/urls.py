from django.urls import path

from registry import views

urlpatterns = [
    path("directory/", views.directory, name="directory"),
    path("staff/", views.staff_home, name="staff_home"),
    path("staff/apps/<int:pk>/", views.staff_app_detail, name="staff_app_detail"),
    path("staff/apps/<int:pk>/queries/", views.staff_app_queries, name="staff_app_queries"),
    path("staff/apps/<int:pk>/check-endpoint/", views.staff_app_check_endpoint, name="staff_app_check_endpoint"),
]
