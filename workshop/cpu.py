"""CPU-heavy work off the event loop.

The server is one gevent process per core (Procfile): every live connection is served by
greenlets on one hub, and a greenlet that computes for a second stops every socket of the
process for that second: no acks, no tallies, no pings. The rankings' lenses (a bootstrap of
200 re-rankings: seconds for a large workshop) are such work; a politician opening the review
page or a facilitator downloading an export during a live session would freeze it.

`cpu_bound` runs such a computation in gevent's pool of native threads instead. The hub keeps
running beside it: the interpreter hands the lock between threads every few milliseconds
(`sys.getswitchinterval`), so the live connections keep being served while the computation
takes a little longer. The function must be pure (no database session, no Flask context: they
belong to the calling greenlet); `domain.lenses` is.

Where gevent has not patched the process (the tests, `flask` commands, a plain WSGI server),
the function simply runs inline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
_locks: dict[str, threading.Lock] = {}


def on_gevent_hub() -> bool:
    """Whether this process runs on gevent's hub (gunicorn's gevent worker patches it)."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("threading")


def cpu_bound(fn: Callable[..., T], /, *args, **kwargs) -> T:
    """`fn(*args, **kwargs)`, computed where it does not stop the live connections."""
    if not on_gevent_hub():
        return fn(*args, **kwargs)
    from gevent import get_hub

    # Waits cooperatively: other greenlets run while the thread computes. An exception in
    # `fn` is raised here.
    return get_hub().threadpool.apply(fn, args, kwargs)


def one_at_a_time(name: str) -> threading.Lock:
    """The lock for work whose library is not thread-safe (reportlab, by its own account):
    hold it around `cpu_bound`, in the calling greenlet. Made on first use, that is after
    gevent's patching, so waiting for it lets the other greenlets run."""
    lock = _locks.get(name)
    if lock is None:
        lock = _locks.setdefault(name, threading.Lock())
    return lock
