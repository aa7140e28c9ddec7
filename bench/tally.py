"""How long does the live tally stop the event loop? (issue 6)

While votes arrive, every process recomputes each workshop's tally five times a second
(live/broadcaster.py) from the database: two statements that sum every vote per proposal and
organisation (`results.summary`), then the ranking in both weightings. The server is one gevent
process per core, so whatever part of that runs on the hub delays every ack and every message of
the process's sockets meanwhile: in the voting burst of bench/run.py it is much of the app's
p95 ack.

This script builds one workshop straight into a fresh SQLite file (bench/exports.py's builder:
bulk inserts) per level, then, in a child process patched by gevent as the Procfile's worker is,
computes the tally over and over while a ticker greenlet sleeps 1 ms at a time. For each tally
it records the wall time and the longest the ticker waited (the hub's stall: what an ack waits
at worst). Two variants, one after the other in the same child:

- `off-loop`: as the server does it (SQLite's sums by `cpu.read_rows`, the ranking by
  `cpu.cpu_bound`, both in gevent's native threads);
- `inline`: the same statements and ranking computed on the hub, as before (the control).

A script, not a test: it asserts nothing. It prints a table and writes
`bench/results/<date>-tally-<label>.json`.

    .venv/bin/python bench/tally.py
    .venv/bin/python bench/tally.py --levels 1000,2000,5000 --proposals 60 --votes 5
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from exports import build  # noqa: E402 - the benchmark's own modules, after the path
from report import machine_info, write_json  # noqa: E402

CHILD = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, statistics, sys, time
    import gevent
    from workshop import create_app
    from workshop.domain import results
    from workshop.extensions import db
    from workshop.cpu import share_the_interpreter
    from workshop.heap import tune_gc
    from workshop.live.snapshot import tally
    from workshop.models import Workshop

    path, rounds = sys.argv[1], int(sys.argv[2])
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench",
                      "RATELIMIT_ENABLED": False, "REDIS_URL": None})
    tune_gc(app.config["GC_THRESHOLDS"])  # as workshop/wsgi.py does in the server
    if sys.argv[3:] != ["python-switch-interval"]:
        share_the_interpreter()  # as workshop/wsgi.py does
    gaps = []
    last = [time.perf_counter()]

    def ticker():
        while True:
            gevent.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

    def inline(connection, statement, params):
        return [tuple(row) for row in connection.execute(statement, params)]

    def on_the_hub(fn, *args, **kwargs):
        return fn(*args, **kwargs)

    def measure(variant):
        walls, stalls = [], []
        for _ in range(rounds):
            with app.app_context():
                workshop = db.session.scalars(db.select(Workshop)).first()
                gevent.sleep(0.005)  # the ticker settles
                del gaps[:]
                started = time.perf_counter()
                data = tally(workshop)
                walls.append(time.perf_counter() - started)
                gevent.sleep(0.003)  # the ticker's first tick after the tally ends its gap
                stalls.append(max(gaps))
        q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))] * 1000
        return {"variant": variant, "rows": len(data["rows"]), "voters": data["voters"],
                "wall_ms": {"p50": round(q(walls, 0.5), 2), "p95": round(q(walls, 0.95), 2)},
                "stall_ms": {"p50": round(q(stalls, 0.5), 2), "p95": round(q(stalls, 0.95), 2),
                             "max": round(max(stalls) * 1000, 2)}}

    gevent.spawn(ticker)
    out = [measure("off-loop")]
    results.read_rows = inline
    results.cpu_bound = sys.modules["workshop.live.snapshot"].cpu_bound = on_the_hub
    out.append(measure("inline"))
    print(json.dumps(out))
""")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--levels", default="1000,2000,5000", help="participants per level")
    parser.add_argument("--proposals", type=int, default=60,
                        help="proposals (bench/run.py caps a burst at 60)")
    parser.add_argument("--votes", type=int, default=5, help="votes per participant")
    parser.add_argument("--rounds", type=int, default=60, help="tallies per variant")
    parser.add_argument("--python-switch-interval", action="store_true",
                        help="keep Python's 5 ms switch interval instead of the server's 1 ms")
    parser.add_argument("--label", default="tally")
    args = parser.parse_args(argv)
    try:
        levels = [int(n) for n in args.levels.split(",")]
    except ValueError:
        parser.error("--levels takes participant counts separated by commas, e.g. 1000,2000")
    if any(n < 1 for n in levels) or args.proposals < args.votes or args.rounds < 1:
        parser.error("levels and rounds must be positive, and proposals at least votes")
    figures = []
    print(f"{'participants':>12} {'variant':>9} {'wall p50':>9} {'wall p95':>9} "
          f"{'stall p50':>10} {'stall p95':>10} {'stall max':>10}  (ms)")
    with tempfile.TemporaryDirectory() as tmp:
        for n in levels:
            path = os.path.join(tmp, f"tally-{n}.sqlite3")
            votes = build(path, n, args.proposals, args.votes)
            child = [sys.executable, "-c", CHILD, path, str(args.rounds)]
            if args.python_switch_interval:
                child.append("python-switch-interval")
            done = subprocess.run(child,
                                  cwd=ROOT, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            for row in json.loads(done.stdout.strip().splitlines()[-1]):
                row.update(participants=n, proposals=args.proposals, votes=int(votes))
                figures.append(row)
                print(f"{n:>12} {row['variant']:>9} {row['wall_ms']['p50']:>9} "
                      f"{row['wall_ms']['p95']:>9} {row['stall_ms']['p50']:>10} "
                      f"{row['stall_ms']['p95']:>10} {row['stall_ms']['max']:>10}")
    out = HERE / "results" / f"{datetime.date.today().isoformat()}-{args.label}.json"
    write_json(out, {"benchmark": "tally", "machine": machine_info(), "args": vars(args),
                     "figures": figures})
    print(f"\nwritten: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
