"""Does the live session stop while someone reads the results? (issues 6 and 7)

A politician opening the lenses, or a facilitator downloading the JSON export or the PDF report
of a large workshop, makes the server compute for seconds (the bootstrap re-ranks the workshop
200 times). The server is one gevent process per core: if that computation runs on the
process's event loop, every live connection of the process waits for it.

This script measures that stall against the Procfile's server (bench/servers.py), on a fresh
SQLite database holding one large workshop (bench/exports.py's builder: 2,000 participants, 500
proposals, 5 votes each by default). Two probes run throughout, in a thread of their own:

- `healthz`: `GET /healthz` every 10 ms (the event loop's own responsiveness);
- `live`: a participant's `own` event over `/live` every 20 ms (a round trip through the
  socket, the database and the ack: what a phone in the room waits for; the server's
  per-connection event allowance is raised for the probe).

Then, one after another with a quiet gap between them, each reader runs once: the results with
every lens (`GET /api/v1/workshops/<code>/results`), the JSON export and the PDF report. For
each reader, and for a quiet window before them as the baseline, the probes' latencies while
it ran are summarised (p50, p99, max; a probe counts in a window when it overlapped it).

A script, not a test: it asserts nothing. It prints a table and writes
`bench/results/<date>-stall-<label>.json`.

    .venv/bin/python bench/stall.py
    .venv/bin/python bench/stall.py --participants 2000 --proposals 500 --votes 15 --label big
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exports import build  # noqa: E402 - the benchmark's own modules, after the path
from report import machine_info, summary, write_json  # noqa: E402
from servers import PASSWORD, Deployment  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CODE = "BENCH1"  # the workshop bench/exports.py builds
NS = "/live"
READERS = {
    "results (lenses)": "/api/v1/workshops/{code}/results?weighting=organisation",
    "JSON export": "/api/v1/workshops/{code}/export.json",
    "PDF report": "/api/v1/workshops/{code}/report.pdf",
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--proposals", type=int, default=500)
    parser.add_argument("--votes", type=int, default=5, help="votes per participant")
    parser.add_argument("--quiet", type=float, default=3.0,
                        help="seconds of quiet before the readers and between them")
    parser.add_argument("--label", default="stall")
    args = parser.parse_args(argv)
    for name in ("participants", "proposals", "votes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.quiet <= 0:
        parser.error("--quiet must be positive")
    return args


class Probes:
    """The two probes on an asyncio loop in a thread: (sent, seconds) per answered probe."""

    def __init__(self, base: str, cookie: str):
        self.base, self.cookie = base, cookie
        self.samples: dict[str, list[tuple[float, float]]] = {"healthz": [], "live": []}
        self.failures: dict[str, int] = {"healthz": 0, "live": 0}
        self.ready = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> Probes:
        self.thread.start()
        if not self.ready.wait(60):
            raise RuntimeError("the live probe did not connect")
        return self

    def __exit__(self, *exc) -> None:
        self.stopping = True
        self.thread.join(30)

    async def _main(self) -> None:
        await asyncio.gather(self._healthz(), self._live())

    async def _healthz(self) -> None:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            while not self.stopping:
                sent = time.monotonic()
                try:
                    async with http.get(self.base + "/healthz") as answer:
                        await answer.read()
                        ok = answer.status == 200
                except aiohttp.ClientError:
                    ok = False
                self._record("healthz", sent, ok)
                await asyncio.sleep(0.01)

    async def _live(self) -> None:
        import socketio

        client = socketio.AsyncClient(reconnection=False)
        await client.connect(self.base, namespaces=[NS], auth={"workshop": CODE},
                             headers={"Cookie": self.cookie}, transports=["websocket"],
                             wait_timeout=30)
        self.ready.set()
        try:
            while not self.stopping:
                sent = time.monotonic()
                try:
                    ack = await client.call("own", {}, namespace=NS, timeout=60)
                    ok = ack.get("ok") is True
                except Exception:  # noqa: BLE001 - a lost probe is counted, not fatal
                    ok = False
                self._record("live", sent, ok)
                await asyncio.sleep(0.02)
        finally:
            await client.disconnect()

    def _record(self, probe: str, sent: float, ok: bool) -> None:
        if ok:
            self.samples[probe].append((sent, time.monotonic() - sent))
        else:
            self.failures[probe] += 1

    def during(self, start: float, end: float) -> dict:
        """Each probe's latencies that overlapped [start, end] (sent before its end and
        answered after its start)."""
        return {probe: summary([lat for sent, lat in rows if sent <= end and sent + lat >= start])
                for probe, rows in self.samples.items()}


def prepare(dep: Deployment, args) -> tuple[requests.Session, str]:
    """The large workshop in the server's database, its facilitator's session and a
    participant's cookie."""
    from sqlalchemy import select

    from workshop import create_app
    from workshop.extensions import db
    from workshop.models import User

    path = dep.database_url.removeprefix("sqlite:///")
    votes = build(path, args.participants, args.proposals, args.votes)
    print(f"built {CODE}: {args.participants} participants, {args.proposals} proposals, "
          f"{votes} votes")
    app = create_app({"SQLALCHEMY_DATABASE_URI": dep.database_url, "SECRET_KEY": "bench",
                      "RATELIMIT_ENABLED": False, "REDIS_URL": None})
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "bench@region.dk"))
        user.set_password(PASSWORD)
        db.session.commit()
    staff = requests.Session()
    login = staff.post(dep.url + "/api/v1/auth/login",
                       json={"email": "bench@region.dk", "password": PASSWORD}, timeout=30)
    login.raise_for_status()
    person = requests.Session()
    joined = person.post(f"{dep.url}/api/v1/workshops/{CODE}/participants",
                         json={"display_name": "Probe", "consent": True}, timeout=30)
    joined.raise_for_status()
    cookie = "; ".join(f"{k}={v}" for k, v in person.cookies.get_dict().items())
    return staff, cookie


