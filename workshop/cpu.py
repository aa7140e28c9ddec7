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

`read_rows` does the same for a read whose cost grows with the workshop (the live tally's sums
over every vote), where the database is SQLite: SQLite computes inside this process, in the
call, and would stop the hub as long as it sorts. (PostgreSQL computes in its own process
while the greenlet waits on the socket; there the read runs as any other.)

Where gevent has not patched the process (the tests, `flask` commands, a plain WSGI server),
both simply run inline.

A thread that computes holds the interpreter lock until the interpreter takes it away, after
`sys.getswitchinterval()`: 5 ms by default, and the hub waits that long every time it has work.
The server shortens that to 1 ms (`share_the_interpreter`, called by workshop/wsgi.py): the
live tally then stops the hub for about 3 ms instead of 6-7 (bench/tally.py). Switching more
often costs nothing measurable while only the hub runs, which is nearly always.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Executable

T = TypeVar("T")
SWITCH_INTERVAL_S = 0.001
_locks: dict[str, threading.Lock] = {}
_compiled: dict[tuple[int, str], Any] = {}


def on_gevent_hub() -> bool:
    """Whether this process runs on gevent's hub (gunicorn's gevent worker patches it)."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("threading")


def share_the_interpreter(seconds: float = SWITCH_INTERVAL_S) -> None:
    """Let a computing thread hold the interpreter lock for at most `seconds` while the hub
    waits for it (see the module's docstring). For the server's entry point only."""
    sys.setswitchinterval(seconds)


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


def read_rows(connection: Connection, statement: Executable, params: dict) -> list[tuple]:
    """Every row of a read-only statement, as tuples, read where it does not stop the live
    connections.

    On gevent's hub with SQLite, the statement runs in a native thread on the connection's own
    sqlite3 connection, which the calling greenlet holds meanwhile (so no two threads ever use
    it at once; SQLAlchemy opens SQLite files with `check_same_thread=False`). The sqlite3
    module lets go of the interpreter lock while SQLite executes, so the hub serves every other
    socket while the database sorts. That path bypasses SQLAlchemy's execution (no events, no
    result processing), so it takes only statements whose parameters and columns are plain
    values: integers, strings, None (checked when the statement is first compiled).
    Everywhere else it is `connection.execute(statement, params)`.
    """
    if connection.dialect.name != "sqlite" or not on_gevent_hub():
        return [tuple(row) for row in connection.execute(statement, params)]
    compiled = _compile(statement, connection.dialect)
    values = compiled.construct_params(params)
    args = [values[name] for name in compiled.positiontup]
    return cpu_bound(_fetch_all, connection.connection.dbapi_connection, str(compiled), args)


def _compile(statement: Executable, dialect: Dialect):
    key = (id(statement), dialect.name)
    cached = _compiled.get(key)
    if cached is None:
        compiled = statement.compile(dialect=dialect)
        if not compiled.positional:
            raise ValueError("read_rows needs a dialect with positional parameters")
        for name, bind in compiled.binds.items():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise ValueError(f"read_rows takes plain parameters only, not {name!r}")
        for column in getattr(statement, "selected_columns", ()):
            if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
                raise ValueError(f"read_rows reads plain columns only, not {column!r}")
        # The cache holds the statement too, so that its id is never another's.
        cached = _compiled[key] = (statement, compiled)
    return cached[1]


def _fetch_all(dbapi_connection, sql: str, args: list) -> list[tuple]:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, args)
        return cursor.fetchall()
    finally:
        cursor.close()
