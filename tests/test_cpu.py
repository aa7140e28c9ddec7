"""workshop/cpu.py: a long computation (the rankings' bootstrap) does not stop the gevent
process's other greenlets, so live connections keep being served while it runs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workshop.cpu import cpu_bound, on_gevent_hub

ROOT = Path(__file__).resolve().parent.parent


def test_without_gevent_the_work_runs_inline_and_its_errors_are_raised():
    assert not on_gevent_hub()  # the test process is not patched
    assert cpu_bound(lambda a, b=0: a + b, 1, b=2) == 3
    with pytest.raises(ZeroDivisionError):
        cpu_bound(lambda: 1 / 0)


def test_on_gevent_other_greenlets_run_while_the_work_computes():
    """A ticker greenlet keeps ticking during the computation when it is offloaded; inline,
    it cannot tick once (the same computation, as the control)."""
    script = textwrap.dedent("""
        from gevent import monkey
        monkey.patch_all()
        import json
        import gevent
        from workshop.cpu import cpu_bound, on_gevent_hub

        ticks = []

        def ticker():
            while True:
                ticks.append(1)
                gevent.sleep(0.001)

        def compute(limit):
            # Busy until the ticker has ticked three more times, or the limit: a pure loop
            # that never yields by itself.
            start = len(ticks)
            for i in range(limit):
                if len(ticks) >= start + 3:
                    return i
            return None

        def fail():
            raise ValueError("from the thread")

        gevent.spawn(ticker)
        gevent.sleep(0.01)
        offloaded = cpu_bound(compute, 20_000_000)
        inline = compute(2_000_000)
        try:
            cpu_bound(fail)
            raised = None
        except ValueError as error:
            raised = str(error)
        # Work that must not overlap (reportlab): two greenlets, one lock, never together.
        from workshop.cpu import one_at_a_time
        import time
        spans = []

        def exclusive(tag):
            begun = time.perf_counter()
            compute(300_000)
            spans.append((begun, time.perf_counter()))

        def caller(tag):
            with one_at_a_time("test"):
                cpu_bound(exclusive, tag)

        gevent.joinall([gevent.spawn(caller, 1), gevent.spawn(caller, 2)])
        (a0, a1), (b0, b1) = sorted(spans)
        print(json.dumps({"hub": on_gevent_hub(), "offloaded": offloaded, "inline": inline,
                          "raised": raised, "overlapped": b0 < a1,
                          "same_lock": one_at_a_time("test") is one_at_a_time("test")}))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["hub"] is True
    assert result["offloaded"] is not None  # the ticker ran while the thread computed
    assert result["inline"] is None  # the control: inline, nothing else runs
    assert result["raised"] == "from the thread"
    assert result["same_lock"] is True and result["overlapped"] is False


def test_the_lenses_are_computed_through_it(app, monkeypatch):
    """Every reader of the lenses (review page, API, exports, report) goes through
    `results.lenses`, which hands the pure computation to `cpu_bound`."""
    from tests.factories import finished_workshop
    from workshop.domain import results

    workshop, *_proposals = finished_workshop()
    handed = []

    def recording(fn, *args, **kwargs):
        handed.append(fn.__name__)
        return fn(*args, **kwargs)

    monkeypatch.setattr(results, "cpu_bound", recording)
    outcome = results.lenses(workshop, "organisation")
    assert handed == ["outcome"]
    assert outcome.weighting == "organisation" and outcome.rows


def test_on_gevent_sqlite_reads_run_beside_the_hub(tmp_path):
    """`read_rows` on gevent with an SQLite file: the same rows as SQLAlchemy reads, while a
    ticker greenlet keeps ticking through a slow statement; executed on the hub (the control)
    the same statement lets it tick at most once. Statements whose values SQLAlchemy would
    convert (a datetime) are refused rather than read raw."""
    script = textwrap.dedent(f"""
        from gevent import monkey
        monkey.patch_all()
        import json
        import time
        import gevent
        from sqlalchemy import bindparam, create_engine, func, select, text
        from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table
        from workshop.cpu import read_rows

        engine = create_engine("sqlite:///{tmp_path / 'read.sqlite3'}")
        meta = MetaData()
        item = Table("item", meta, Column("id", Integer, primary_key=True),
                     Column("kind", String), Column("at", DateTime))
        meta.create_all(engine)
        with engine.begin() as connection:
            connection.execute(item.insert(), [{{"kind": "k%d" % (i % 7)}} for i in range(500)])

        ticks = []

        def ticker():
            while True:
                ticks.append(time.perf_counter())
                gevent.sleep(0.001)

        kinds = (select(item.c.kind, func.count()).where(item.c.id > bindparam("above"))
                 .group_by(item.c.kind).order_by(item.c.kind))
        # Slow in SQLite itself (counting to a few million), in one step: no row to hand back.
        slow = text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < :upto) SELECT count(*) FROM n")
        gevent.spawn(ticker)
        gevent.sleep(0.01)
        with engine.connect() as connection:
            same = read_rows(connection, kinds, {{"above": 100}}) == [
                tuple(row) for row in connection.execute(kinds, {{"above": 100}})]
            before = len(ticks)
            counted = read_rows(connection, slow, {{"upto": 3_000_000}})
            beside = len(ticks) - before
            before = len(ticks)
            connection.execute(slow, {{"upto": 3_000_000}}).all()
            on_hub = len(ticks) - before
            try:
                read_rows(connection, select(item.c.at), {{}})
                refused = False
            except ValueError:
                refused = True
        print(json.dumps({{"same": same, "counted": counted[0][0], "beside": beside,
                          "on_hub": on_hub, "refused": refused}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["same"] is True
    assert result["counted"] == 3_000_000
    assert result["beside"] >= 5  # the hub ran while SQLite counted
    assert result["on_hub"] <= 1  # the control: nothing else runs
    assert result["refused"] is True


def test_the_live_tally_is_read_and_ranked_through_it(app, monkeypatch):
    """The tally's two sums go through `read_rows`, and making them a summary and ranking it
    through `cpu_bound`: none of it runs on the hub in the server."""
    import sys as _sys

    from tests.factories import finished_workshop
    from workshop.domain import results

    snapshot = _sys.modules["workshop.live.snapshot"]
    workshop, *_proposals = finished_workshop()
    expected = snapshot.tally(workshop)
    read, handed = [], []
    real_read = results.read_rows

    def reading(connection, statement, params):
        read.append(statement)
        return real_read(connection, statement, params)

    def recording(fn, *args, **kwargs):
        handed.append(fn.__name__)
        return fn(*args, **kwargs)

    monkeypatch.setattr(results, "read_rows", reading)
    monkeypatch.setattr(results, "cpu_bound", recording)
    monkeypatch.setattr(snapshot, "cpu_bound", recording)
    data = snapshot.tally(workshop)
    assert read == [results._CELLS, results._GROUPS]
    assert handed == ["_summed", "_ranked"]
    assert {k: v for k, v in data.items() if k != "seq"} == \
        {k: v for k, v in expected.items() if k != "seq"}
    assert data["rows"] and data["voters"] > 0
