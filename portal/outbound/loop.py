from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

import aiohttp
import redis.asyncio
from django.conf import settings

from portal.core import ratelimit
from portal.outbound import clients as outbound

logger = logging.getLogger(__name__)


_loop: asyncio.AbstractEventLoop | None = None


_loop_pid: int | None = None


_session: aiohttp.ClientSession | None = None


_limiter = None


def event_loop() -> asyncio.AbstractEventLoop:
    """One loop thread per process, started on first use (after the worker forked)."""
    global _loop, _loop_pid, _session, _limiter

    if _loop is None or _loop_pid != os.getpid():
        import uvloop

        _session = _limiter = None  # a forked child must not reuse its parent's connections
        _loop = uvloop.new_event_loop()
        _loop_pid = os.getpid()
        threading.Thread(target=_loop.run_forever, name="fanout-loop", daemon=True).start()
    return _loop


class RateLimiter:
    """At most `rps` calls a second to one integration, across every worker: the windows of
    portal/core/ratelimit.py in Redis, counted from the worker's asyncio loop."""

    def __init__(self):
        self.redis = redis.asyncio.Redis.from_url(settings.REDIS_URL)

    @staticmethod
    def _key(integration_id: int, second: int) -> str:
        return ratelimit.window_key("integration", integration_id, second)

    async def admit(self, calls: list) -> set[int]:
        """Count a whole batch of calls in one round trip: the query ids of those within their member's
        limit this second go at once; the others wait one by one (`wait`). One pipeline instead of one
        per call: with 200 members, a round trip each was a tenth of the fan-out's CPU."""
        second = int(time.time())
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for call in calls:
                    key = self._key(call.integration_id, second)
                    pipe.incr(key).expire(key, 2)
                counts = (await pipe.execute())[::2]
        except Exception:  # Redis trouble: every call then asks on its own, and fails on its own
            logger.exception("rate limiter: batch count failed")
            return set()
        return {call.query_id for call, count in zip(calls, counts, strict=True) if count <= call.rps}

    async def wait(self, integration_id: int, rps: int) -> None:
        while True:
            second = int(time.time())
            key = self._key(integration_id, second)
            async with self.redis.pipeline(transaction=False) as pipe:
                count, _ = await pipe.incr(key).expire(key, 2).execute()
            if count <= rps:
                return
            await asyncio.sleep(second + 1 - time.time())


def http_session() -> aiohttp.ClientSession:
    """The worker process's one client session (call it inside the loop): connections to members stay
    open between lookups and notices. It is held to the outbound policy (portal/outbound/)."""
    global _session, _limiter
    if _session is None:
        _session = outbound.aiohttp_session(limit=0, ttl_dns_cache=300)
        _limiter = RateLimiter()
    return _session


def run_in_loop(coroutine):
    """Run a coroutine on the worker process's loop thread and wait for its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, event_loop()).result()


def rate_limiter() -> RateLimiter:
    """The worker's limiter of calls a second per integration, made with the session."""
    http_session()
    return _limiter
