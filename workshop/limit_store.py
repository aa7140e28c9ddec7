"""The rate-limit store of a process without Redis: limits' in-memory store, sweeping less often.

limits' `MemoryStorage` starts a sweep of *every* counter 10 ms after each hit. Its counters
expire lazily anyway (`get` drops an expired one before reading it), so the sweep only gives
memory back; but with a counter per participant and scope, a voting burst of 2,000 people ran
it a hundred times a second over thousands of keys: 7 % of the server's CPU (py-spy, see
docs/performance.md). This store sweeps at most once a second. Registered as the
`samskab-memory://` storage URI (config.py uses it when REDIS_URL is not set).
"""

from __future__ import annotations

import threading

from limits.storage import MemoryStorage

SWEEP_INTERVAL_S = 1.0


class SweepingMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["samskab-memory"]

    # MemoryStorage calls its private `__schedule_expiry` after every hit; this replaces it.
    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the mangled name
        if not self.timer.is_alive():
            self.timer = threading.Timer(SWEEP_INTERVAL_S, self._MemoryStorage__expire_events)
            self.timer.daemon = True
            self.timer.start()
