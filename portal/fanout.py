"""The lookup fan-out: one task calls a batch of member apps concurrently, each keeping its own row.

A task claims its rows (waiting -> running), hands the calls to an asyncio loop that lives for the whole
worker process (so connections to members are kept alive between lookups), and writes each outcome to
its row as it arrives, in small batches. The database row stays the truth: a retry is a row put back
to waiting with a later deadline, and the sweeper (services.lookup_sweep) re-sends anything stuck.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import aiohttp
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from portal.models import LookupQuery
from portal.phone import to_e164
from registry import protocol
from registry.models import Integration

logger = logging.getLogger(__name__)
State = LookupQuery.State


@dataclass
class Call:
    query_id: int
    lookup_id: str
    integration_id: int
    url: str
    body: bytes
    key_id: str
    secret: str
    answer_secrets: dict[str, list[str]]
    timeout_s: float
    rps: int
    holder_since: date | None


@dataclass
class Outcome:
    query_id: int
    state: str
    error: str = ""
    duration_ms: int = 0
    accounts: list[dict] = field(default_factory=list)
    retryable: bool = False
    member_ok: bool = False  # for the integration's health


# --- the worker process's event loop -------------------------------------------------------------------

_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_session: aiohttp.ClientSession | None = None
_limiter = None


def _event_loop() -> asyncio.AbstractEventLoop:
    """One loop thread per process, started on first use (after the worker forked)."""
    global _loop, _loop_pid
    import os

    if _loop is None or _loop_pid != os.getpid():
        import uvloop

        _loop = uvloop.new_event_loop()
        _loop_pid = os.getpid()
        threading.Thread(target=_loop.run_forever, name="fanout-loop", daemon=True).start()
    return _loop


class RateLimiter:
    """At most `rps` calls a second to one integration, across every worker when Redis is there."""

    def __init__(self):
        self.redis = None
        if settings.REDIS_URL:
            import redis.asyncio

            self.redis = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        self.local: dict[tuple[int, int], int] = {}

    async def wait(self, integration_id: int, rps: int) -> None:
        while True:
            second = int(time.time())
            if self.redis is not None:
                key = f"portal:rate:{integration_id}:{second}"
                async with self.redis.pipeline(transaction=False) as pipe:
                    count, _ = await pipe.incr(key).expire(key, 2).execute()
            else:
                count = self.local[(integration_id, second)] = self.local.get((integration_id, second), 0) + 1
            if count <= rps:
                return
            await asyncio.sleep(second + 1 - time.time())


async def _call_one(call: Call, report) -> None:
    global _session, _limiter
    if _session is None:
        # one session per worker process: connections to members stay open between lookups
        _session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300))
        _limiter = RateLimiter()
    started = time.monotonic()
    try:
        await _limiter.wait(call.integration_id, call.rps)
        headers = {"Content-Type": "application/json", **protocol.sign(call.body, key_id=call.key_id, secret=call.secret)}
        reply = await protocol.apost(_session, call.url, call.body, headers, timeout_s=call.timeout_s)
        outcome = _judge(call, reply)
    except asyncio.TimeoutError:
        outcome = Outcome(call.query_id, State.TIMED_OUT, f"no answer within {int(call.timeout_s * 1000)} ms")
    except aiohttp.ClientError as error:
        outcome = Outcome(call.query_id, State.ERROR, f"could not connect: {error.__class__.__name__}", retryable=True)
    except protocol.ProtocolError as error:
        outcome = Outcome(call.query_id, State.ERROR, error.reason)
    except Exception as error:  # one member's surprise must never cost the others their rows
        logger.exception("lookup call %s failed unexpectedly", call.query_id)
        outcome = Outcome(call.query_id, State.ERROR, f"unexpected: {error.__class__.__name__}")
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    report(outcome)


def _judge(call: Call, reply: protocol.Reply) -> Outcome:
    if reply.status == 202:
        return Outcome(call.query_id, State.RUNNING, AWAITING_CALLBACK, member_ok=True)
    if reply.status >= 500:
        return Outcome(call.query_id, State.ERROR, f"HTTP {reply.status}", retryable=True)
    if reply.status != 200:
        return Outcome(call.query_id, State.ERROR, f"HTTP {reply.status}: {reply.body[:100]!r}")
    try:
        protocol.verify(reply.headers, reply.body, secrets_for_key_id=lambda k: call.answer_secrets.get(k, []), remember=False)
        accounts = protocol.parse_account_lookup_answer(reply.body)
    except protocol.ProtocolError as error:
        return Outcome(call.query_id, State.ERROR, error.reason)
    rows = account_rows(accounts, call.holder_since)
    return Outcome(call.query_id, State.ANSWERED if rows else State.NO_ACCOUNT, accounts=rows, member_ok=True)


def account_rows(accounts: list[protocol.Account], holder_since: date | None) -> list[dict]:
    return [
        {"account_ref": a.account_ref, "registered_on": a.registered_on.isoformat(),
         "likely_previous": a.likely_previous_holders(holder_since)}
        for a in accounts
    ]


async def _call_all(calls: list[Call], report) -> None:
    await asyncio.gather(*(_call_one(call, report) for call in calls))


# --- the task's side: claim, write, finish ---------------------------------------------------------------

AWAITING_CALLBACK = "awaiting callback (202)"


def run(query_ids: list[int]) -> None:
    calls = _claim(query_ids)
    if not calls:
        return
    outcomes: queue.Queue[Outcome] = queue.Queue()
    future = asyncio.run_coroutine_threadsafe(_call_all(calls, outcomes.put), _event_loop())
    by_id = {c.query_id: c for c in calls}
    pending = len(calls)
    while pending:
        batch = [outcomes.get()]
        time.sleep(0.002)  # let answers arriving together share one write
        while True:
            try:
                batch.append(outcomes.get_nowait())
            except queue.Empty:
                break
        _record(batch, by_id)
        pending -= len(batch)
    future.result()


def _circuit_open(integration: Integration, now) -> bool:
    return (
        integration.consecutive_failures >= settings.LOOKUP_CIRCUIT_FAILURES
        and integration.last_failure_at is not None
        and now - integration.last_failure_at < timedelta(seconds=settings.LOOKUP_CIRCUIT_SECONDS)
    )


def _claim(query_ids: list[int]) -> list[Call]:
    now = timezone.now()
    calls, skipped, secrets_cache = [], [], {}
    with transaction.atomic():
        rows = (
            LookupQuery.objects.select_for_update(
                skip_locked=connection.features.has_select_for_update_skip_locked, of=("self",)
            )
            .filter(pk__in=query_ids, state__in=[State.WAITING, State.RUNNING])
            .select_related("app__integration", "lookup")
        )
        for q in rows:
            integration = q.app.integration
            if _circuit_open(integration, now):
                q.state, q.finished_at = State.UNAVAILABLE, now
                q.error = f"member unavailable: {integration.consecutive_failures} failures in a row"
                skipped.append(q)
                continue
            if integration.pk not in secrets_cache:
                secrets_cache[integration.pk] = {k.key_id: [k.secret()] for k in integration.keys.filter(revoked_at__isnull=True)}
            answer_secrets = secrets_cache[integration.pk]
            key_id = q.id_check.get("key_id", "")
            if key_id not in answer_secrets:  # the key was revoked since the lookup started
                q.state, q.finished_at, q.error = State.ERROR, now, "signing key revoked during the lookup"
                skipped.append(q)
                continue
            q.state, q.attempts, q.started_at = State.RUNNING, q.attempts + 1, now
            q.deadline_at = now + timedelta(milliseconds=integration.timeout_ms, seconds=settings.LOOKUP_DEADLINE_GRACE_SECONDS)
            payload = {
                "request_id": str(q.request_id),
                "phone_number": to_e164(q.lookup.phone_number),
                "holder_since": q.lookup.holder_since.isoformat() if q.lookup.holder_since else None,
                "id_check": {k: v for k, v in q.id_check.items() if k != "key_id"},
            }
            calls.append(Call(
                query_id=q.pk, lookup_id=str(q.lookup_id), integration_id=integration.pk,
                url=integration.base_url.rstrip("/") + protocol.ACCOUNT_LOOKUP_PATH, body=protocol.encode(payload),
                key_id=key_id, secret=answer_secrets[key_id][0], answer_secrets=answer_secrets,
                timeout_s=integration.timeout_ms / 1000, rps=integration.max_requests_per_second,
                holder_since=q.lookup.holder_since,
            ))
            skipped.append(q)  # saved below with its new state
        LookupQuery.objects.bulk_update(skipped, ["state", "attempts", "started_at", "deadline_at", "finished_at", "error"])
    finish_lookups({str(q.lookup_id) for q in skipped if q.state in LookupQuery.SETTLED})
    return calls


def _record(batch: list[Outcome], calls: dict[int, Call]) -> None:
    from portal.tasks import lookup_queries_run

    now = timezone.now()
    retry = []
    with transaction.atomic():
        rows = {q.pk: q for q in LookupQuery.objects.filter(pk__in=[o.query_id for o in batch], state=State.RUNNING)}
        changed = []
        for outcome in batch:
            q = rows.get(outcome.query_id)
            if q is None:  # settled meanwhile (a callback, a duplicate run): the first answer stands
                continue
            q.duration_ms, q.error = outcome.duration_ms, outcome.error[:300]
            if outcome.retryable and q.attempts < settings.LOOKUP_MAX_ATTEMPTS:
                backoff = timedelta(seconds=q.attempts)
                q.state, q.error = State.WAITING, f"{outcome.error[:250]}; retrying"
                q.deadline_at = now + backoff + timedelta(seconds=calls[q.pk].timeout_s + settings.LOOKUP_DEADLINE_GRACE_SECONDS)
                retry.append((q.pk, q.attempts))
            elif outcome.state == State.RUNNING:  # 202: the member answers later by callback
                q.deadline_at = now + timedelta(seconds=settings.LOOKUP_CALLBACK_SECONDS)
            else:
                q.state, q.finished_at = outcome.state, now
                q.accounts = outcome.accounts
                q.accounts_total = len(outcome.accounts)
                q.accounts_previous = sum(1 for a in outcome.accounts if a["likely_previous"])
            changed.append(q)
        LookupQuery.objects.bulk_update(
            changed, ["state", "error", "duration_ms", "finished_at", "deadline_at", "accounts", "accounts_total", "accounts_previous"]
        )
        _record_member_health(batch, calls, now)
    for query_id, attempts in retry:
        lookup_queries_run.apply_async(([query_id],), countdown=attempts)
    finish_lookups({calls[o.query_id].lookup_id for o in batch})


def _record_member_health(batch: list[Outcome], calls: dict[int, Call], now) -> None:
    ok = {calls[o.query_id].integration_id for o in batch if o.member_ok}
    failed = {calls[o.query_id].integration_id: o.error for o in batch if not o.member_ok}
    if ok:
        Integration.objects.filter(pk__in=ok).update(last_success_at=now, consecutive_failures=0)
    for integration_id, error in failed.items():
        if integration_id not in ok:
            Integration.objects.filter(pk=integration_id).update(
                last_failure_at=now, last_error=error[:500], consecutive_failures=F("consecutive_failures") + 1
            )


def finish_lookups(lookup_ids: set[str]) -> None:
    from portal.services import lookup_complete_if_settled

    for lookup_id in lookup_ids:
        if not LookupQuery.objects.filter(lookup_id=lookup_id, state__in=[State.WAITING, State.RUNNING]).exists():
            lookup_complete_if_settled(lookup_id=lookup_id)
