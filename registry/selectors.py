"""Reads from the registry."""

import time
from itertools import groupby

from django.db.models import QuerySet
from django.utils import timezone

from portal.core.crypto import decrypt_cached
from portal.core.privacy import token_hash
from registry.models import AccessToken, IntegrationKey, MemberApp, Organisation
from registry.scoping import scope_for_user


def member_app_directory() -> list[tuple[str, list[MemberApp]]]:
    """The public directory: apps of active members that have gone live, grouped by category."""
    apps = (
        MemberApp.objects.filter(
            organisation__status=Organisation.Status.ACTIVE, go_live_date__lte=timezone.localdate()
        )
        .select_related("organisation")
        .order_by("category", "name")
    )
    labels = dict(MemberApp.Category.choices)
    order = [value for value, _label in MemberApp.Category.choices]
    grouped = {category: list(items) for category, items in groupby(apps, key=lambda a: a.category)}
    return [(labels[c], grouped[c]) for c in order if c in grouped]


def member_app_list_for_user(*, user) -> QuerySet[MemberApp]:
    return scope_for_user(MemberApp.objects.select_related("organisation", "integration"), user).order_by("name")


ACCESS_TOKEN_GRANT_SECONDS = 30


_access_token_grants: dict[str, tuple[float, dict]] = {}


def access_token_grant(*, token: str) -> dict | None:
    """What a bearer token allows (`expires_at`, `scopes`, `revoked`) and whose it is, for an API called a thousand
    times a second: kept in this process's memory for up to 30 s (a query, or even a Redis round
    trip, cost more than the check itself), so a revoked key's tokens stop within that. None for an
    unknown token (not kept: guesses must not fill the memory)."""
    digest = token_hash(token)
    now = time.monotonic()
    kept = _access_token_grants.get(digest)
    if kept and now - kept[0] < ACCESS_TOKEN_GRANT_SECONDS:
        return kept[1]
    row = (
        AccessToken.objects.filter(token_hash=digest)
        .values_list(
            "expires_at",
            "scopes",
            "key__revoked_at",
            "key__key_id",
            "key__integration_id",
            "key__integration__app__organisation_id",
        )
        .first()
    )
    if row is None:
        return None
    if len(_access_token_grants) >= 10_000:
        _access_token_grants.clear()
    # the client (key, integration, organisation): whose rate limit and audit trail a call counts in
    grant = {
        "expires_at": row[0],
        "scopes": row[1].split(),
        "revoked": row[2] is not None,
        "key_id": row[3],
        "integration_id": row[4],
        "organisation_id": row[5],
    }
    _access_token_grants[digest] = (now, grant)
    return grant


_secrets: dict[int, tuple[float, dict[str, list[str]]]] = {}


SECRETS_TTL_SECONDS = 30  # a revoked key stops working in a worker within this long


def key_secrets(integration_id: int, *, fresh: bool = False) -> dict[str, list[str]]:
    """key id -> [secret] of an integration's valid keys, kept a short while in this process."""
    cached = _secrets.get(integration_id)
    if fresh or cached is None or time.monotonic() - cached[0] > SECRETS_TTL_SECONDS:
        keys = IntegrationKey.objects.filter(integration_id=integration_id, revoked_at__isnull=True)
        cached = (time.monotonic(), {k: [decrypt_cached(e)] for k, e in keys.values_list("key_id", "secret_encrypted")})
        _secrets[integration_id] = cached
    return cached[1]
