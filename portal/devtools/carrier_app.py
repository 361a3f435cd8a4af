"""The simulator's carrier app (`run_simulator --carrier-app app15`): a carrier's app using the carrier
API the way a real one would, so `make run` shows the front door working. Every `every` seconds it
serves a simulated subscriber: reads the number's history, then renews it (or, every third time, looks
it up), signed with the app's demo key, with a callback to `/{slug}/v2/carrier-callback` here, which it
verifies. `GET /_control/carrier` gives its counts."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import aiohttp

from portal.devtools.demo import demo_key_secret
from registry import protocol

logger = logging.getLogger(__name__)
CALLBACK_PATH = "/v2/carrier-callback"


@dataclass
class CarrierAppConfig:
    slug: str
    portal_url: str
    self_url: str  # where the portal reaches this simulator (callbacks)
    key_id: str
    prefix: str = "1380014"  # the simulated subscribers' numbers: this prefix and four digits
    every: float = 120.0


@dataclass
class CarrierApp:
    config: CarrierAppConfig
    counts: dict = field(
        default_factory=lambda: {
            "histories": 0,
            "lookups": 0,
            "renewals": 0,
            "refused": 0,
            "callbacks": 0,
            "callbacks_refused": 0,
            "last_at": 0.0,
        }
    )
    seen: set = field(default_factory=set)

    @property
    def secret(self) -> str:
        return demo_key_secret(self.config.slug)

    def _attestation(self, serial: int) -> dict:
        return {
            "channel": "app",
            "reference": f"session:{self.config.slug}-{serial:06d}",
            "verified_at": datetime.now(timezone.utc).isoformat(),
        }

    async def _post(self, session, path: str, payload: dict) -> tuple[int, dict]:
        body = protocol.encode(payload)
        headers = {
            "Content-Type": "application/json",
            **protocol.sign(body, keys=self.secret, key_id=self.config.key_id),
        }
        async with session.post(
            self.config.portal_url.rstrip("/") + path,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=15),
        ) as response:
            return response.status, await response.json(content_type=None)

    async def serve_one(self, session, serial: int) -> str:
        """One subscriber: the history, then a renewal (a lookup every third)."""
        number = f"+86{self.config.prefix}{serial % 10000:04d}"
        base = {"phone_number": number, "attestation": self._attestation(serial)}
        status, _body = await self._post(session, "/api/v1/carrier/number-history", base)
        self.counts["histories"] += status == 200
        callback = self.config.self_url.rstrip("/") + f"/{self.config.slug}{CALLBACK_PATH}"
        if serial % 3 == 2:
            status, _body = await self._post(session, "/api/v1/carrier/lookups", base | {"callback_url": callback})
            kind = "lookups"
        else:
            since = (date.today() - timedelta(days=20 + serial % 60)).isoformat()
            status, _body = await self._post(
                session, "/api/v1/carrier/renewals", base | {"holder_since": since, "callback_url": callback}
            )
            kind = "renewals"
        if status in (200, 201):
            self.counts[kind] += 1
        else:
            self.counts["refused"] += 1
        self.counts["last_at"] = time.time()
        return kind if status in (200, 201) else f"refused ({status})"

    async def run(self) -> None:
        """Forever: a subscriber every `every` seconds (the first after a short wait for the portal)."""
        await asyncio.sleep(10)
        serial = int(time.time()) // 60
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    outcome = await self.serve_one(session, serial)
                    logger.info("carrier app %s: subscriber %d, %s", self.config.slug, serial % 10000, outcome)
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
                    logger.warning("carrier app %s: the portal did not answer (%s)", self.config.slug, error)
                serial += 1
                await asyncio.sleep(self.config.every)

    def callback(self, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        """The portal's callback: verified with the app's key (Standard Webhooks), taken once per id."""
        try:
            msg_id = protocol.verify(headers, body, keys=[self.secret], remember=False)
            payload = json.loads(body)
        except (protocol.ProtocolError, ValueError):
            self.counts["callbacks_refused"] += 1
            return 401, {"error": "bad signature"}
        if msg_id not in self.seen:
            self.seen.add(msg_id)
            self.counts["callbacks"] += 1
            logger.info("carrier app %s: callback %s", self.config.slug, payload.get("type"))
        return 204, {}
