"""Reads from the registry."""

from itertools import groupby

from django.db.models import QuerySet
from django.utils import timezone

from registry.models import MemberApp, Organisation
from registry.scoping import scope_for_user


def member_app_directory() -> list[tuple[str, list[MemberApp]]]:
    """The public directory: apps of active members that have gone live, grouped by category."""
    apps = (
        MemberApp.objects.filter(organisation__status=Organisation.Status.ACTIVE, go_live_date__lte=timezone.localdate())
        .select_related("organisation")
        .order_by("category", "name")
    )
    labels = dict(MemberApp.Category.choices)
    order = [value for value, _label in MemberApp.Category.choices]
    grouped = {category: list(items) for category, items in groupby(apps, key=lambda a: a.category)}
    return [(labels[c], grouped[c]) for c in order if c in grouped]


def member_app_list_for_user(*, user) -> QuerySet[MemberApp]:
    return scope_for_user(MemberApp.objects.select_related("organisation", "integration"), user).order_by("name")



def lookup_query_log(*, user, app: MemberApp, limit: int = 200):
    """An app's part of recent lookups, as its staff see it: when, state, duration, error; no numbers."""
    from portal.models import LookupQuery

    return scope_for_user(LookupQuery.objects.filter(app=app), user).order_by("-pk")[:limit]


def access_token_find(*, token: str):
    """The token's record, whatever its state (the caller tells expired from unknown)."""
    import hashlib

    from registry.models import AccessToken

    return (
        AccessToken.objects.select_related("key__integration__app__organisation")
        .filter(token_hash=hashlib.sha256(token.encode()).hexdigest())
        .first()
    )
