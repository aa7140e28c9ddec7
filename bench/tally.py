"""How long does the live tally stop the event loop, and how often is it sent? (issue 6)

While votes arrive, every process recomputes each workshop's tally from the database (the
sums the database keeps as votes are written, workshop/sums.py: per proposal under dots and
approval, `results.proposal_totals`, per proposal and organisation under score; then the
ranking) and sends it (live/broadcaster.py). The server is one gevent process
per core and the tally runs on its event loop: every ack and message of the process waits while
it computes. The broadcaster therefore spaces tallies out by their cost, so that they take at
most `TALLY_SHARE` of the process's time.

This script builds one workshop straight into a fresh SQLite file (bench/exports.py's builder:
bulk inserts) per level, then, in a child process patched by gevent and with the collector
tuned as the Procfile's worker is, computes the tally over and over while a ticker greenlet
sleeps 1 ms at a time. Per level it reports the wall time of a tally, the longest the ticker
waited (the stall: what an ack waits at worst), and the pause the broadcaster would take after
such a tally, i.e. how many tallies a second the screens get.

A script, not a test: it asserts nothing. It prints a table and writes
`bench/results/<date>-<label>.json`.

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
from report import machine_info, parse_levels, summary, write_json  # noqa: E402

CHILD = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, statistics, sys, time
    import gevent
    from workshop import create_app
    from workshop.extensions import db
    from workshop.heap import tune_gc
    from workshop.live.broadcaster import Broadcaster
    from workshop.live.snapshot import tally
    from workshop.models import Workshop

    path, rounds = sys.argv[1], int(sys.argv[2])
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench",
                      "RATELIMIT_ENABLED": False, "REDIS_URL": None})
    tune_gc(app.config["GC_THRESHOLDS"])  # as workshop/wsgi.py does in the server
    gaps = []
    last = [time.perf_counter()]

    def ticker():
        while True:
            gevent.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

    gevent.spawn(ticker)
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
    # The pause the broadcaster takes after a tally of the median cost.
    broadcaster = Broadcaster(app, interval=app.config.get("TALLY_INTERVAL", 0.2))
    broadcaster.tally_cost = statistics.median(walls)
    print(json.dumps({"rows": len(data["rows"]), "voters": data["voters"], "walls": walls,
                      "stalls": stalls, "pause_s": broadcaster.pause()}))
""")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--levels", default="1000,2000,5000", help="participants per level")
    parser.add_argument("--proposals", type=int, default=60,
                        help="proposals (bench/run.py caps a burst at 60)")
    parser.add_argument("--votes", type=int, default=5, help="votes per participant")
    parser.add_argument("--rounds", type=int, default=60, help="tallies per level")
    parser.add_argument("--label", default="tally")
    args = parser.parse_args(argv)
    levels = parse_levels(parser, args.levels)
    if args.proposals < args.votes or args.rounds < 1:
        parser.error("rounds must be positive, and proposals at least votes")
    figures = []
    print(f"{'participants':>12} {'wall p50':>9} {'wall p95':>9} {'stall p50':>10} "
          f"{'stall max':>10} {'pause':>6} {'tallies/s':>10}  (ms)")
    with tempfile.TemporaryDirectory() as tmp:
        for n in levels:
            path = os.path.join(tmp, f"tally-{n}.sqlite3")
            votes = build(path, n, args.proposals, args.votes)
            done = subprocess.run([sys.executable, "-c", CHILD, path, str(args.rounds)],
                                  cwd=ROOT, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            measured = json.loads(done.stdout.strip().splitlines()[-1])
            wall, stall = summary(measured["walls"]), summary(measured["stalls"])
            pause = measured["pause_s"]
            row = {"rows": measured["rows"], "voters": measured["voters"],
                   "wall_ms": wall, "stall_ms": stall, "pause_ms": round(pause * 1000),
                   "tallies_per_s": round(1 / (pause + wall["p50"] / 1000), 1),
                   "participants": n, "proposals": args.proposals, "votes": int(votes)}
            figures.append(row)
            print(f"{n:>12} {wall['p50']:>9.1f} {wall['p95']:>9.1f} {stall['p50']:>10.1f} "
                  f"{stall['max']:>10.1f} {row['pause_ms']:>6} {row['tallies_per_s']:>10}")
    out = HERE / "results" / f"{datetime.date.today().isoformat()}-{args.label}.json"
    write_json(out, {"benchmark": "tally", "machine": machine_info(), "args": vars(args),
                     "figures": figures})
    print(f"\nwritten: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
