from django.urls import path

from complaints import views

app_name = "complaints"

urlpatterns = [
    path("", views.index, name="index"),
    # placeholder until the complaints issue: the unbinding pages link here with ?unbind=<request id>
    path("new/", views.file, name="file"),
]
