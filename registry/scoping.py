"""The one place that decides which organisation's data a signed-in user may see.

Every staff page and API view gets its queryset through `scope_for_user`; a row of another
organisation is then simply not found (404), never "forbidden", so its existence does not leak.
"""

from django.db.models import QuerySet


def scope_for_user(queryset: QuerySet, user) -> QuerySet:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return queryset.none()
    if user.is_administrator:
        return queryset
    if user.is_member_staff and user.organisation_id:
        field = getattr(queryset.model, "organisation_field", None)
        if field is None:  # a model that belongs to no organisation is not member data
            return queryset.none()
        return queryset.filter(**{field: user.organisation_id})
    # Regulators read statistics only; they see no member's operational data.
    return queryset.none()
