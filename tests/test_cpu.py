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
