"""Group commit: the socket votes that arrive together are written in one transaction.

In a voting burst most of a vote's cost was its own transaction: the commit, the connection's
trip through the pool and SQLAlchemy's execution around three short statements
(docs/performance.md, the eleventh round). `GroupCommit.submit` lets the votes of many
connections share one transaction (`voting.cast_votes`) without a thread or a greenlet of its
own, in the leader-and-followers way of databases' group commit:

- the first vote to arrive while no batch is being written leads: it yields once, so that the
  votes already read from other sockets join it, takes everything waiting (up to `limit`),
  writes it in one transaction and hands each vote its outcome;
- a vote that arrives while a batch is being written waits; when the batch is done, the
  first of those waiting leads the next one.

Nothing is acknowledged before its batch's commit: every caller gets its own outcome only
after it. A batch that fails (the database down) fails for each of its votes, which then
answer "unavailable" as a single vote would; the clients resend. Alone, a vote is a batch of
one, with one yield more than before.

The leader holds no pooled connection while it yields, and followers hold nothing while they
wait: a handler never keeps a connection across a yield (live/__init__.live_event).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


class _Waiting:
    __slots__ = ("item", "ready", "leads", "outcome", "failure")

    def __init__(self, item):
        self.item = item
        self.ready = threading.Event()
        self.leads = False
        self.outcome: Any = None
        self.failure: BaseException | None = None


class GroupCommit:
    """Items submitted from many greenlets (or threads) written together by `write`, which
    takes a list of items and returns one outcome per item, in order.

    `pause()` yields to the other greenlets (socketio.sleep(0)); `limit` caps a batch (a
    batch holds its locks, and its votes wait, until all of it is written)."""

    def __init__(self, write: Callable[[list], Sequence], pause: Callable[[], Any],
                 limit: int = 100):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._write, self._pause, self.limit = write, pause, limit
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._leading = False
        self.batches = 0  # batches written so far, and their items (read by the tests)
        self.items = 0

    def waiting(self) -> int:
        """Items waiting for a batch (the one being written not counted)."""
        with self._lock:
            return len(self._waiting)

    def submit(self, item):
        """Write `item` with whatever else is waiting; its outcome, after the commit (or the
        write's exception, raised here)."""
        mine = _Waiting(item)
        with self._lock:
            self._waiting.append(mine)
            leads = not self._leading
            self._leading = True
        if not leads:
            mine.ready.wait()
            leads = mine.leads
        if leads:
            self._lead(mine)
        if mine.failure is not None:
            raise mine.failure
        return mine.outcome

    def _lead(self, mine: _Waiting) -> None:
        batch: list[_Waiting] = []
        try:
            self._pause()  # the votes already on their way join this batch
            with self._lock:
                batch, self._waiting = self._waiting[:self.limit], self._waiting[self.limit:]
            try:
                outcomes = self._write([waiting.item for waiting in batch])
                if len(outcomes) != len(batch):
                    raise RuntimeError(f"{len(outcomes)} outcomes for {len(batch)} items")
            except Exception as error:  # noqa: BLE001 - every caller in the batch is told
                for waiting in batch:
                    waiting.failure = error
            except BaseException:  # this greenlet is being killed: the others are told
                for waiting in batch:
                    waiting.failure = RuntimeError("the batch was interrupted")
                raise
            else:
                for waiting, outcome in zip(batch, outcomes, strict=True):
                    waiting.outcome = outcome
            self.batches += 1
            self.items += len(batch)
        finally:
            # Whatever happened, even this greenlet killed while it yielded: the next batch
            # gets a leader and this one's callers wake up.
            with self._lock:
                if not batch and mine in self._waiting:
                    self._waiting.remove(mine)
                    mine.failure = RuntimeError("the batch was interrupted")
                if self._waiting:
                    self._waiting[0].leads = True
                    self._waiting[0].ready.set()
                else:
                    self._leading = False
            for waiting in batch:
                if waiting is not mine:
                    waiting.ready.set()
