"""workshop/heap.py: freed heap goes back to the operating system now and then, so that the
server's memory follows what is in use rather than its highest peak (issue 7's soak run)."""

from __future__ import annotations

import pytest

from workshop import heap


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


needs_glibc = pytest.mark.skipif(heap._malloc_trim() is None,
                                 reason="malloc_trim is glibc's; this C library has none")


@needs_glibc
def test_a_peak_that_is_freed_is_given_back():
    peak = [bytes(4096) for _ in range(20_000)]  # 80 MB of C allocations (not pymalloc's)
    del peak
    assert heap.trim() is True


@needs_glibc
def test_the_trimmer_trims_at_most_once_per_interval(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "trim", lambda: calls.append(1) or True)
    clock = Clock()
    trimmer = heap.HeapTrimmer(30, clock=clock)
    assert trimmer.maybe_trim() is False  # not yet: the interval counts from the start
    clock.now += 29.9
    assert trimmer.maybe_trim() is False
    clock.now += 0.2
    assert trimmer.maybe_trim() is True
    assert trimmer.maybe_trim() is False
    clock.now += 30
    assert trimmer.maybe_trim() is True
    assert calls == [1, 1] and trimmer.trims == 2


def test_an_interval_of_zero_never_trims(monkeypatch):
    monkeypatch.setattr(heap, "trim", lambda: pytest.fail("trimmed"))
    clock = Clock()
    trimmer = heap.HeapTrimmer(0, clock=clock)
    clock.now += 3600
    assert trimmer.maybe_trim() is False


def test_the_broadcaster_trims_with_the_configured_interval(app):
    from workshop.live import broadcaster

    assert app.config["HEAP_TRIM_INTERVAL"] == 30
    assert broadcaster.trimmer.interval == 30


def test_the_server_entry_point_sets_up_the_collector_and_nothing_else_does(tmp_path):
    """workshop.wsgi (what gunicorn loads) freezes the loaded app and sets GC_THRESHOLDS;
    create_app alone, as tests and `flask` commands use it, leaves the collector as it was."""
    import os
    import subprocess

    from tests.server import BIN, ROOT

    show = "import gc; print(gc.get_threshold(), gc.get_freeze_count() > 0)"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
           "GC_THRESHOLDS": "20000,15,12"}

    def run(code):
        done = subprocess.run([str(BIN / "python"), "-c", code], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run(f"import workshop.wsgi; {show}") == "(20000, 15, 12) True"
    assert run(f"from workshop import create_app; create_app(); {show}") == "(700, 10, 10) False"
