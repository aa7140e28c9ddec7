"""Domain events, and the unit of work that publishes them only after the commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from ..extensions import db


@dataclass(frozen=True)
class Event:
    """Something that happened in a workshop, e.g. ("proposal", {"id": 12, "change": "hidden"})."""

    workshop_id: int
    kind: str  # phase | proposal | tally | presence | workshop | elements | participant
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[list[Event]], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def publish(events: list[Event]) -> None:
    for listener in list(_listeners):
        listener(events)


@contextmanager
def unit_of_work() -> Iterator[list[Event]]:
    """Run one write: commit at the end, roll back on any error, then publish its events.

    Nothing is half-written: a DomainError (or anything else) raised inside rolls the
    whole transaction back, and no event leaves the process unless the commit succeeded.
    """
    events: list[Event] = []
    try:
        yield events
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if events:
        publish(events)


@contextmanager
def unit_of_work_on_own_connection() -> Iterator[tuple[Connection, list[Event]]]:
    """`unit_of_work` for Core statements on a connection of its own, outside the session
    (the socket vote's hot path: the session's bookkeeping cost more than the vote's SQL).

    The same guarantees: commit at the end, roll back on any error (closing the connection
    does), publish the events only after the commit."""
    events: list[Event] = []
    with db.engine.connect() as connection:
        yield connection, events
        connection.commit()
    if events:
        publish(events)
