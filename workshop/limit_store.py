"""The rate-limit store of a process without Redis: limits' in-memory store, sweeping less often.

limits' `MemoryStorage` starts a sweep of *every* counter 10 ms after each hit, on a new timer
thread whenever the last one has finished. Its counters expire lazily anyway (`get` drops an
expired one before reading it), so the sweep only gives memory back. Under gevent it was
costly twice over: with a counter per participant and scope, a voting burst of 2,000 people
swept thousands of keys many times a second, and `Thread.start` yields, so every handler that
hit the store in the meantime saw no live timer and started one more (one burst: a quarter of
the server's CPU in timers and sweeps; py-spy, see docs/performance.md).

This store schedules one sweep per SWEEP_INTERVAL_S, decided before anything can yield.
Registered as the `samskab-memory://` storage URI (config.py uses it when REDIS_URL is unset).
"""

from __future__ import annotations

import threading
import time

from limits.storage import MemoryStorage

SWEEP_INTERVAL_S = 10.0


class SweepingMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["samskab-memory"]

    _next_sweep = 0.0  # monotonic time before which no sweep is scheduled

    # MemoryStorage calls its private `__schedule_expiry` after every hit; this replaces it.
    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the mangled name
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL_S  # before start(), which may yield
        self.timer = threading.Timer(SWEEP_INTERVAL_S, self._MemoryStorage__expire_events)
        self.timer.daemon = True
        self.timer.start()
