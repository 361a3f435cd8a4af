"""Rate limits in fixed windows, counted in Redis so every web instance and worker shares one count:
INCRBY (and EXPIRE) on `portal:rate:<scope>:<id>:<window>`. The lookup fan-out's calls
to each member (portal/lookup/fanout.py, asyncio) and members' recycling checks (the CAMARA check and the bulk
check, here) count the same way. Redis is always there: development and tests run an embedded one."""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings

logger = logging.getLogger(__name__)


def window_key(scope: str, ident, window: int) -> str:
    return f"portal:rate:{scope}:{ident}:{window}"


_redis = None


def redis_client():
    """This process's Redis client (redis-py's pool opens new connections after a fork)."""
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.REDIS_URL)
    return _redis


def exceeded(scope: str, ident, *, limit: int, seconds: int = 1, amount: int = 1) -> float | None:
    """Count `amount` against `limit` per `seconds` for (scope, ident). None while within the limit;
    else the seconds until the window ends. Redis trouble lets the call through (logged): a check
    refused for our outage would be worse than a window not counted."""
    now = time.time()
    window = int(now // seconds)
    key = window_key(scope, ident, window)
    try:
        count = redis_client().incrby(key, amount)
        if count == amount:  # the window's first call sets its expiry: one round trip for all the others
            redis_client().expire(key, seconds + 1)
    except Exception:
        logger.exception("rate limiter: count failed for %s", scope)
        return None
    return None if count <= limit else (window + 1) * seconds - now
