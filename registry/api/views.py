from rest_framework import viewsets

from registry.api.serializers import MemberAppSerializer
from registry.scoping import scope_for_user
from registry.models import MemberApp


class ScopedViewSetMixin:
    """Every staff API view is scoped here: another organisation's rows are simply not found (404)."""

    def get_queryset(self):
        return scope_for_user(super().get_queryset(), self.request.user)


class StaffMemberAppViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = MemberApp.objects.select_related("organisation", "integration").prefetch_related("integration__keys")
    serializer_class = MemberAppSerializer
    filterset_fields = ["category", "supports_lookup", "supports_unbind"]
