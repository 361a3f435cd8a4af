"""Helpers for the carrier front door's tests: a carrier whose system (its integration) runs on loopback
and takes callbacks, signed calls to the carrier API, and attestations."""

import json
from datetime import timedelta

from django.utils import timezone

from registry import protocol
from registry.models import MemberApp, Organisation
from tests.member_server import MemberServer
from tests.registry.factories import OrganisationFactory
from tests.signing import signed_headers


class CarrierSystem(MemberServer):
    """The carrier's own system: it calls the carrier API and takes callbacks (answers 204)."""

    def answer(self, name, request):
        return 200, {"received": True}, None

    def sign(self, secret, reply):
        return {}

    def callbacks(self) -> list[dict]:
        return self.received("/callback")


class Carrier:
    def __init__(self, system: CarrierSystem, *, segments: str = "139", name: str = "carrier-app"):
        self.organisation = OrganisationFactory(kind=Organisation.Kind.BASIC_CARRIER, number_segments=segments)
        self.app, self.key, self.secret = system.register(
            name, organisation=self.organisation, category=MemberApp.Category.TELECOM, supports_lookup=False
        )
        self.callback_url = f"{system.url}/{name}/callback"

    def post(self, client, url: str, payload, msg_id: str | None = None, **headers):
        body = json.dumps(payload).encode()
        return client.post(
            url,
            data=body,
            content_type="application/json",
            **headers,
            **signed_headers(body, key_id=self.key.key_id, secret=self.secret, msg_id=msg_id),
        )

    def get(self, client, url: str):
        return client.get(url, **signed_headers(url.encode(), key_id=self.key.key_id, secret=self.secret))


def attestation(channel: str = "counter", reference: str = "staff-0042", minutes_ago: float = 1, **override) -> dict:
    verified_at = (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()
    return {"channel": channel, "reference": reference, "verified_at": verified_at} | override


def callback_verified(request: dict, secret: str) -> dict:
    """A callback as the carrier takes it: its Standard Webhooks signature checked, then parsed."""
    protocol.verify(request["headers"], request["body"], keys=[secret], remember=False)
    return json.loads(request["body"])
