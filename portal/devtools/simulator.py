"""The platform simulator: one HTTP server that plays any number of member apps speaking protocol v2,
for the demo, the tests and the benchmarks. `python manage.py run_simulator --port 8900 --apps 16`.

App `appNN` answers at `/appNN/v2/account-lookup`, signs (Standard Webhooks) with the demo secret
(registry.demo.demo_key_secret), and derives its accounts from the phone number, so answers are the
same every time. Each account has a simulated real-name record: the current holder's ID ends with the
number's last five digits and X (as the simulated carrier's record says), a previous holder's with
other characters; per account it answers the digest of that record under the request's challenge.
Behaviour per app is configurable: latency, error rate, hanging (timeout) and garbage.

Recycled-number notices arrive at `/appNN/v2/number-notices`: each is verified (the app's webhook
secret: `demo_webhook_secret(slug)`, or the one handed over at `/_control/appNN`) and counted, once per
notice id; with `--report-back` the app reports bindings removed to the portal. `/_control/appNN` (GET:
counts; POST `{"webhook_down": true, "webhook_secret": ...}`) lets tests and benchmarks
watch and steer it; `GET /_control` sums every app; `POST /_control/reset` forgets the counts.

With `--carrier-app appNN` one app also plays a carrier's app using the carrier API
(portal/carrier/simulator.py); its counts are at `GET /_control/carrier`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

from portal.devtools.carrier_app import CALLBACK_PATH as CARRIER_CALLBACK_PATH
from portal.devtools.demo import demo_key_secret, demo_webhook_secret
from registry import protocol


@dataclass
class AppBehaviour:
    latency_ms: int = 0
    error_rate: float = 0.0  # share of requests answered 503
    hang: bool = False  # never answers (the portal's timeout must fire)
    garbage: bool = False  # answers 200 with a body that is not protocol v2
    huge: bool = False  # answers 200 with a body far over the protocol's cap
    forged: bool = False  # signs its answers with the wrong secret
    webhook_down: bool = False  # its notice webhook answers 503 (a member outage)


@dataclass
class Inbox:
    """What one app's notice webhook took in."""

    notices: int = 0  # distinct notice ids
    numbers: int = 0  # events in them
    repeats: int = 0  # notices received again (same id)
    refused: int = 0  # bad signature or not a notice
    down_refusals: int = 0  # answered 503 while down
    reported: int = 0
    seen: set = field(default_factory=set)
    last_at: float = 0.0

    def counts(self) -> dict:
        return {
            "notices": self.notices,
            "numbers": self.numbers,
            "repeats": self.repeats,
            "refused": self.refused,
            "down_refusals": self.down_refusals,
            "reported": self.reported,
            "last_at": self.last_at,
        }


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
    portal_url: str = ""  # where apps send later unbind answers and (with report_back) notice reports
    report_back: bool = False
    carrier: object = None  # a portal.devtools.carrier_app.CarrierApp: one app plays a carrier using the carrier API

    def behaviour(self, slug: str) -> AppBehaviour:
        return self.per_app.get(slug, self.default)

    def slugs(self) -> list[str]:
        return [f"app{i:02d}" for i in range(1, self.apps + 1)]


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def simulated_holder_id_last6(phone_number: str) -> str:
    """The last six ID characters of a number's current holder, as every simulated real-name record
    (the carrier's and the apps') has them: the number's last five digits, then X (138 0013 8000: 38000X)."""
    return phone_number[-5:] + "X"


