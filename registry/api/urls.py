from rest_framework.routers import SimpleRouter

from registry.api import views

router = SimpleRouter()
router.register("staff/apps", views.StaffMemberAppViewSet, basename="staff-app")

urlpatterns = router.urls
