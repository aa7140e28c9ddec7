"""Socket events per connection: a small token bucket for each connection.

A connection may send `burst` events at once and then `rate` per second. Counted in this
process only, which is where the connection lives. The clock is a parameter, so that tests
move time themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class TokenBucket:
    rate: float  # tokens added per second
    burst: float  # the most tokens the bucket holds
    tokens: float
    updated: float

    def take(self, now: float, cost: float = 1.0) -> bool:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


class Throttle:
    """One token bucket per connection id."""

    def __init__(self, rate: float, burst: int, *, enabled: bool = True,
                 clock: Callable[[], float] = time.monotonic):
        self.rate = float(rate)
        self.burst = float(max(1, burst))
        self.enabled = enabled
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        if not self.enabled:
            return True
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self.burst, now)
            return bucket.take(now)

    def forget(self, key: str) -> None:
        with self._lock:
            self._buckets.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)


throttle = Throttle(5, 30)


def configure(rate: float, burst: int, enabled: bool,
              clock: Callable[[], float] = time.monotonic) -> Throttle:
    """Set the module's throttle up for an app (a fresh one: buckets of old apps go)."""
    global throttle
    throttle = Throttle(rate, burst, enabled=enabled, clock=clock)
    return throttle
