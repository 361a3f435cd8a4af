"""The retry backoffs, in one place: how long to wait before the next try of anything sent to a member or a
provider. `backoff_seconds` doubles (unbind pushes, SMS, the lookup fan-out); a `Schedule` lists its delays as
data, so what docs/protocol.md publishes for notices is what the code does.

A schedule lists the delay after each failed attempt: the first attempt is immediate, attempt n+1 comes
`delays[n-1]` after attempt n failed, and once the list is used up there is no next attempt. Each delay gets
up to `jitter` (a fraction) added, so members coming back up are not hit by every waiting message at once; a
delay is never shorter than published."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone


def backoff_seconds(attempt: int, *, base: float, cap: float | None = None, jitter: bool = False) -> float:
    """`base` * 2^(attempt - 1) seconds after try number `attempt` (1, 2, ...), at most `cap`. With `jitter`, a
    moment in the upper half of that, so members coming back up are not hit by every retry at once."""
    delay = base * 2 ** (max(attempt, 1) - 1)
    if cap is not None:
        delay = min(delay, cap)
    return delay / 2 + random.uniform(0, delay / 2) if jitter else delay


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
