"""The portal's retry schedules: how long to wait after a failed attempt before the next one.

One place, as data, so what docs/protocol.md publishes is what the code does. Today the notices use it
(the Standard Webhooks example schedule, cut to about a day); the other retries (unbind pushes, SMS,
the lookup fan-out) still count their own delays and are to move here.

A schedule lists the delay after each failed attempt: the first attempt is immediate, attempt n+1
comes `delays[n-1]` after attempt n failed, and once the list is used up there is no next attempt.
Each delay gets up to `jitter` (a fraction) added, so members coming back up are not hit by every
waiting message at the same moment; a delay is never shorter than published.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone


@dataclass(frozen=True)
class Schedule:
    delays: tuple[float, ...]  # seconds after failed attempt 1, 2, ...
    jitter: float = 0.1

    @property
    def attempts(self) -> int:
        """Attempts in all: the first one and one after each delay."""
        return len(self.delays) + 1

    def delay(self, attempts: int) -> float | None:
        """Seconds to wait after `attempts` failed attempts (1 = the first failed), jitter included;
        None when the schedule is used up."""
        if attempts < 1 or attempts > len(self.delays):
            return None
        base = self.delays[attempts - 1]
        return base + random.uniform(0, base * self.jitter)

    def next_attempt_at(self, attempts: int, *, now: datetime | None = None) -> datetime | None:
        """When the next attempt is due after `attempts` failed ones, or None: no more attempts."""
        delay = self.delay(attempts)
        return None if delay is None else (now or timezone.now()) + timedelta(seconds=delay)

    def total_seconds(self) -> float:
        """From the first attempt to the last, without jitter."""
        return sum(self.delays)


# Recycled-number notices: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts over about 27.6 hours).
NOTICES = Schedule(delays=(5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600))


def notices() -> Schedule:
    """The notices' schedule: the published one, or NOTICE_RETRY_SCHEDULE where a deployment (or a test
    of retries with a real worker) sets its own."""
    override = tuple(getattr(settings, "NOTICE_RETRY_SCHEDULE", ()) or ())
    return Schedule(delays=override, jitter=NOTICES.jitter) if override else NOTICES
