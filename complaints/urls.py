from django.urls import path

from complaints import views

urlpatterns = [
    path("", views.index, name="complaints_index"),
]
