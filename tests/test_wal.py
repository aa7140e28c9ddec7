"""SQLite's WAL checkpoints leave the event loop in the server (workshop/wal.py): the engine's
connections checkpoint on commit only past a backstop, and a background task checkpoints every
interval on a connection of its own. Tests and `flask` commands keep SQLite's own."""

from __future__ import annotations

import time

import pytest

from tests.factories import join_as, make_workshop, move_to, propose, vote
from workshop import wal
from workshop.extensions import db


def autocheckpoint() -> int:
    return db.session.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()


def some_votes(n_people: int = 30):
    workshop = make_workshop(phase="ideation")
    people = [join_as(workshop, f"Deltager {i}") for i in range(n_people)]
    proposals = [propose(workshop, people[i], f"Forslag {i}") for i in range(3)]
    move_to(workshop, "voting")
    for person in people:
        vote(workshop, person, proposals[person.id % 3], 1)


def test_a_checkpoint_copies_the_log_back_into_the_database(app):
    db.session.connection().exec_driver_sql("PRAGMA wal_autocheckpoint=0")  # only ours
    some_votes()
    checkpointer = wal.Checkpointer(wal.database_file(app))
    busy, log_pages, done = checkpointer.checkpoint()
    assert busy == 0 and log_pages > 0 and done == log_pages
    assert (checkpointer.checkpoints, checkpointer.pages) == (1, done)


def test_off_the_gevent_hub_sqlite_keeps_its_own_checkpoints(app):
    assert wal.take_over(app, 0.5) is None  # the tests run in threads, not on gevent's hub
    assert autocheckpoint() == 1000  # SQLite's default


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_postgresql_has_no_file_to_checkpoint(app):
    assert wal.database_file(app) is None


def test_in_the_server_a_background_task_checkpoints_and_commits_only_past_the_backstop(
        app, monkeypatch):
    monkeypatch.setattr(wal, "on_gevent_hub", lambda: True)  # as in gunicorn's gevent worker
    assert wal.take_over(app, 0) is None  # 0: SQLite's own, even there
    checkpointer = wal.take_over(app, 0.05)
    try:
        db.session.remove()  # the pool was emptied: a new connection has the backstop
        assert autocheckpoint() == wal.CHECKPOINT_BACKSTOP_PAGES
        some_votes()
        deadline = time.monotonic() + 10
        while checkpointer.pages == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.checkpoints >= 1 and checkpointer.pages > 0
    finally:
        checkpointer.stop()
