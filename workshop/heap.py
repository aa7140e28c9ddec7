"""The server process's memory: freed heap given back to the operating system now and then
(below), and the cycle collector set up for thousands of connections (`tune_gc`).

A live workshop's memory comes in peaks: a voting burst queues frames in thousands of
per-socket writers, a wave of reconnections builds thousands of snapshots. Afterwards the
objects are gone, but glibc's allocator keeps the freed heap pages, so the process's resident
memory (RSS) stays at the highest peak so far, and each larger peak (they grow with the
workshop's content) raises it for good. The soak run showed exactly that: live memory level,
RSS stepping up (docs/reliability.md, "Soak run").

`malloc_trim(0)` returns the free pages, at the top of the heap and inside it, to the
operating system. The broadcaster's loop calls `HeapTrimmer.maybe_trim` about every
HEAP_TRIM_INTERVAL seconds (0 turns it off); on a system without glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time

log = logging.getLogger(__name__)

_UNSET = object()
_libc = _UNSET


def _malloc_trim():
    """glibc's malloc_trim, or None where there is none (musl, macOS, Windows)."""
    global _libc
    if _libc is _UNSET:
        _libc = None
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name) if name else None
            if libc is not None and hasattr(libc, "malloc_trim"):
                libc.malloc_trim.argtypes = [ctypes.c_size_t]
                libc.malloc_trim.restype = ctypes.c_int
                _libc = libc
        except OSError:
            log.debug("no C library to trim the heap with", exc_info=True)
    return None if _libc is None else _libc.malloc_trim


def trim() -> bool:
    """Give the allocator's free pages back now; True when any memory was released."""
    malloc_trim = _malloc_trim()
    return bool(malloc_trim(0)) if malloc_trim is not None else False


class HeapTrimmer:
    """Trims at most once per `interval` seconds (0: never)."""

    def __init__(self, interval: float, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self.last = clock()
        self.trims = 0

    def maybe_trim(self) -> bool:
        if self.interval <= 0 or _malloc_trim() is None:
            return False
        now = self.clock()
        if now - self.last < self.interval:
            return False
        self.last = now
        self.trims += 1
        return trim()


def tune_gc(thresholds: tuple[int, int, int]) -> None:
    """Set up Python's cycle collector for a server with thousands of live connections.

    Called once by the server's entry point (workshop/wsgi.py) after the app has loaded. With
    Python's defaults (700, 10, 10) the collector ran a full collection, over every object in
    the process, several times in a 1,000-person voting burst, each stopping the whole gevent
    process for 120-250 ms; the acks and tallies waiting behind it made the p99 ack 250-330 ms.
    Two changes (docs/performance.md, "Garbage collection"):

    - `gc.freeze()`: the objects of the loaded app (modules, the ORM's mappings, templates) are
      moved out of the collector's sight for good; they live as long as the process anyway.
    - GC_THRESHOLDS (default 10000, 10, 10): the youngest generation is collected after
      10,000 allocations instead of 700, so short-lived objects (an event's request context,
      its rows, its JSON) are freed by reference counting before a collection would promote
      them, and the older generations, which a full collection must walk, grow slowly.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
