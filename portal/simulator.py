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
    # unbinding: apps that refuse, and apps that accept for later (202) and answer through the portal's
    # API after so many seconds (None: never by themselves; their staff answer in the console)
    unbind_refuse: set[str] = field(default_factory=set)
    unbind_later: dict[str, float | None] = field(default_factory=dict)
    portal_url: str | None = None

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
        self.later: set = set()  # unbind answers still to be sent

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
        paths = (protocol.ACCOUNT_LOOKUP_PATH, protocol.IDENTITY_CHECK_PATH, protocol.UNBIND_PATH)
        if scope["method"] != "POST" or slug not in self.slugs or path not in paths:
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
        if path == protocol.UNBIND_PATH:
            return await self._unbind(send, slug, request, secret=secret, key_id=key_id)
        payload = {"accounts": simulated_accounts(slug, phone_number, holder_since)}
        return await self._reply(send, 200, payload, secret="forged" if behaviour.forged else secret, key_id=key_id)

    async def _unbind(self, send, slug: str, request: dict, *, secret: str, key_id: str):
        if not isinstance(request.get("accounts"), list) or not request.get("request_id"):
            return await self._reply(send, 400, {"error": "not a protocol v1 unbind request"})
        if slug in self.config.unbind_refuse:
            reason = "账户尚有未结清余额，请原机主本人到营业网点办理解绑。"
            return await self._reply(send, 200, {"state": "refused", "reason": reason}, secret=secret, key_id=key_id)
        if slug in self.config.unbind_later:
            delay = self.config.unbind_later[slug]
            if delay is not None and self.config.portal_url:
                task = asyncio.get_running_loop().create_task(self._answer_later(request["request_id"], delay, secret, key_id))
                self.later.add(task)
                task.add_done_callback(self.later.discard)
            return await self._reply(send, 202, {"state": "accepted"}, secret=secret, key_id=key_id)
        return await self._reply(send, 200, {"state": "done"}, secret=secret, key_id=key_id)

    async def _answer_later(self, request_id: str, delay: float, secret: str, key_id: str) -> None:
        """The platform's later answer, signed, through the portal's platform API."""
        import httpx

        await asyncio.sleep(delay)
        body = protocol.encode({"result": "done"})
        headers = {"Content-Type": "application/json", **protocol.sign(body, key_id=key_id, secret=secret)}
        url = f"{self.config.portal_url.rstrip('/')}/api/v1/platform/unbind-requests/{request_id}/answer"
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                await client.post(url, content=body, headers=headers)
        except httpx.HTTPError:
            pass  # the request stays open: the member's staff can still answer it in the console

    async def _reply(self, send, status: int, payload: dict, *, secret: str | None = None, key_id: str = ""):
        body = protocol.encode(payload)
        headers = [(b"content-type", b"application/json")]
        if secret:
            signed = protocol.sign(body, key_id=key_id, secret=secret)
            headers += [(k.lower().encode(), v.encode()) for k, v in signed.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