def simulated_accounts(slug: str, phone_number: str, holder_since: date | None) -> list[dict]:
    """0 to 2 accounts per app and number, with registration dates spread over ten years, each with the
    last six ID characters of its real-name record (`id_last6`; None when the app keeps no record).
    Accounts older than the number's (simulated) re-assignment are another person's."""
    seed = _seed(slug, phone_number)
    holder_since = holder_since or date(2019, 1, 1) + timedelta(days=_seed(phone_number) % 2000)
    holder = simulated_holder_id_last6(phone_number)
    accounts = []
    for index in range(seed % 3):
        registered_on = date(2016, 1, 1) + timedelta(days=_seed(slug, phone_number, str(index)) % 3650)
        if seed % 4 == 0:
            id_last6 = None  # this app keeps no real-name record
        elif holder_since is not None and registered_on < holder_since:
            id_last6 = f"{_seed(phone_number, 'previous') % 100000:05d}1"  # a previous holder's (never ends in X)
        else:
            id_last6 = holder
        ref = hashlib.sha256(f"{slug}:{phone_number}:{index}".encode()).hexdigest()[:16]
        accounts.append(
            {"account_ref": f"{slug}-{ref}", "registered_on": registered_on.isoformat(), "id_last6": id_last6}
        )
    return accounts


def account_lookup_answer(accounts: list[dict], challenge: str) -> dict:
    """The v2 answer: per account, the digest of its own record under the challenge (or not_available)."""
    return {
        "accounts": [
            {
                "account_ref": a["account_ref"],
                "registered_on": a["registered_on"],
                "id_last6_digest": protocol.id_check_answer(challenge, a["id_last6"]),
            }
            for a in accounts
        ]
    }


