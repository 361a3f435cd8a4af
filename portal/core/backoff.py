"""The one retry backoff: how long to wait before the next try of anything sent to a member or a provider."""

import random


def backoff_seconds(attempt: int, *, base: float, cap: float | None = None, jitter: bool = False) -> float:
    """`base` * 2^(attempt - 1) seconds after try number `attempt` (1, 2, ...), at most `cap`. With `jitter`, a
    moment in the upper half of that, so members coming back up are not hit by every retry at once."""
    delay = base * 2 ** (max(attempt, 1) - 1)
    if cap is not None:
        delay = min(delay, cap)
    return delay / 2 + random.uniform(0, delay / 2) if jitter else delay
