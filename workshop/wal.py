"""SQLite's WAL checkpoints, off the event loop (the server only).

In WAL mode a commit appends the pages it changed to the write-ahead log, and now and then
the log's pages are copied back into the database file and synced: a checkpoint. By default
SQLite runs it inside the commit that takes the log past 1,000 pages, i.e. in the greenlet
that committed, on the process's event loop. A vote writes about eight pages (its row and
indexes, the participant's lock, the tally's sums), so in a voting burst of 500 votes a second
a checkpoint came about four times a second, each stopping every socket of the process for
5-20 ms (a loop of 8,000 votes: 60-80 commits over 5 ms, 8 ms typical, up to 19 ms; without
the commit's checkpoint, none over 5.5 ms).

In the server (workshop/wsgi.py) `take_over` moves them off the loop: the engine's
connections checkpoint on commit only past a backstop of CHECKPOINT_BACKSTOP_PAGES (should
this fall behind), and a greenlet checkpoints every SQLITE_CHECKPOINT_INTERVAL seconds in one
of gevent's native threads, on a connection of its own. The sqlite3 module lets go of the
interpreter lock while SQLite works, so the loop keeps serving meanwhile; the checkpoint is
PASSIVE: it copies what no reader still needs and never waits for a lock. Tests and `flask`
commands keep SQLite's own checkpoints.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from flask import Flask
from sqlalchemy import event

from .config import sqlite_in_memory
from .cpu import cpu_bound, on_gevent_hub
from .extensions import db, socketio

log = logging.getLogger(__name__)

CHECKPOINT_BACKSTOP_PAGES = 10_000  # about 40 MB of log: SQLite's own checkpoint beyond it


class Checkpointer:
    """PASSIVE checkpoints of one SQLite database file, on a connection of their own."""

    def __init__(self, path: str):
        self.path = path
        self.checkpoints = 0
        self.pages = 0  # pages copied back into the database file, in all
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one checkpoint at a time, whichever thread runs it
        self._stopped = False

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, pages in the log, pages checkpointed), as SQLite's
        `PRAGMA wal_checkpoint` answers. Blocking: call it in a native thread."""
        with self._lock:
            if self._connection is None:
                self._connection = sqlite3.connect(self.path, timeout=0, isolation_level=None,
                                                   check_same_thread=False)
            busy, log_pages, done = self._connection.execute(
                "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
            self.pages += max(done, 0)
            return busy, log_pages, done

    def run(self, interval: float, sleep) -> None:
        """Checkpoint every `interval` seconds until stopped (a background greenlet)."""
        while True:
            sleep(interval)
            if self._stopped:
                return
            try:
                cpu_bound(self.checkpoint)
            except sqlite3.Error:
                log.warning("WAL checkpoint failed; SQLite's backstop checkpoints meanwhile",
                            exc_info=True)

    def stop(self) -> None:
        """End `run` after its current pause (the server never does; tests do)."""
        self._stopped = True


def database_file(app: Flask) -> str | None:
    """The app's SQLite database file, or None (PostgreSQL, or an in-memory database)."""
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() != "sqlite" or sqlite_in_memory(str(url)):
        return None
    return url.database


def take_over(app: Flask, interval: float) -> Checkpointer | None:
    """In the gevent server with an SQLite file: checkpoint off the event loop every
    `interval` seconds (0: leave it to SQLite). Returns the checkpointer, or None."""
    path = database_file(app)
    if interval <= 0 or path is None or not on_gevent_hub():
        return None
    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _backstop_only(dbapi_connection, _record):
            dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_BACKSTOP_PAGES}")

        engine.dispose()  # every connection from here on is made with the backstop
    checkpointer = Checkpointer(path)
    socketio.start_background_task(checkpointer.run, interval, socketio.sleep)
    log.info("SQLite WAL checkpoints every %g s in a native thread", interval)
    return checkpointer
