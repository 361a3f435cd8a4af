"""The platform simulator: one HTTP server that plays any number of member apps speaking protocol v1,
for the demo, the tests and the benchmarks. `python manage.py run_simulator --port 8900 --apps 16`.

App `appNN` answers at `/appNN/v1/account-lookup`, signs with key id `demo_appNN` and the demo secret
(registry.demo.demo_key_secret), and derives its accounts from the phone number, so answers are the
same every time. Behaviour per app is configurable: latency, error rate, hanging (timeout) and garbage.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

from registry import protocol
from registry.demo import demo_key_secret


@dataclass
class AppBehaviour:
    latency_ms: int = 0
    error_rate: float = 0.0  # share of requests answered 503
    hang: bool = False  # never answers (the portal's timeout must fire)
    garbage: bool = False  # answers 200 with a body that is not protocol v1
    huge: bool = False  # answers 200 with a body far over the protocol's cap
    forged: bool = False  # signs its answers with the wrong secret


@dataclass
class SimulatorConfig:
    apps: int = 16
    default: AppBehaviour = field(default_factory=AppBehaviour)
    per_app: dict[str, AppBehaviour] = field(default_factory=dict)
    key_id_format: str = "demo_{slug}"

    def behaviour(self, slug: str) -> AppBehaviour:
        return self.per_app.get(slug, self.default)

    def slugs(self) -> list[str]:
        return [f"app{i:02d}" for i in range(1, self.apps + 1)]


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def simulated_accounts(slug: str, phone_number: str, holder_since: date | None) -> list[dict]:
    """0 to 2 accounts per app and number, with registration dates spread over ten years. Accounts
    older than the number's (simulated) re-assignment carry another person's real name."""
    seed = _seed(slug, phone_number)
    holder_since = holder_since or date(2019, 1, 1) + timedelta(days=_seed(phone_number) % 2000)
    accounts = []
    for index in range(seed % 3):
        registered_on = date(2016, 1, 1) + timedelta(days=_seed(slug, phone_number, str(index)) % 3650)
        if seed % 4 == 0:
            match = "not_available"  # this app keeps no real-name record
        elif holder_since is not None and registered_on < holder_since:
            match = "false"
        else:
            match = "true"
        ref = hashlib.sha256(f"{slug}:{phone_number}:{index}".encode()).hexdigest()[:16]
        accounts.append({"account_ref": f"{slug}-{ref}", "registered_on": registered_on.isoformat(), "real_name_match": match})
    return accounts


class Simulator:
    """An ASGI application."""

    def __init__(self, config: SimulatorConfig):
        self.config = config
        self.slugs = set(config.slugs())
        self.seen: dict[str, float] = {}  # signatures already accepted, like a member's own replay guard

    def _refuse_replay(self, headers: dict[str, str]) -> None:
        now = time.time()
        if len(self.seen) > 100_000:
            self.seen = {sig: t for sig, t in self.seen.items() if now - t < 2 * protocol.MAX_SKEW_SECONDS}
        signature = headers.get(protocol.HEADER_SIGNATURE.lower(), "")
        if signature in self.seen:
            raise protocol.SignatureError("signature already used (replay)")
        self.seen[signature] = now

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > protocol.MAX_BODY_BYTES:
                return await self._reply(send, 413, {"error": "body too large"})
            if not message.get("more_body"):
                break
        parts = scope["path"].strip("/").split("/", 1)
        slug = parts[0]
        path = "/" + parts[-1]
        if scope["method"] != "POST" or slug not in self.slugs or path not in (protocol.ACCOUNT_LOOKUP_PATH, protocol.IDENTITY_CHECK_PATH):
            return await self._reply(send, 404, {"error": "no such endpoint"})
        secret = demo_key_secret(slug)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        try:
            key_id = self.config.key_id_format.format(slug=slug)
            protocol.verify(headers, body, secrets_for_key_id=lambda k: [secret] if k == key_id else [],
                            remember=False)
            self._refuse_replay(headers)
            request = json.loads(body)
            holder_since = date.fromisoformat(request["holder_since"]) if request.get("holder_since") else None
            phone_number = request["phone_number"]
        except protocol.SignatureError as error:
            return await self._reply(send, 401, {"error": error.reason})
        except (ValueError, KeyError, TypeError):
            return await self._reply(send, 400, {"error": "not a protocol v1 request"})

        behaviour = self.config.behaviour(slug)
        if behaviour.hang:
            await asyncio.sleep(3600)
        if behaviour.latency_ms:
            await asyncio.sleep(behaviour.latency_ms / 1000)
        if behaviour.error_rate and random.random() < behaviour.error_rate:
            return await self._reply(send, 503, {"error": "simulated outage"})
        if behaviour.huge:
            filler = [{"account_ref": "x" * 100, "registered_on": "2020-01-01", "real_name_match": "true"}] * 20000
            return await self._reply(send, 200, {"accounts": filler}, secret=secret, key_id=key_id)
        if behaviour.garbage:
            return await self._reply(send, 200, {"accounts": "lots"}, secret=secret, key_id=key_id)
        if path == protocol.IDENTITY_CHECK_PATH:
            # The simulated carrier's real-name record: the ID ends with the number's last five digits, then X.
            on_record = "0" * 12 + phone_number[-5:] + "X"
            match = protocol.id_check_matches(request.get("id_check") or {}, on_record, secret=secret)
            return await self._reply(send, 200, {"id_last6_match": "true" if match else "false"}, secret=secret, key_id=key_id)
        payload = {"accounts": simulated_accounts(slug, phone_number, holder_since)}
        return await self._reply(send, 200, payload, secret="forged" if behaviour.forged else secret, key_id=key_id)

    async def _reply(self, send, status: int, payload: dict, *, secret: str | None = None, key_id: str = ""):
        body = protocol.encode(payload)
        headers = [(b"content-type", b"application/json")]
        if secret:
            signed = protocol.sign(body, key_id=key_id, secret=secret)
            headers += [(k.lower().encode(), v.encode()) for k, v in signed.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