def main(argv=None) -> int:
    args = parse_args(argv)
    rows = []
    # The live probe sends 50 events a second, ten times what one person may (LIVE_EVENT_RATE):
    # it is a probe, not a person, and its refusals would hide the latencies.
    os.environ["LIVE_EVENT_RATE"], os.environ["LIVE_EVENT_BURST"] = "1000", "1000"
    with Deployment("app") as dep:
        staff, cookie = prepare(dep, args)
        windows = []  # (reader, start, end, bytes)
        with Probes(dep.url, cookie) as probes:
            time.sleep(args.quiet)
            start = time.monotonic()
            time.sleep(args.quiet)
            windows.append(("quiet (baseline)", start, time.monotonic(), 0))
            for name, path in READERS.items():
                start = time.monotonic()
                answer = staff.get(dep.url + path.format(code=CODE), timeout=600)
                end = time.monotonic()
                if answer.status_code != 200:
                    raise SystemExit(f"{name}: HTTP {answer.status_code}: {answer.text[:300]}")
                windows.append((name, start, end, len(answer.content)))
                time.sleep(args.quiet)  # also lets a probe held up by the reader come back
        # Summarised once the probes have stopped: a probe that the reader held up is
        # answered just after the reader itself.
        for name, start, end, size in windows:
            rows.append({"reader": name, "seconds": round(end - start, 2), "bytes": size,
                         **probes.during(start, end)})
        failures = dict(probes.failures)
    print(f"\n{'reader':<20}{'seconds':>8}  {'healthz p50/p99/max ms':>24}  "
          f"{'live own p50/p99/max ms':>24}")
    for row in rows:
        cells = []
        for probe in ("healthz", "live"):
            s = row[probe]
            cells.append(f"{s['p50']:.0f} / {s['p99']:.0f} / {s['max']:.0f}"
                         if s.get("count") else "no answer")
        print(f"{row['reader']:<20}{row['seconds']:>8}  {cells[0]:>24}  {cells[1]:>24}")
    print(f"probes lost: {failures}")
    RESULTS.mkdir(exist_ok=True)
    date = datetime.date.today().isoformat()
    out = RESULTS / f"{date}-stall-{args.label}.json"
    write_json(out, {"label": args.label, "date": date, "machine": machine_info(),
                     "workshop": {"participants": args.participants,
                                  "proposals": args.proposals, "votes_each": args.votes},
                     "readers": rows, "probes_lost": failures})
    print(f"written: {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
