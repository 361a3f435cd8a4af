"""Shared steps of the notices tests: a carrier that reports, apps subscribed through the API, and the
simulator's view of what each app received."""

from datetime import timedelta

import httpx
from django.utils import timezone

from registry import protocol
from registry import services as registry_services
from tests.registry.factories import (
    IntegrationFactory,
    MemberAppFactory,
    OrganisationFactory,
)
from tests.signing import signed_request


def carrier_key():
    org = OrganisationFactory(kind="basic_carrier", number_segments="138 139")
    integration = IntegrationFactory(app=MemberAppFactory(organisation=org, category="telecom"))
    return registry_services.integration_key_issue(integration=integration, by=None)


def member_app(organisation=None):
    integration = IntegrationFactory(app=MemberAppFactory(organisation=organisation or OrganisationFactory()))
    key, secret = registry_services.integration_key_issue(integration=integration, by=None)
    return integration.app, key, secret


def signed_post(client, url, payload, key, secret, method="post"):
    return signed_request(client, method, url, payload, key_id=key.key_id, secret=secret)


def subscribe(
    client, simulator, slug, *, types=("cancelled", "reassigned", "ported_out", "ported_in"), organisation=None
):
    """An app subscribes through the platform API and deploys the secret it was given (the simulator
    verifies every notice with it)."""
    app, key, secret = member_app(organisation)
    answer = signed_post(
        client,
        "/api/v1/platform/notice-subscription",
        {"webhook_url": f"{simulator}/{slug}{protocol.NUMBER_NOTICES_PATH}", "event_types": list(types)},
        key,
        secret,
        method="put",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    control(simulator, slug, webhook_secret=body["secret"], key_id=body["key_id"])
    return app, key, secret


def control(simulator, slug, **settings) -> dict:
    return httpx.post(f"{simulator}/_control/{slug}", json=settings, timeout=5).json()


def inbox(simulator, slug) -> dict:
    return httpx.get(f"{simulator}/_control/{slug}", timeout=5).json()


def events(count, *, start=0, kind="reassigned", days_ago=10):
    at = (timezone.now() - timedelta(days=days_ago)).isoformat()
    return [
        {"event_id": f"ev{start + i}", "phone_number": f"+86138{start + i:08d}", "type": kind, "occurred_at": at}
        for i in range(count)
    ]


def report_events(client, key, secret, batch):
    answer = signed_post(client, "/api/v1/carrier/number-events", {"events": batch}, key, secret)
    assert answer.status_code == 200 and not answer.json()["rejected"], answer.content
    return answer.json()