class Simulator:
    """An ASGI application."""

    def __init__(self, config: SimulatorConfig):
        self.config = config
        self.slugs = set(config.slugs())
        self.seen: dict[str, float] = {}  # webhook-ids already accepted, like a member's own replay guard
        self.inboxes = {slug: Inbox() for slug in self.slugs}
        self.webhook_keys: dict[str, tuple[str, str]] = {}  # slug -> (key id, secret) handed over at /_control
        self._tasks: set = set()  # later unbind answers and notice reports still to be sent

    def _refuse_replay(self, headers: dict[str, str]) -> None:
        now = time.time()
        if len(self.seen) > 100_000:
            self.seen = {msg_id: t for msg_id, t in self.seen.items() if now - t < 2 * protocol.MAX_SKEW_SECONDS}
        msg_id = headers.get(protocol.HEADER_ID, "")
        if msg_id in self.seen:
            raise protocol.SignatureError("webhook-id already used (replay)")
        self.seen[msg_id] = now

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        parts = scope["path"].strip("/").split("/", 1)
        slug = parts[0]
        path = "/" + parts[-1]
        cap = protocol.NOTICE_MAX_BODY_BYTES if path == protocol.NUMBER_NOTICES_PATH else protocol.MAX_BODY_BYTES
        body = await self._read_body(receive, cap)
        if body is None:
            return await self._reply(send, 413, {"error": "body too large"})
        if slug == "_control":
            return await self._control(scope["method"], path, body, send)
        carrier = self.config.carrier
        if carrier is not None and slug == carrier.config.slug and path == CARRIER_CALLBACK_PATH:
            status, payload = carrier.callback({k.decode(): v.decode() for k, v in scope["headers"]}, body)
            return await self._reply(send, status, payload)
        if scope["method"] == "POST" and slug in self.slugs and path == protocol.NUMBER_NOTICES_PATH:
            return await self._notice(slug, scope, body, send)
        if (
            scope["method"] != "POST"
            or slug not in self.slugs
            or path not in (protocol.ACCOUNT_LOOKUP_PATH, protocol.IDENTITY_CHECK_PATH, protocol.UNBIND_PATH)
        ):
            return await self._reply(send, 404, {"error": "no such endpoint"})
        return await self._member_call(slug, path, scope, body, send)

    @staticmethod
    async def _read_body(receive, cap: int) -> bytes | None:
        """The request body, or None once it grows past `cap`."""
        chunks, size = [], 0
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > cap:
                return None
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _member_call(self, slug: str, path: str, scope, body: bytes, send):
        """A signed protocol v2 call to one simulated app: verified, then answered as the app's behaviour says."""
        secret = demo_key_secret(slug)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        try:
            protocol.verify(headers, body, keys=[secret], remember=False)
            self._refuse_replay(headers)
            request = json.loads(body)
            holder_since = date.fromisoformat(request["holder_since"]) if request.get("holder_since") else None
            phone_number = request["phone_number"]
            challenge = protocol.parse_id_challenge(request) if path != protocol.UNBIND_PATH else ""
        except protocol.SignatureError as error:
            return await self._reply(send, 401, {"error": error.reason})
        except protocol.ProtocolError as error:
            return await self._reply(send, 400, {"error": error.reason})
        except (ValueError, KeyError, TypeError):
            return await self._reply(send, 400, {"error": "not a protocol v2 request"})

        behaviour = self.config.behaviour(slug)
        if behaviour.hang:
            await asyncio.sleep(3600)
        if behaviour.latency_ms:
            await asyncio.sleep(behaviour.latency_ms / 1000)
        if behaviour.error_rate and random.random() < behaviour.error_rate:
            return await self._reply(send, 503, {"error": "simulated outage"})
        if behaviour.huge:
            filler = [
                {"account_ref": "x" * 100, "registered_on": "2020-01-01", "id_last6_digest": "not_available"}
            ] * 20000
            return await self._reply(send, 200, {"accounts": filler}, secret=secret)
        if behaviour.garbage:
            return await self._reply(send, 200, {"accounts": "lots"}, secret=secret)
        if path == protocol.IDENTITY_CHECK_PATH:
            # The simulated carrier's real-name record, as a digest under the challenge; the portal compares.
            digest = protocol.id_check_answer(challenge, simulated_holder_id_last6(phone_number))
            return await self._reply(send, 200, {"id_last6_digest": digest}, secret=secret)
        if path == protocol.UNBIND_PATH:
            return await self._unbind(send, slug, request, secret=secret)
        payload = account_lookup_answer(simulated_accounts(slug, phone_number, holder_since), challenge)
        return await self._reply(send, 200, payload, secret=protocol.new_secret() if behaviour.forged else secret)

    async def _unbind(self, send, slug: str, request: dict, *, secret: str):
        if not isinstance(request.get("accounts"), list) or not request.get("request_id"):
            return await self._reply(send, 400, {"error": "not a protocol v2 unbind request"})
        if slug in self.config.unbind_refuse:
            reason = "账户尚有未结清余额，请原机主本人到营业网点办理解绑。"
            return await self._reply(send, 200, {"state": "refused", "reason": reason}, secret=secret)
        if slug in self.config.unbind_later:
            delay = self.config.unbind_later[slug]
            if delay is not None and self.config.portal_url:
                self._spawn(self._answer_later(slug, request["request_id"], delay))
            return await self._reply(send, 202, {"state": "accepted"}, secret=secret)
        return await self._reply(send, 200, {"state": "done"}, secret=secret)

    def _spawn(self, coro) -> None:
        """Run coro in the background, holding a reference until it ends (the loop keeps only weak ones)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post_to_portal(self, slug: str, path: str, payload: dict) -> bool:
        """POST payload to the portal signed as the app (its lookup key); True if it answered 200. Best
        effort: a failure to connect or a timeout is False too."""
        import aiohttp

        body = protocol.encode(payload)
        headers = {
            "Content-Type": "application/json",
            **protocol.sign(body, keys=demo_key_secret(slug), key_id=self.config.key_id_format.format(slug=slug)),
        }
        try:
            async with aiohttp.ClientSession() as session:
                async with session.post(
                    self.config.portal_url.rstrip("/") + path,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as response:
                    return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    async def _answer_later(self, slug: str, request_id: str, delay: float) -> None:
        """The platform's later answer, signed, through the portal's platform API. If it is lost, the
        request stays open: the member's staff can still answer it in the console."""
        await asyncio.sleep(delay)
        await self._post_to_portal(slug, f"/api/v1/platform/unbind-requests/{request_id}/answer", {"result": "done"})

    async def _lifespan(self, receive, send):
        """Start-up starts the carrier app's loop, if one is configured."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.config.carrier is not None:
                    self._spawn(self.config.carrier.run())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _control(self, method: str, path: str, body: bytes, send):
        target = path.strip("/")
        if target == "carrier" and self.config.carrier is not None:
            return await self._reply(send, 200, self.config.carrier.counts)
        if method == "POST" and target == "reset":
            self.inboxes = {slug: Inbox() for slug in self.slugs}
            return await self._reply(send, 200, {"reset": True})
        if target in ("_control", ""):
            total = {key: sum(inbox.counts()[key] for inbox in self.inboxes.values()) for key in Inbox().counts()}
            total["last_at"] = max((inbox.last_at for inbox in self.inboxes.values()), default=0.0)
            per_app = {slug: inbox.numbers for slug, inbox in self.inboxes.items()}
            return await self._reply(send, 200, total | {"numbers_per_app": per_app})
        if target not in self.slugs:
            return await self._reply(send, 404, {"error": "no such app"})
        if method == "POST":
            try:
                settings_ = json.loads(body or b"{}")
            except ValueError:
                return await self._reply(send, 400, {"error": "not JSON"})
            behaviour = self.config.per_app.setdefault(target, AppBehaviour(**vars(self.config.default)))
            if "webhook_down" in settings_:
                behaviour.webhook_down = bool(settings_["webhook_down"])
            if settings_.get("webhook_secret"):
                self.webhook_keys[target] = (settings_.get("key_id", ""), settings_["webhook_secret"])
        return await self._reply(send, 200, self.inboxes[target].counts())

    async def _notice(self, slug: str, scope, body: bytes, send):
        """A member's notice webhook: verify the signature, count the numbers once per notice id, and
        (with report_back) report the bindings it removed."""
        inbox = self.inboxes[slug]
        if self.config.behaviour(slug).webhook_down:
            inbox.down_refusals += 1
            return await self._reply(send, 503, {"error": "simulated outage"})
        _, secret = self.webhook_keys.get(slug, ("", demo_webhook_secret(slug)))
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        try:
            # a retry carries the same webhook-id: taken again (200) but counted once, below
            protocol.verify(headers, body, keys=[secret], remember=False)
            notice = protocol.parse_notice(body)
        except protocol.ProtocolError as error:
            inbox.refused += 1
            return await self._reply(
                send, 401 if isinstance(error, protocol.SignatureError) else 400, {"error": error.reason}
            )
        if notice["id"] in inbox.seen:
            inbox.repeats += 1
        else:
            inbox.seen.add(notice["id"])
            inbox.notices += 1
            inbox.numbers += len(notice["data"]["events"])
            inbox.last_at = time.time()
            if self.config.report_back and self.config.portal_url:
                self._spawn(self._report_back(slug, notice))
        return await self._reply(send, 200, {"received": True})

    async def _report_back(self, slug: str, notice: dict) -> None:
        """The app removes the previous holders' bindings: as many as its simulated accounts for each
        re-assigned number, and reports the count (best effort; the notice itself was taken)."""
        await asyncio.sleep(0.2)
        removed = sum(
            len(simulated_accounts(slug, e["phone_number"], None))
            for e in notice["data"]["events"]
            if e["type"] == "reassigned"
        )
        if await self._post_to_portal(slug, notice["reportpath"], protocol.notice_report(bindings_removed=removed)):
            self.inboxes[slug].reported += 1

    async def _reply(self, send, status: int, payload: dict, *, secret: str | None = None):
        body = protocol.encode(payload)
        headers = [(b"content-type", b"application/json")]
        if secret:
            signed = protocol.sign(body, keys=secret)
            headers += [(k.lower().encode(), v.encode()) for k, v in signed.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
