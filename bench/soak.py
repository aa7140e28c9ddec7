"""The soak run (issue 7): many participants, many minutes of mixed activity; is memory flat?

    .venv/bin/python bench/soak.py                                # 300 participants, 10 min, SQLite
    .venv/bin/python bench/soak.py --participants 50 --minutes 1  # a smoke run
    .venv/bin/python bench/soak.py --database postgres --minutes 3
    make soak SOAK_ARGS="--participants 50 --minutes 1"

One server started the way the Procfile does (bench/servers.py) on a fresh database. A
facilitator cycles the phases through the JSON API (ideation, review, voting, results and back,
one step at a time), starts the timer at every phase and reveals the tally on every second
voting visit; the facilitator's and a presenter's screen listen throughout. The participants run
in a few load-generator processes: each acts every few seconds in the way its phase allows
(propose, comment, vote with set semantics inside the dot budget, `own`, `sync`), a share of
them reconnect about once a minute (cleanly, by a dropped connection, or by vanishing until the
server's ping timeout), and a few join late. Every second the server worker's memory (VmRSS,
VmHWM, RssAnon), CPU, sockets and the clients' counters are sampled. A script, not a test: see
bench/README.md ("Soak") for what it reports and the rule for "flat".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import multiprocessing as mp
import os
import queue
import random
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen  # noqa: E402
import report  # noqa: E402
from run import open_workshop  # noqa: E402
from servers import BenchError, Deployment, nginx_binary  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
NS = "/live"
# The evening's rhythm at 10 minutes; shorter runs scale it down (at least MIN_DWELL_S a phase).
DWELL_S = {"ideation": 60.0, "review": 20.0, "voting": 60.0, "results": 20.0}
MIN_DWELL_S = 5.0
# Ping-pong over the phases: every move is one step forward or back (allowed_phase_moves).
CYCLE = ["ideation", "review", "voting", "results", "voting", "review"]
CHURN_KINDS = ("clean", "drop", "vanish")
CHURN_WEIGHTS = (0.5, 0.3, 0.2)
GHOST_S = 60.0  # a vanished connection is torn down on the client side after this long

# --probe: a hook added to the servers' gunicorn config (Deployment's worker_hook, after the
# repository's own settings) that starts one greenlet in the worker that writes,
# every PROBE_EVERY_S, what RSS alone cannot tell apart: memory in live Python objects
# (pymalloc's allocated blocks), live C allocations (glibc's mallinfo2: in use, and the heap it
# holds), SQLite's own allocations, and the number of objects the collector tracks. A leak grows
# the live figures; an allocator that keeps what it once needed grows only RSS.
PROBE_EVERY_S = 5.0
MIN_VERDICT_S = 300.0  # shorter runs are smoke runs: figures, but no verdict
PROBE_CONFIG = """\
import os


def bench_post_worker_init(worker):
    import ctypes, gc, json, sys, time
    import _sqlite3
    import gevent

    out, every = os.environ["SOAK_PROBE_OUT"], float(os.environ["SOAK_PROBE_EVERY"])
    try:
        sqlite = ctypes.CDLL(_sqlite3.__file__)
        sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    except (OSError, AttributeError):
        sqlite = None

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                    "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
    except (OSError, AttributeError):
        libc = None

    def pymalloc():
        # sys._debugmallocstats() writes to the C stderr: catch it in a file for a moment.
        path = out + ".mallocstats"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        saved = os.dup(2)
        os.dup2(fd, 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(fd)
        found = {}
        with open(path) as f:
            for line in f:
                for key, name in (("# arenas allocated current", "py_arenas"),
                                  ("# bytes in allocated blocks", "py_used_b"),
                                  ("Total", "py_total_b")):
                    if line.startswith(key) and name not in found:
                        found[name] = int(line.split("=")[-1].strip().replace(",", ""))
        return found

    def pool():
        # The database connections this process holds open (each SQLite connection keeps its
        # own page cache). The app's own engine, read without touching the pool.
        try:
            from workshop.extensions import db

            with worker.wsgi.app_context():
                p = db.engine.pool
                return {"db_open": p.checkedin() + p.checkedout(), "db_busy": p.checkedout()}
        except Exception:  # noqa: BLE001 - another app, or no pool statistics
            return {}

    def loop():
        n = 0
        with open(out, "a") as f:
            while True:
                row = {"wall": time.time(), "pid": os.getpid(), **pymalloc(), **pool()}
                if libc is not None:
                    m = libc.mallinfo2()
                    row.update(c_used_b=m.uordblks + m.hblkhd, c_heap_b=m.arena + m.hblkhd)
                if sqlite is not None:
                    row["sqlite_b"] = sqlite.sqlite3_memory_used()
                if n % 12 == 0:
                    row["gc_objects"] = len(gc.get_objects())
                f.write(json.dumps(row) + "\\n")
                f.flush()
                n += 1
                gevent.sleep(every)

    gevent.spawn(loop)
"""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--participants", type=int, default=300, help="participants at the start")
    p.add_argument("--minutes", type=float, default=10.0, help="minutes of mixed activity")
    p.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                   help="the app's database with one process (several always use postgres)")
    p.add_argument("--processes", type=int, default=1,
                   help="server processes; more than 1 puts nginx and Redis in front")
    p.add_argument("--postgres-url",
                   default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                   help="an admin connection; the run creates and drops its own database")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/14",
                   help="Redis for several processes")
    p.add_argument("--generators", type=int, default=2, help="load-generator processes")
    p.add_argument("--connect-concurrency", type=int, default=20,
                   help="joins+connects in flight per generator process at the start")
    p.add_argument("--act-min", type=float, default=5.0,
                   help="a participant acts every act-min..act-max seconds")
    p.add_argument("--act-max", type=float, default=15.0)
    p.add_argument("--churn-share", type=float, default=0.2,
                   help="share of participants who reconnect (new socket, same cookie)")
    p.add_argument("--churn-every", type=float, default=60.0,
                   help="a churning participant reconnects every 0.75-1.25 x this many seconds")
    p.add_argument("--late-share", type=float, default=0.05,
                   help="participants who join during the run, as a share of --participants")
    p.add_argument("--max-proposals", type=int, default=150,
                   help="proposals over the whole run (the propose rate is set to reach it)")
    p.add_argument("--max-comments", type=int, default=1500,
                   help="comments over the whole run (the comment rate is set to reach it)")
    p.add_argument("--content-minutes", type=float, default=None,
                   help="new proposals and comments only in the first this many minutes (the "
                        "rates set to reach the totals by then); everything else goes on. "
                        "Default: the whole run. Separates growth with content from growth "
                        "with activity")
    p.add_argument("--reveal", action=argparse.BooleanOptionalAction, default=True,
                   help="reveal the tally to everyone on every second voting visit")
    p.add_argument("--settle", type=float, default=10.0,
                   help="seconds after everyone connected before the activity starts; the "
                        "start RSS is the median of this window")
    p.add_argument("--sample-interval", type=float, default=1.0)
    p.add_argument("--ack-timeout", type=float, default=30.0,
                   help="an ack not received in this time counts as lost")
    p.add_argument("--wait-timeout", type=float, default=30.0, help="bound on a connect")
    p.add_argument("--flat-pct", type=float, default=5.0,
                   help="flat: growth over the last 75%% of the run under this %% of the start "
                        "RSS ...")
    p.add_argument("--flat-slope", type=float, default=256.0,
                   help="... and a second-half slope under this many KB/min")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--label", default=None,
                   help="name of the results: bench/results/<date>-soak-<label>.json")
    p.add_argument("--keep-logs", action="store_true",
                   help="copy the server's logs to bench/results/logs-soak-<label>/")
    p.add_argument("--probe", action="store_true",
                   help="also record the worker's live memory from inside (Python objects, C "
                        "allocations, SQLite) to tell a leak from allocator high-water; adds a "
                        "gunicorn config hook to the otherwise unchanged server")
    p.add_argument("--replot", metavar="JSON", default=None,
                   help="only draw the plot (and print the table) of an earlier run's JSON")
    args = p.parse_args(argv)
    if args.participants < 1 or args.minutes <= 0 or args.generators < 1:
        p.error("--participants, --minutes and --generators must be positive")
    if not 0 < args.act_min <= args.act_max:
        p.error("need 0 < --act-min <= --act-max")
    if args.label is None:
        database = "postgres" if args.processes > 1 else args.database
        args.label = (f"{args.participants}p-{args.minutes:g}min-{database}"
                      f"-{args.processes}proc")
    return args


def schedule(duration: float) -> list[tuple[float, str, float]]:
    """(offset from the start, phase, dwell) for every phase move of the run."""
    scale = min(1.0, duration / 600.0)
    out, t, i = [], 0.0, 0
    while t < duration - 1.0:
        phase = CYCLE[i % len(CYCLE)]
        dwell = max(MIN_DWELL_S, DWELL_S[phase] * scale)
        out.append((t, phase, min(dwell, duration - t)))
        t += dwell
        i += 1
    return out


def split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


# --- the load-generator process ---------------------------------------------------------------


class Conn:
    """One Socket.IO connection of a participant (a participant has several over a run)."""

    __slots__ = ("sio", "snapshot", "event", "expected")

    def __init__(self, sio):
        self.sio = sio
        self.snapshot: dict | None = None
        self.event = asyncio.Event()
        self.expected = False  # a disconnect we caused: not an error


class Person:
    __slots__ = ("index", "lb", "cookie", "conn", "connected", "phase", "proposals", "alloc",
                 "synced", "churner", "next_churn", "made", "rng", "opened")

    def __init__(self, index: int, seed: int):
        self.index = index
        self.lb = uuid.uuid4().hex
        self.cookie = ""
        self.conn: Conn | None = None
        self.connected = False
        self.phase = "lobby"
        self.proposals: set[int] = set()
        self.alloc: dict[int, int] = {}
        self.synced = False  # alloc holds acknowledged state to compare a snapshot with
        self.churner = False
        self.next_churn = math.inf
        self.made = 0
        self.rng = random.Random(seed * 100_003 + index)
        self.opened = (0.0, 0.0)  # the last connect: when it began, when its snapshot came


class Worker:
    """Runs its share of the participants on one asyncio loop; driven over a pipe."""

    def __init__(self, conn, index: int):
        self.pipe = conn
        self.index = index
        self.people: list[Person] = []
        self.http = None
        self.base = self.code = ""
        self.opts: dict = {}
        self.stopping = False
        self.stop_event: asyncio.Event | None = None
        self.tasks: set[asyncio.Task] = set()
        self.ghosts: list[tuple[float, Conn, object]] = []
        self.sent: Counter = Counter()
        self.acks: Counter = Counter()
        self.refused: Counter = Counter()
        self.lost: Counter = Counter()
        self.errors: Counter = Counter()
        self.received: Counter = Counter()
        self.reconnects: Counter = Counter()
        self.error_samples: list[str] = []
        self.wrong_phase_at: list[tuple] = []  # sent, acked, phase believed, who, connect
        self.latencies: dict[str, list[tuple[float, float]]] = {}
        self.late_joined = 0
        self.proposals_made = 0
        self.comments_made = 0

    # --- plumbing -----------------------------------------------------------------------------

    def send(self, message: dict) -> None:
        self.pipe.send(message)

    async def serve(self) -> None:
        import aiohttp

        loop = asyncio.get_running_loop()
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                          cookie_jar=aiohttp.DummyCookieJar())
        pusher = asyncio.create_task(self.push_stats())
        try:
            while True:
                command = await loop.run_in_executor(None, self.pipe.recv)
                name = command.get("cmd")
                if name == "close":
                    await self.close()
                    self.send({"type": "reply", "cpu": loadgen.cpu_seconds()})
                    return
                try:
                    reply = await getattr(self, "cmd_" + name)(command)
                except Exception as error:  # reported to the orchestrator, never swallowed
                    reply = {"fatal": f"{type(error).__name__}: {error}"}
                reply["type"] = "reply"
                self.send(reply)
        finally:
            pusher.cancel()
            await self.http.close()

    def stats(self) -> dict:
        return {"type": "stats", "worker": self.index, "now": time.monotonic(),
                "connected": sum(1 for p in self.people if p.connected),
                "people": len(self.people), "sent": dict(self.sent), "acks": dict(self.acks),
                "refused": dict(self.refused), "lost": dict(self.lost),
                "errors": dict(self.errors), "received": dict(self.received),
                "reconnects": dict(self.reconnects), "late_joined": self.late_joined,
                "proposals": self.proposals_made, "comments": self.comments_made,
                "ghosts": len(self.ghosts), "cpu": loadgen.cpu_seconds()}

    async def push_stats(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.send(self.stats())

    def error(self, kind: str, sample: str = "") -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < 30:
            at = time.monotonic() - self.opts.get("start_at", time.monotonic())
            self.error_samples.append(f"{kind} at {at:.1f} s: {sample}"[:400])

    # --- connections --------------------------------------------------------------------------

    async def join(self, person: Person, timeout: float) -> None:
        """POST /api/v1/workshops/<code>/participants: the participant cookie."""
        person.cookie = await loadgen.join_through_api(self.http, self.base, self.code,
                                                       person.index, person.lb, timeout)

    def _socket(self, person: Person) -> Conn:
        import socketio

        sio = socketio.AsyncClient(
            reconnection=False, handle_sigint=False, http_session=self.http,
            request_timeout=30,
            websocket_extra_options={"headers": {"Cookie": person.cookie}})
        conn = Conn(sio)
        received = self.received

        async def on_snapshot(data):
            received["snapshot"] += 1
            data = data if isinstance(data, dict) else {}
            # Applied here, in the order messages arrive: a `phase` right behind the snapshot
            # must not be overwritten by the snapshot's older phase when open() resumes.
            if person.conn is conn:
                person.phase = (data.get("workshop") or {}).get("phase", person.phase)
                person.proposals = {p["id"] for p in data.get("proposals", [])
                                    if p.get("status") == "visible"}
            # Only what open() checks is kept: a snapshot is a few hundred KB late in a run.
            conn.snapshot = {"allocations": (data.get("you") or {}).get("allocations")}
            conn.event.set()

        async def on_phase(data):
            received["phase"] += 1
            if person.conn is conn and isinstance(data, dict) and data.get("phase"):
                person.phase = data["phase"]

        async def on_proposal(data):
            received["proposal"] += 1
            if person.conn is not conn or not isinstance(data, dict):
                return
            pid = data.get("id")
            if data.get("proposal") is not None and data.get("status") == "visible":
                person.proposals.add(pid)
            elif data.get("status") != "visible":
                person.proposals.discard(pid)

        async def on_ended(data=None):
            received["session_ended"] += 1
            self.error("session_ended", str(data))

        async def on_removed(data=None):
            received["removed"] += 1
            self.error("removed", str(data))

        async def on_other(event, data=None):
            received[event] += 1

        async def on_disconnect(reason=None):
            if person.conn is conn and not conn.expected and not self.stopping:
                person.connected = False
                self.error("unexpected_disconnect", f"participant {person.index}: {reason}")

        sio.on("snapshot", on_snapshot, namespace=NS)
        sio.on("phase", on_phase, namespace=NS)
        sio.on("proposal", on_proposal, namespace=NS)
        sio.on("session_ended", on_ended, namespace=NS)
        sio.on("removed", on_removed, namespace=NS)
        sio.on("*", on_other, namespace=NS)
        sio.on("disconnect", on_disconnect, namespace=NS)
        return conn

    async def open(self, person: Person, timeout: float) -> None:
        """A new socket with the participant's cookie; apply (and check) its snapshot."""
        conn = self._socket(person)
        person.conn = conn
        began = time.monotonic()
        await conn.sio.connect(self.base, namespaces=[NS], auth={"workshop": self.code},
                               transports=["websocket"], wait_timeout=timeout)
        await asyncio.wait_for(conn.event.wait(), timeout)
        snap, conn.snapshot = conn.snapshot or {}, None
        self._check_alloc(person, snap.get("allocations"), "snapshot")
        person.connected = True
        person.opened = (began, time.monotonic())

    def _check_alloc(self, person: Person, allocations, where: str) -> None:
        """After any reconnect, sync or own, the server's dots must be the acknowledged ones."""
        server = {int(k): int(v) for k, v in (allocations or {}).items() if int(v)}
        if person.synced and server != person.alloc:
            self.error("state_mismatch", f"{where} of participant {person.index}: server "
                                         f"{server} != acknowledged {person.alloc}")
        person.alloc = server
        person.synced = True

    async def churn(self, person: Person) -> None:
        rng = person.rng
        kind = rng.choices(CHURN_KINDS, CHURN_WEIGHTS)[0]
        old = person.conn
        old.expected = True
        person.connected = False
        if kind == "clean":  # the Socket.IO goodbye: a phone's tab closed
            try:
                await asyncio.wait_for(old.sio.disconnect(), 5)
            except Exception:  # noqa: BLE001 - gone anyway
                pass
            await asyncio.sleep(rng.uniform(1, 5))
        elif kind == "drop":  # the TCP connection is reset, no goodbye: the network went
            transport = _transport(old)
            if transport is not None:
                transport.abort()
            await asyncio.sleep(rng.uniform(1, 5))
            await _abandon(old)
        else:  # vanish: silent; only the server's ping timeout ends it (a phone changed network)
            transport = _transport(old)
            if transport is not None:
                transport.pause_reading()
            self.ghosts.append((time.monotonic() + GHOST_S, old, transport))
        try:
            await self.open(person, self.opts["wait_timeout"])
            self.reconnects[kind] += 1
        except Exception as error:  # noqa: BLE001
            self.error("reconnect", describe(error))

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake up at once when the run stops."""
        try:
            await asyncio.wait_for(self.stop_event.wait(), max(0.0, seconds))
        except TimeoutError:
            pass

    async def bury_ghosts(self) -> None:
        while not self.stopping:
            await self.pause(1)
            now = time.monotonic()
            due = [g for g in self.ghosts if g[0] <= now]
            self.ghosts = [g for g in self.ghosts if g[0] > now]
            for _, conn, transport in due:
                if transport is not None:
                    transport.abort()
                await _abandon(conn)

    # --- actions ------------------------------------------------------------------------------

    async def call(self, person: Person, event: str, payload: dict) -> dict | None:
        import socketio

        self.sent[event] += 1
        t0 = time.monotonic()
        believed = person.phase
        try:
            ack = await person.conn.sio.call(event, payload, namespace=NS,
                                             timeout=self.opts["ack_timeout"])
        except (TimeoutError, socketio.exceptions.TimeoutError):
            self.lost[event] += 1
            self.error(f"lost:{event}", f"participant {person.index}")
            person.synced = False  # the vote may or may not be in: adopt the next snapshot
            return None
        except Exception as error:  # noqa: BLE001
            self.error(f"exception:{event}", describe(error))
            person.synced = False
            return None
        t1 = time.monotonic()
        self.acks[event] += 1
        self.latencies.setdefault(event, []).append((t0, t1 - t0))
        if isinstance(ack, dict) and ack.get("ok"):
            return ack
        code = ((ack or {}).get("error") or {}).get("code", "unknown") \
            if isinstance(ack, dict) else "unknown"
        self.refused[f"{event}:{code}"] += 1
        if code == "wrong_phase":  # judged by the orchestrator against the phase moves
            self.wrong_phase_at.append((t0, t1, believed, person.index, *person.opened))
        else:
            self.error(f"refused:{event}:{code}", str(ack))
        return None

    async def act(self, person: Person) -> None:
        """One tick: an action drawn by the phase the participant sees (or none: reading)."""
        o, rng = self.opts, person.rng
        r = rng.random()
        phase = person.phase
        # Past --content-minutes those ticks only read; the other bands stay where they are.
        content = time.monotonic() <= o["content_until"]
        p_propose, p_comment = o["p_propose"], o["p_comment"]
        if phase == "ideation":
            if r < p_propose:
                if content and self.proposals_made < o["max_proposals"]:
                    await self.propose(person)
            elif r < p_propose + p_comment:
                if content:
                    await self.comment(person)
            elif r < p_propose + p_comment + 0.05:
                await self.sync(person)
        elif phase == "review":
            if r < p_comment:
                if content:
                    await self.comment(person)
            elif r < p_comment + 0.05:
                await self.sync(person)
        elif phase == "voting":
            if r < 0.6:
                await self.vote(person)
            elif r < 0.68:
                await self.own(person)
            elif r < 0.73:
                await self.sync(person)
        else:  # lobby, results: looking at the screen, now and then a refresh
            if r < 0.1:
                await self.sync(person)
            elif r < 0.2:
                await self.own(person)

    async def propose(self, person: Person) -> None:
        self.proposals_made += 1  # reserved before the ack: the cap holds with calls in flight
        person.made += 1
        ack = await self.call(person, "propose", {
            "title": f"Forslag {person.index}-{person.made}",
            "body": "Et forslag fra soak-kørslen om samarbejdet i praksis. " * 3,
            "element_id": person.rng.choice(self.opts["element_ids"]),
            "client_id": uuid.uuid4().hex})
        if ack is None:
            self.proposals_made -= 1
        elif ack.get("proposal", {}).get("status") == "visible":
            person.proposals.add(ack["proposal"]["id"])

    async def comment(self, person: Person) -> None:
        if not person.proposals or self.comments_made >= self.opts["max_comments"]:
            return
        self.comments_made += 1
        pid = person.rng.choice(sorted(person.proposals))
        ack = await self.call(person, "comment", {
            "proposal_id": pid, "client_id": uuid.uuid4().hex,
            "body": f"Kommentar fra deltager {person.index}: godt, men hvem gør det?"})
        if ack is None:
            self.comments_made -= 1

    async def vote(self, person: Person) -> None:
        """Set the dots on one proposal: one more where there is budget, else one less."""
        budget, cap, rng = self.opts["dots"], self.opts["cap"], person.rng
        spent = sum(person.alloc.values())
        room = sorted(p for p in person.proposals if person.alloc.get(p, 0) < cap)
        if room and spent < budget and (spent == 0 or rng.random() < 0.7):
            pid = rng.choice(room)
            value = person.alloc.get(pid, 0) + 1
        elif spent > 0:
            pid = rng.choice(sorted(p for p, d in person.alloc.items() if d > 0))
            value = 0 if rng.random() < 0.3 else person.alloc[pid] - 1
        else:
            return
        if spent - person.alloc.get(pid, 0) + value > budget:  # never sent: a bug here
            raise AssertionError("the soak client planned a vote over budget")
        ack = await self.call(person, "vote", {"proposal_id": pid, "dots": value})
        if ack is None:
            return
        if ack.get("dots") != value:
            self.error("vote_mismatch", f"set {value}, ack {ack}")
        if value:
            person.alloc[pid] = value
        else:
            person.alloc.pop(pid, None)
        expected = budget - sum(person.alloc.values())
        if ack.get("remaining") != expected:
            self.error("budget_mismatch", f"remaining {ack.get('remaining')} != {expected}")

    async def own(self, person: Person) -> None:
        ack = await self.call(person, "own", {})
        if ack is not None:
            self._check_alloc(person, ack.get("allocations"), "own")

    async def sync(self, person: Person) -> None:
        ack = await self.call(person, "sync", {})
        if ack is not None:
            snap = ack.get("snapshot") or {}
            person.proposals = {p["id"] for p in snap.get("proposals", [])
                                if p.get("status") == "visible"}
            self._check_alloc(person, (snap.get("you") or {}).get("allocations"), "sync")

    # --- a participant's evening --------------------------------------------------------------

    async def life(self, person: Person, start: float) -> None:
        o = self.opts
        rng = person.rng
        # The first action somewhere in the first interval, so that not everyone acts at once.
        await self.pause(start - time.monotonic() + rng.uniform(0, o["act_max"]))
        while not self.stopping:
            now = time.monotonic()
            if not person.connected:
                # The server dropped us (counted as an error): come back, as the browser does.
                try:
                    await self.open(person, o["wait_timeout"])
                    self.reconnects["after_error"] += 1
                except Exception as error:  # noqa: BLE001
                    self.error("reconnect", describe(error))
                    await self.pause(5)
                    continue
            elif now >= person.next_churn:
                await self.churn(person)
                person.next_churn = time.monotonic() + o["churn_every"] * rng.uniform(0.75, 1.25)
            else:
                await self.act(person)
            await self.pause(rng.uniform(o["act_min"], o["act_max"]))

    async def late(self, person: Person, at: float) -> None:
        await self.pause(at - time.monotonic())
        if self.stopping:
            return
        self.people.append(person)
        try:
            await self.join(person, self.opts["wait_timeout"])
            await self.open(person, self.opts["wait_timeout"])
            self.late_joined += 1
        except Exception as error:  # noqa: BLE001
            self.error("late_join", describe(error))
            return
        await self.life(person, time.monotonic())

    # --- commands -----------------------------------------------------------------------------

    async def cmd_connect(self, command: dict) -> dict:
        self.base, self.code = command["base"], command["code"]
        self.opts = command["opts"]
        timeout = self.opts["wait_timeout"]
        semaphore = asyncio.Semaphore(command["concurrency"])
        self.people = [Person(i, self.opts["seed"]) for i in command["indices"]]
        errors: list[str] = []

        async def one(person: Person) -> None:
            async with semaphore:
                try:
                    await self.join(person, timeout)
                    await self.open(person, timeout)
                except Exception as error:  # noqa: BLE001
                    errors.append(describe(error)[:300])
                    self.error("connect", errors[-1])

        await asyncio.gather(*(one(p) for p in self.people))
        return {"connected": sum(1 for p in self.people if p.connected), "errors": errors}

    async def cmd_run(self, command: dict) -> dict:
        start = command["start_at"]
        self.opts["start_at"] = start
        self.stop_event = asyncio.Event()
        self.opts.update(command["opts"])
        churners = command["churners"]
        rng = random.Random(self.opts["seed"] * 7 + self.index)
        for person in self.people:
            if person.index in churners:
                person.churner = True
                person.next_churn = start + self.opts["churn_every"] * rng.uniform(0.1, 1.0)
        for person in self.people:
            if person.conn is not None:
                self._spawn(self.life(person, start))
        for index, at in command["late"]:
            self._spawn(self.late(Person(index, self.opts["seed"]), at))
        self._spawn(self.bury_ghosts())
        return {"started": True}

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            self.error("client_task", f"{type(error).__name__}: {error}")

    async def cmd_stop(self, command: dict) -> dict:
        """Stop acting (each participant finishes the action it is in); report everything."""
        self.stopping = True
        if self.stop_event is not None:
            self.stop_event.set()
        pending = [t for t in self.tasks if not t.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=command["timeout"])
            for task in still:
                task.cancel()
        final = command.get("final_phase")
        connected = [p for p in self.people if p.connected]
        # Whoever lost an ack holds an unknown number of dots: ask the server (`own`).
        unsure = [p for p in connected if not p.synced]
        if unsure:
            try:
                await asyncio.wait_for(asyncio.gather(*(self.own(p) for p in unsure)),
                                       command["timeout"])
            except TimeoutError:
                pass
        return {
            **self.stats(),
            "error_samples": self.error_samples,
            "wrong_phase_at": self.wrong_phase_at,
            "latencies": {k: v for k, v in self.latencies.items()},
            "dots_total": sum(sum(p.alloc.values()) for p in self.people if p.synced),
            "unsynced": sum(1 for p in self.people if p.conn is not None and not p.synced),
            "phase_mismatch": sum(1 for p in connected if final and p.phase != final),
            "phase_mismatches": [
                {"participant": p.index, "phase": p.phase,
                 "connect_began_s": round(p.opened[0] - self.opts["start_at"], 3),
                 "snapshot_at_s": round(p.opened[1] - self.opts["start_at"], 3)}
                for p in connected if final and p.phase != final][:20],
            "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }

    async def close(self) -> None:
        conns = [p.conn for p in self.people if p.conn is not None] + \
            [g[1] for g in self.ghosts]
        for conn in conns:
            conn.expected = True

        async def one(conn: Conn) -> None:
            try:
                await asyncio.wait_for(conn.sio.disconnect(), 5)
            except Exception:  # noqa: BLE001 - closing anyway
                pass

        try:
            await asyncio.wait_for(asyncio.gather(*(one(c) for c in conns)), 20)
        except TimeoutError:
            pass


def describe(error: BaseException) -> str:
    """An exception with the ones it came from (python-socketio hides aiohttp's reason)."""
    parts, seen = [], set()
    while error is not None and id(error) not in seen and len(parts) < 4:
        seen.add(id(error))
        parts.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return " <- ".join(parts)


def _transport(conn: Conn):
    try:
        return conn.sio.eio.ws._writer.transport
    except AttributeError:
        return None


async def _abandon(conn: Conn) -> None:
    try:
        await asyncio.wait_for(conn.sio.eio.disconnect(abort=True), 5)
    except Exception:  # noqa: BLE001 - the transport is gone already
        pass


def worker_main(conn, index: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator handles Ctrl+C
    # A dropped or vanished socket's teardown logs "packet queue is empty, aborting" at error
    # level; every real problem is counted by the worker itself.
    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)
    asyncio.run(Worker(conn, index).serve())


# --- the orchestrator's side of the workers ---------------------------------------------------


class Workers:
    def __init__(self, count: int):
        self.count = count
        self.ctx = mp.get_context("spawn")
        self.procs: list = []
        self.conns: list = []
        self.replies: list[queue.Queue] = []
        self.latest: list[dict] = []
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> Workers:
        for i in range(self.count):
            parent, child = self.ctx.Pipe()
            proc = self.ctx.Process(target=worker_main, args=(child, i), daemon=True)
            proc.start()
            child.close()
            self.procs.append(proc)
            self.conns.append(parent)
            self.replies.append(queue.Queue())
            self.latest.append({})
            thread = threading.Thread(target=self._read, args=(i,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def _read(self, i: int) -> None:
        while True:
            try:
                message = self.conns[i].recv()
            except (EOFError, OSError):
                self.replies[i].put({"fatal": "the generator process ended"})
                return
            if message.get("type") == "stats":
                self.latest[i] = message
            else:
                self.replies[i].put(message)

    async def ask(self, commands: list[dict], timeout: float) -> list[dict]:
        loop = asyncio.get_running_loop()
        for conn, command in zip(self.conns, commands, strict=True):
            conn.send(command)
        try:
            replies = await asyncio.gather(*(
                loop.run_in_executor(None, q.get, True, timeout) for q in self.replies))
        except queue.Empty:
            raise BenchError(f"a load generator did not answer {commands[0].get('cmd')!r} "
                             f"within {timeout:.0f} s") from None
        for i, reply in enumerate(replies):
            if "fatal" in reply:
                raise BenchError(f"load generator {i} failed: {reply['fatal']}")
        return replies

    def total(self, key: str) -> Counter:
        out: Counter = Counter()
        for stats in self.latest:
            out.update(stats.get(key) or {})
        return out

    def sum(self, key: str) -> float:
        return sum(stats.get(key) or 0 for stats in self.latest)

    def __exit__(self, *exc) -> None:
        for conn, proc in zip(self.conns, self.procs, strict=True):
            if proc.is_alive():
                try:
                    conn.send({"cmd": "close"})
                except (OSError, ValueError):
                    pass
        deadline = time.monotonic() + 30
        for conn, proc in zip(self.conns, self.procs, strict=True):
            proc.join(timeout=max(0.5, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
            conn.close()


# --- readings ---------------------------------------------------------------------------------


def proc_status(pids) -> dict[str, int]:
    """VmRSS, VmHWM and RssAnon (the heap: what a leak grows) of the workers, summed, KiB."""
    keys = {"VmRSS:": "rss_kb", "VmHWM:": "hwm_kb", "RssAnon:": "anon_kb"}
    out = dict.fromkeys(keys.values(), 0)
    for pid in pids:
        if not pid:
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    key = keys.get(line.split(maxsplit=1)[0])
                    if key:
                        out[key] += int(line.split()[1])
        except OSError:
            pass
    return out


def fit(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least squares: (slope, intercept) of y over x."""
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return slope, my - slope * mx


# --- the run ----------------------------------------------------------------------------------


async def soak(args, dep: Deployment, workers: Workers, out: dict) -> None:
    import aiohttp

    base, wait = dep.url, args.wait_timeout
    duration = args.minutes * 60.0
    n = args.participants
    errors: Counter = Counter()
    samples_err: list[str] = []
    out["errors_orchestrator"] = errors
    out["error_samples_orchestrator"] = samples_err

    def error(kind: str, sample: str = "") -> None:
        errors[kind] += 1
        if len(samples_err) < 20:
            samples_err.append(f"{kind}: {sample}"[:300])

    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                 cookie_jar=aiohttp.DummyCookieJar())
    screens: list[loadgen.Screen] = []
    samples: list[dict] = []
    out["samples"] = samples
    sampler = None
    try:
        # --- the facilitator, the workshop, the two screens --------------------------------
        code, staff = await open_workshop(http, dep, "Soak")
        key = dep.presenter_key(code)
        facilitator = loadgen.Screen(http, staff, {"workshop": code, "role": "facilitator"})
        presenter = loadgen.Screen(http, f"samskab_lb={uuid.uuid4().hex}",
                                   {"workshop": code, "presenter": key})
        presence = {"online": None}

        def watch(screen: loadgen.Screen, name: str) -> None:
            async def on_disconnect(reason=None):
                if not out.get("closing"):
                    error("screen_disconnect", f"{name}: {reason}")

            screen.sio.on("disconnect", on_disconnect, namespace=NS)

        async def on_presence(data):
            facilitator.received["presence"] = facilitator.received.get("presence", 0) + 1
            if isinstance(data, dict):
                presence["online"] = data.get("online")

        def on_tally_of(screen: loadgen.Screen):
            # `tally` may come with no data (null: the facilitator hid it again), which
            # loadgen.Screen's handler does not take; and only the total is kept here.
            async def on_tally(data=None):
                screen._count("tally")
                if isinstance(data, dict):
                    screen.tallies[:] = [(time.monotonic(), {}, data.get("dots", 0))]
            return on_tally

        facilitator.sio.on("presence", on_presence, namespace=NS)
        for screen, name in ((facilitator, "facilitator"), (presenter, "presenter")):
            screen.sio.on("tally", on_tally_of(screen), namespace=NS)
            watch(screen, name)
        await facilitator.connect(base, wait)
        await presenter.connect(base, wait)
        screens = [facilitator, presenter]
        settings = facilitator.snapshot["workshop"].get("settings") or {}
        opts = {"wait_timeout": wait, "ack_timeout": args.ack_timeout, "seed": args.seed,
                "dots": int(settings.get("dots_per_participant", 5)),
                "cap": int(settings.get("max_dots_per_proposal", 3)),
                "element_ids": [e["id"] for e in facilitator.snapshot["elements"]],
                "act_min": args.act_min, "act_max": args.act_max,
                "churn_every": args.churn_every}
        out["workshop"] = {"code": code, "settings": settings}

        # --- sampling, from before the first participant connects --------------------------
        async def sample_loop() -> None:
            prev_t, prev_cpu = time.monotonic(), dep.server_cpu()
            while True:
                t = time.monotonic()
                cpu = dep.server_cpu()
                mem = proc_status(dep.workers())
                acks, lost = workers.total("acks"), workers.total("lost")
                samples.append({
                    "mono": t, "wall": time.time(), **mem, "cpu_s": cpu,
                    "cpu_util": (cpu - prev_cpu) / (t - prev_t) if t > prev_t else None,
                    "clients": workers.sum("connected"),
                    "presence_online": presence["online"],
                    "server_sockets": sum(dep.sockets_per_worker()),
                    "acks": sum(acks.values()), "lost": sum(lost.values()),
                    "errors": sum(workers.total("errors").values()) + sum(errors.values()),
                    "reconnects": sum(workers.total("reconnects").values()),
                    "ghosts": workers.sum("ghosts"),
                    "gen_cpu_s": workers.sum("cpu"),
                })
                prev_t, prev_cpu = t, cpu
                await asyncio.sleep(max(0.05, args.sample_interval - (time.monotonic() - t)))

        sampler = asyncio.create_task(sample_loop())
        await asyncio.sleep(2 * args.sample_interval)
        out["idle_rss_kb"] = samples[-1]["rss_kb"]

        # --- everyone joins and connects (in the lobby) ------------------------------------
        print(f"   connecting {n} participants ...", flush=True)
        t_connect = time.monotonic()
        indices = list(range(n))
        counts = split(n, workers.count)
        firsts = [sum(counts[:i]) for i in range(workers.count)]
        replies = await workers.ask([
            {"cmd": "connect", "base": base, "code": code, "opts": opts,
             "indices": indices[f:f + c], "concurrency": args.connect_concurrency}
            for c, f in zip(counts, firsts, strict=True)], 600)
        connected = sum(r["connected"] for r in replies)
        ramp = time.monotonic() - t_connect
        out["connect"] = {"connected": connected, "of": n, "ramp_s": round(ramp, 2),
                          "errors": [e for r in replies for e in r["errors"]][:10]}
        print(f"   {connected}/{n} connected in {ramp:.1f} s; settling {args.settle:g} s",
              flush=True)
        await asyncio.sleep(args.settle)

        # --- the plan: phase moves, rates, churners, late joiners --------------------------
        plan = schedule(duration)
        mean_interval = (args.act_min + args.act_max) / 2
        content_s = duration if args.content_minutes is None \
            else min(duration, args.content_minutes * 60)
        secs = Counter()  # seconds of each phase while content is being made
        for at, phase, dwell in plan:
            secs[phase] += max(0.0, min(at + dwell, content_s) - at)
        ticks = {ph: n * s / mean_interval for ph, s in secs.items()}
        opts_run = {
            "p_propose": min(0.5, args.max_proposals / max(1.0, ticks.get("ideation", 0))),
            "p_comment": min(0.6, args.max_comments
                             / max(1.0, ticks.get("ideation", 0) + ticks.get("review", 0))),
        }
        per = split(args.max_proposals, workers.count)
        per_c = split(args.max_comments, workers.count)
        rng = random.Random(args.seed)
        churners = set(rng.sample(range(n), round(args.churn_share * n)))
        late_count = round(args.late_share * n)
        t0 = time.monotonic() + 1.0
        out["t0_mono"] = t0
        out["t0_wall"] = time.time() + (t0 - time.monotonic())
        opts_run["content_until"] = t0 + content_s
        late = [(n + i, t0 + rng.uniform(0.05, 0.8) * duration) for i in range(late_count)]
        out["plan"] = {"phases": [{"at_s": a, "phase": p, "dwell_s": d} for a, p, d in plan],
                       "churners": len(churners), "late_joiners": late_count, **opts_run}
        await workers.ask([
            {"cmd": "run", "start_at": t0,
             "opts": {**opts_run, "max_proposals": per[i], "max_comments": per_c[i]},
             "churners": sorted(churners),
             "late": [x for j, x in enumerate(late) if j % workers.count == i]}
            for i in range(workers.count)], 60)
        print(f"   {args.minutes:g} min of activity: {len(plan)} phase moves, "
              f"{len(churners)} churning, {late_count} joining late", flush=True)

        # --- the facilitator's evening -----------------------------------------------------
        moves: list[dict] = []
        out["moves"] = moves
        revealed = False
        voting_visits = 0

        async def facilitate(event: str, payload: dict) -> None:
            try:
                ack = await facilitator.call(event, payload, args.ack_timeout)
            except Exception as error_:  # noqa: BLE001
                error(f"facilitator:{event}", f"{type(error_).__name__}: {error_}")
                return
            if not (ack or {}).get("ok"):
                error(f"facilitator:{event}", str(ack))

        for at, phase, dwell in plan:
            await loadgen._sleep_until(t0 + at)
            if revealed and phase != "voting":
                await facilitate("reveal", {"revealed": False})
                revealed = False
            t_call = time.monotonic()
            async with http.post(f"{base}/api/v1/workshops/{code}/phase", json={"phase": phase},
                                 headers={"Cookie": staff}) as response:
                status = response.status
                text = await response.text()
            t_done = time.monotonic()
            moves.append({"t_s": t_call - t0, "phase": phase, "api_ms": (t_done - t_call) * 1000,
                          "mono": t_call, "mono_done": t_done, "status": status})
            if status != 200:
                error("phase_api", f"{phase}: {status} {text[:200]}")
            await facilitate("timer", {"action": "start", "seconds": max(1, round(dwell))})
            if phase == "voting":
                voting_visits += 1
                if args.reveal and voting_visits % 2 == 0:
                    await facilitate("reveal", {"revealed": True})
                    revealed = True
            print(f"   {t_call - t0:6.1f} s  {phase:<9} rss {samples[-1]['rss_kb'] / 1024:.1f} MB"
                  f"  clients {samples[-1]['clients']:.0f}  acks {samples[-1]['acks']}"
                  f"  errors {samples[-1]['errors']}", flush=True)
        await loadgen._sleep_until(t0 + duration)
        t_end = time.monotonic()
        out["activity_s"] = t_end - t0

        # --- stop, then check that everyone ends in the server's state ---------------------
        final_phase = moves[-1]["phase"] if moves else "lobby"
        finals = await workers.ask([{"cmd": "stop", "timeout": args.ack_timeout + 5,
                                     "final_phase": final_phase}] * workers.count,
                                   args.ack_timeout + 60)
        await asyncio.sleep(1.5)  # the last coalesced tally (5 Hz) and presence (1 Hz)
        out["finals"] = finals
        dots_clients = sum(f["dots_total"] for f in finals)
        try:
            ack = await facilitator.call("sync", {}, args.ack_timeout)
            tally = ((ack or {}).get("snapshot") or {}).get("tally") or {}
            dots_server = tally.get("dots")
        except Exception as error_:  # noqa: BLE001
            dots_server = None
            error("facilitator:sync", str(error_))
        out["final"] = {"phase": final_phase, "dots_acknowledged": dots_clients,
                        "dots_server": dots_server,
                        "dots_facilitator_screen": facilitator.total_dots(),
                        "presence_online": presence["online"],
                        "clients_connected": sum(f["connected"] for f in finals),
                        "phase_mismatch": sum(f["phase_mismatch"] for f in finals),
                        "presenter_phase_events": presenter.received.get("phase", 0),
                        "facilitator_phase_events": facilitator.received.get("phase", 0),
                        "phase_moves": len(moves)}
        unsynced = sum(f["unsynced"] for f in finals)
        out["final"]["unsynced_participants"] = unsynced
        if dots_server != dots_clients and not unsynced:
            error("final_tally", f"server {dots_server} != acknowledged {dots_clients}")
        if out["final"]["phase_mismatch"]:
            out["final"]["phase_mismatches"] = [m for f in finals
                                                for m in f.get("phase_mismatches", [])]
            error("phase_mismatch", f"{out['final']['phase_mismatch']} participants: "
                                    f"{out['final']['phase_mismatches'][:3]}")
        for who, screen in (("presenter", presenter), ("facilitator", facilitator)):
            if screen.received.get("phase", 0) < len(moves):
                error(f"{who}_missed_phase", f"{screen.received.get('phase', 0)} of "
                                             f"{len(moves)}")
        out["received_by_facilitator"] = facilitator.received
        out["received_by_presenter"] = presenter.received
        out["t_end_mono"] = t_end
    finally:
        out["closing"] = True
        if sampler is not None:
            sampler.cancel()
        for screen in screens:
            await screen.close()
        await http.close()


def database_counts(dep: Deployment) -> dict:
    from sqlalchemy import create_engine, text

    engine = create_engine(dep.database_url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar()
                    for t in ("participant", "proposal", "comment", "dot_vote")}
    except Exception as error:  # noqa: BLE001
        return {"error": str(error)[:300]}
    finally:
        engine.dispose()


def read_probe(path: Path) -> list[dict]:
    import json

    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def server_log_problems(dep: Deployment) -> dict:
    """Error lines and tracebacks in the gunicorn logs (JSON lines by default)."""
    count, samples = 0, []
    for path in sorted(dep.workdir.glob("*.log")) if dep.workdir else []:
        for line in path.read_text(errors="replace").splitlines():
            if '"level": "error"' in line or '"level": "critical"' in line \
                    or line.startswith("Traceback") or "[ERROR]" in line:
                count += 1
                if len(samples) < 10:
                    samples.append(line[:400])
    return {"lines": count, "samples": samples}


# --- analysis ---------------------------------------------------------------------------------


def curve(points: list[tuple[float, float]], duration: float, settle: float) -> dict:
    """A memory series (t_s, KiB): start (median of the settle window before the activity),
    end, peak, least-squares slopes over the second half and the last 75%, and that growth."""
    active = [(t, v) for t, v in points if 0 <= t <= duration]
    before = [v for t, v in points if -settle <= t < 0] or [v for _, v in active[:1]]
    if not active or not before:
        return {}
    start = statistics.median(before)
    f_half = fit([(t / 60, v) for t, v in active if t >= duration / 2])
    f_75 = fit([(t / 60, v) for t, v in active if t >= duration / 4])
    growth = f_75[0] * (0.75 * duration / 60) if f_75 else None
    return {"start_kb": start, "end_kb": active[-1][1],
            "end_median_30s_kb": statistics.median(
                [v for t, v in active if t >= duration - 30] or [active[-1][1]]),
            "peak_kb": max(v for _, v in points),
            "slope_second_half_kb_per_min": f_half[0] if f_half else None,
            "slope_last_75pct_kb_per_min": f_75[0] if f_75 else None,
            "growth_last_75pct_kb": growth,
            "growth_last_75pct_pct": growth / start * 100 if growth is not None and start
            else None,
            "fit_second_half": f_half, "fit_last_75pct": f_75}


def floor(points: list[tuple[float, float]], duration: float) -> list[tuple[float, float]]:
    """The lowest point of each minute of the activity, and every point before it: what
    memory comes back to between the peaks (a voting burst, a wave of reconnections), which
    the RSS rule's least squares fit together with the peaks (a run that ends in a burst ends
    high)."""
    lowest: dict[int, tuple[float, float]] = {}
    for t, v in points:
        if 0 <= t <= duration and (int(t // 60) not in lowest or v < lowest[int(t // 60)][1]):
            lowest[int(t // 60)] = (t, v)
    return [(t, v) for t, v in points if t < 0] + sorted(lowest.values())


PROBE_SERIES = {
    "live_kb": "live memory: Python objects (pymalloc blocks in use) + C allocations in use",
    "py_used_kb": "Python objects (pymalloc blocks in use)",
    "c_used_kb": "C allocations in use (glibc mallinfo2 uordblks + hblkhd)",
    "held_kb": "held by the allocators: pymalloc arenas + glibc heap and mmaps",
    "py_held_kb": "held by pymalloc: its arenas, in use or not",
    "c_held_kb": "held by glibc: its heap and mmaps (mallinfo2 arena + hblkhd)",
    "sqlite_kb": "SQLite's own allocations (sqlite3_memory_used)",
}


def probe_series(out: dict) -> list[dict]:
    """The probe's rows (one worker: one process), in KiB, with t_s since the activity began."""
    rows = []
    t0_wall = out.get("t0_wall")
    for row in out.get("probe") or []:
        if t0_wall is None or "py_used_b" not in row:
            continue
        r = {"t_s": round(row["wall"] - t0_wall, 3), "pid": row.get("pid"),
             "py_used_kb": row["py_used_b"] / 1024,
             "c_used_kb": row.get("c_used_b", 0) / 1024,
             "held_kb": (row.get("py_total_b", 0) + row.get("c_heap_b", 0)) / 1024,
             "py_held_kb": row.get("py_total_b", 0) / 1024,
             "c_held_kb": row.get("c_heap_b", 0) / 1024,
             "sqlite_kb": row.get("sqlite_b", 0) / 1024,
             "gc_objects": row.get("gc_objects"), "db_open": row.get("db_open")}
        r["live_kb"] = r["py_used_kb"] + r["c_used_kb"]
        rows.append(r)
    return rows


def analyse(args, out: dict) -> dict:
    """Start, end and peak RSS, the slopes, the verdict, acks and errors."""
    t0, samples = out.get("t0_mono"), out.get("samples") or []
    if t0 is None or not samples:
        return {}
    t_end = out.get("t_end_mono") or samples[-1]["mono"]  # an interrupted run: what there is
    for s in samples:
        s["t_s"] = round(s["mono"] - t0, 3)
    duration = t_end - t0
    active = [s for s in samples if 0 <= s["t_s"] <= duration]
    if not active:
        return {}

    def kb(key: str) -> dict:
        return curve([(s["t_s"], s[key]) for s in samples], duration, args.settle)

    rss, anon = kb("rss_kb"), kb("anon_kb")
    # Reported beside the rule, not part of it.
    rss_floor = curve(floor([(s["t_s"], s["rss_kb"]) for s in samples], duration), duration,
                      args.settle)
    flat = (rss["growth_last_75pct_pct"] is not None
            and rss["growth_last_75pct_pct"] < args.flat_pct
            and rss["slope_second_half_kb_per_min"] < args.flat_slope)
    finals = out.get("finals") or []

    def total(key: str) -> Counter:
        c: Counter = Counter()
        for f in finals:
            c.update(f.get(key) or {})
        return c

    acks, refused, lost = total("acks"), total("refused"), total("lost")
    errors = total("errors") + Counter(out.get("errors_orchestrator") or {})
    # A refusal for the wrong phase is the protocol working when the client's screen was
    # behind the server (it acted in a phase the server had left: the `phase` message was still
    # on its way) or the phase moved while the action was on its way. Anything else, a refusal
    # in the phase the server was in, is an error.
    moves = out.get("moves", [])

    def server_phases(a: float, b: float) -> set[str]:
        """The phases the server may have been in between a and b (a move is in flight from
        its API call until the call returned)."""
        found, current = set(), "lobby"
        for m in moves:
            if m["mono_done"] < a:
                current = m["phase"]
            elif m["mono"] <= b:
                found.update((current, m["phase"]))
                current = m["phase"]
        return found or {current}

    benign = other = 0
    wrong_phase: list[dict] = []
    stale = 0.0  # how long after a move a screen still acted in the phase before it
    for f in finals:
        for sent, acked, believed, who, began, snapped in f.get("wrong_phase_at", []):
            phases = server_phases(sent - 0.5, acked)
            if len(phases) > 1:  # the phase moved while the action was on its way
                benign += 1
            elif believed not in phases:  # the screen had not yet heard of the last move
                benign += 1
                done = [m["mono_done"] for m in moves if m["mono_done"] <= sent]
                if done:
                    stale = max(stale, sent - done[-1])
            else:
                other += 1
            wrong_phase.append({"sent_s": round(sent - t0, 3), "acked_s": round(acked - t0, 3),
                                "believed": believed, "server": sorted(phases),
                                "participant": who, "connect_began_s": round(began - t0, 3),
                                "snapshot_at_s": round(snapped - t0, 3)})
    if other:
        errors["refused:wrong_phase_in_that_phase"] += other
    latency: dict[str, dict] = {}
    per_minute: dict[str, dict] = {}
    for f in finals:
        for event, pairs in (f.get("latencies") or {}).items():
            latency.setdefault(event, []).extend(pairs)
    for event, pairs in latency.items():
        buckets: dict[int, list[float]] = {}
        for t, d in pairs:
            buckets.setdefault(int((t - t0) // 60), []).append(d)
        per_minute[event] = {str(m): round(report.summary(buckets[m])["p95"], 1)
                             for m in sorted(buckets)}  # minute of the run: p95 ms
        latency[event] = report.summary([d for _, d in pairs])
    cpu = [s for s in active if s["cpu_util"] is not None]
    probe = {}
    rows = probe_series(out)
    for key, meaning in PROBE_SERIES.items():
        per_pid = [curve([(r["t_s"], r[key]) for r in rows if r["pid"] == pid], duration,
                         args.settle) for pid in sorted({r["pid"] for r in rows})]
        per_pid = [c for c in per_pid if c]
        if per_pid:  # several processes: the sum of each process's figures
            probe[key] = {k: sum(c[k] for c in per_pid) if all(
                isinstance(c[k], int | float) for c in per_pid) else None
                for k in per_pid[0] if not k.startswith("fit_")}
            probe[key]["meaning"] = meaning
            if len(per_pid) == 1:
                probe[key]["fit_second_half"] = per_pid[0]["fit_second_half"]
    return {
        "duration_s": duration,
        "rss": rss, "anon": anon, "rss_floor": rss_floor, "probe": probe,
        "vmhwm_end_kb": samples[-1]["hwm_kb"],
        "idle_rss_kb": out.get("idle_rss_kb"),
        "flat": flat,
        "verdict": ("flat" if flat else "NOT flat") if duration >= MIN_VERDICT_S - 1
        else f"no verdict: under {MIN_VERDICT_S / 60:g} minutes the warm-up dominates",
        "rule": f"growth of VmRSS over the last 75% of the run (least squares) < "
                f"{args.flat_pct:g}% of the post-connect RSS, and the slope over the second "
                f"half < {args.flat_slope:g} KB/min",
        "acks": sum(acks.values()), "acks_by_event": dict(acks),
        "refused": dict(refused), "wrong_phase_at_moves": benign,
        "wrong_phase_max_behind_s": round(stale, 2), "wrong_phase": wrong_phase[:200],
        "lost_acks": sum(lost.values()),
        "errors": dict(errors), "error_total": sum(errors.values()),
        "ack_ms": latency, "ack_p95_ms_per_minute": per_minute,
        "reconnects": dict(total("reconnects")),
        "late_joined": sum(f.get("late_joined", 0) for f in finals),
        "received_by_participants": dict(total("received")),
        "server_cpu_s": active[-1]["cpu_s"] - active[0]["cpu_s"],
        "server_cpu_util": (active[-1]["cpu_s"] - active[0]["cpu_s"]) / duration,
        "server_cpu_util_max_1s": max((s["cpu_util"] for s in cpu), default=None),
        "generator_cpu_util": (active[-1]["gen_cpu_s"] - active[0]["gen_cpu_s"]) / duration,
        "clients_min_max": [min(s["clients"] for s in active), max(s["clients"] for s in active)],
        "server_sockets_start_end": [active[0]["server_sockets"], active[-1]["server_sockets"]],
    }


def table(doc: dict) -> str:
    a = doc.get("summary") or {}
    if not a:
        return "no summary: the run did not get to its activity (see failed)"
    rss, anon, floor_ = a["rss"], a["anon"], a.get("rss_floor") or {}

    def mb(v):
        return "–" if v is None else f"{v / 1024:.1f} MB"

    def kbm(v):
        return "–" if v is None else f"{v:+.0f} KB/min"

    rows = [
        ("RSS at start (after connect)", mb(rss["start_kb"])),
        ("RSS at end", f"{mb(rss['end_kb'])} (median of last 30 s "
                       f"{mb(rss['end_median_30s_kb'])})"),
        ("RSS peak / VmHWM", f"{mb(rss['peak_kb'])} / {mb(a['vmhwm_end_kb'])}"),
        ("slope, second half", kbm(rss["slope_second_half_kb_per_min"])),
        ("slope, last 75%", kbm(rss["slope_last_75pct_kb_per_min"])),
        ("growth, last 75%", f"{(rss['growth_last_75pct_kb'] or 0) / 1024:+.2f} MB "
                             f"({rss['growth_last_75pct_pct']:+.2f}% of start)"),
        ("RSS floor (lowest each minute): end / slope 2nd half / growth last 75%",
         f"{mb(floor_.get('end_kb'))} / {kbm(floor_.get('slope_second_half_kb_per_min'))} / "
         f"{(floor_.get('growth_last_75pct_kb') or 0) / 1024:+.2f} MB"),
        ("RssAnon start / end / slope 2nd half",
         f"{mb(anon['start_kb'])} / {mb(anon['end_kb'])} / "
         f"{kbm(anon['slope_second_half_kb_per_min'])}"),
        ("verdict", f"{a['verdict']}  ({a['rule']})"),
        *[(f"probe: {key[:-3]} start / end / slope 2nd half",
           f"{mb(c.get('start_kb'))} / {mb(c.get('end_kb'))} / "
           f"{kbm(c.get('slope_second_half_kb_per_min'))}")
          for key, c in (a.get("probe") or {}).items()],
        ("acks", f"{a['acks']}  " + ", ".join(f"{k} {v}" for k, v in
                                                sorted(a["acks_by_event"].items()))),
        ("lost acks", str(a["lost_acks"])),
        ("errors", f"{a['error_total']}  {a['errors'] or ''}"),
        ("wrong_phase, screen behind a move (benign)",
         f"{a['wrong_phase_at_moves']} (sent at most "
         f"{a.get('wrong_phase_max_behind_s', 0):.1f} s after the move)"),
        ("reconnects", str(a["reconnects"])),
        *([("probe: database connections open (max)",
            str(max((r.get("db_open") or 0) for r in doc["probe_samples"])))]
          if doc.get("probe_samples") else []),
        ("late joiners", str(a["late_joined"])),
        ("server CPU (mean / max 1 s)", f"{a['server_cpu_util'] * 100:.0f}% / "
                                        f"{(a['server_cpu_util_max_1s'] or 0) * 100:.0f}%"),
        ("generator CPU (mean)", f"{a['generator_cpu_util'] * 100:.0f}%"),
        ("database at end", str(doc.get("database_counts"))),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)


def plot(doc: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -r bench/requirements.txt): no plot")
        return None
    samples = [s for s in doc.get("samples", []) if "t_s" in s]
    a = doc.get("summary") or {}
    if not samples or not a:
        return None
    t = [s["t_s"] / 60 for s in samples]
    fig, axes = plt.subplots(4, 1, figsize=(11, 10.5), sharex=True,
                             gridspec_kw={"height_ratios": [2.2, 1.6, 1.2, 1.2]})
    ax = axes[0]
    ax.plot(t, [s["rss_kb"] / 1024 for s in samples], color="C0", lw=1.2, label="VmRSS")
    ax.plot(t, [s["anon_kb"] / 1024 for s in samples], color="C2", lw=1, label="RssAnon")
    ax.axhline(a["rss"]["start_kb"] / 1024, color="C0", ls=":", lw=0.8,
               label="RSS at start (after connect)")
    f = a["rss"].get("fit_second_half")
    if f:
        x0, x1 = a["duration_s"] / 120, a["duration_s"] / 60
        ax.plot([x0, x1], [(f[1] + f[0] * x0) / 1024, (f[1] + f[0] * x1) / 1024], color="C3",
                lw=1.5, label=f"least squares, 2nd half: {f[0]:+.0f} KB/min")
    colors = {"ideation": "#e8f1fb", "review": "#fdf3e3", "voting": "#eaf7ea",
              "results": "#f3eaf7", "lobby": "#ffffff"}
    moves = doc.get("moves") or []
    end = a["duration_s"] / 60
    for i, m in enumerate(moves):
        x0 = m["t_s"] / 60
        x1 = moves[i + 1]["t_s"] / 60 if i + 1 < len(moves) else end
        for axis in axes:
            axis.axvspan(x0, x1, color=colors.get(m["phase"], "#fff"), lw=0, zorder=0)
            axis.axvline(x0, color="grey", lw=0.5, alpha=0.6)
        ax.text(x0 + 0.02, 1.0, m["phase"][:4], transform=ax.get_xaxis_transform(),
                fontsize=7, va="top", rotation=90, color="dimgrey")
    for axis in axes:
        axis.axvline(0, color="black", lw=0.8)
        axis.axvline(end, color="black", lw=0.8)
    ax.set_ylabel("MB")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"server worker memory · {a['verdict']} · start "
                 f"{a['rss']['start_kb'] / 1024:.0f} MB, end {a['rss']['end_kb'] / 1024:.0f} MB,"
                 f" peak {a['rss']['peak_kb'] / 1024:.0f} MB", fontsize=10)
    # The same curve, zoomed: the difference from the start, against the threshold of "flat".
    zoom = axes[1]
    start = a["rss"]["start_kb"]
    zoom.plot(t, [(s["rss_kb"] - start) / 1024 for s in samples], color="C0", lw=1,
              label="VmRSS − RSS at start")
    zoom.plot(t, [(s["anon_kb"] - a["anon"]["start_kb"]) / 1024 for s in samples], color="C2",
              lw=0.8, label="RssAnon − its start")
    probe = doc.get("probe_samples") or []
    live = (a.get("probe") or {}).get("live_kb") or {}
    if probe and live.get("start_kb") is not None and len({r["pid"] for r in probe}) == 1:
        zoom.plot([r["t_s"] / 60 for r in probe],
                  [(r["live_kb"] - live["start_kb"]) / 1024 for r in probe], color="C6", lw=1,
                  marker=".", ms=2, label="live: Python objects + C in use − start (--probe)")
        held = a["probe"]["held_kb"]
        zoom.plot([r["t_s"] / 60 for r in probe],
                  [(r["held_kb"] - held["start_kb"]) / 1024 for r in probe], color="C8",
                  lw=0.8, ls="--", label="held by the allocators − start (--probe)")
    limit = start * doc["options"]["flat_pct"] / 100 / 1024
    zoom.axhline(limit, color="C3", ls="--", lw=0.8,
                 label=f"{doc['options']['flat_pct']:g}% of the start RSS")
    zoom.axhline(0, color="grey", lw=0.5)
    zoom.set_ylabel("MB vs start")
    zoom.legend(fontsize=7, loc="upper left")
    axes[2].plot(t, [s["clients"] for s in samples], color="C1", lw=1,
                 label="participants connected (clients)")
    axes[2].plot(t, [s["presence_online"] if s["presence_online"] is not None else float("nan")
                     for s in samples], color="C4", lw=1, ls="--",
                 label="online (server's presence)")
    axes[2].plot(t, [s["server_sockets"] for s in samples], color="C7", lw=0.8,
                 label="server sockets")
    axes[2].legend(fontsize=7, loc="lower right")
    axes[2].set_ylabel("count")
    axes[3].plot(t, [(s["cpu_util"] or 0) * 100 for s in samples], color="C5", lw=0.6,
                 label="server CPU (1 s)")
    acks = [s["acks"] for s in samples]
    rate = [0.0] + [max(0, acks[i] - acks[i - 1]) / max(1e-6, samples[i]["t_s"]
                                                          - samples[i - 1]["t_s"])
                    for i in range(1, len(samples))]
    axes[3].plot(t, rate, color="C9", lw=0.6, label="acks/s")
    axes[3].legend(fontsize=7, loc="upper right")
    axes[3].set_ylabel("% of a core · acks/s")
    axes[3].set_xlabel("minutes since the activity started (before 0: connecting, settling)")
    m = doc["machine"]
    fig.suptitle(f"Samskab soak · {doc['date']} · {doc['label']} · {m['cores']} cores, "
                 f"{m['cpu_model'][:40]}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- main -------------------------------------------------------------------------------------


def _terminate(*_args) -> None:
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.replot:
        import json

        source = Path(args.replot)
        doc = json.loads(source.read_text())
        summary = doc.get("summary") or {}
        if "rss_floor" not in summary and summary.get("duration_s") and doc.get("samples"):
            # A run from before the floor was reported: worked out from its samples.
            summary["rss_floor"] = curve(
                floor([(s["t_s"], s["rss_kb"]) for s in doc["samples"]],
                      summary["duration_s"]), summary["duration_s"], doc["options"]["settle"])
        print(table(doc))
        print(f"plot: {plot(doc, source.with_suffix('.png'))}")
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.processes > 1:
        try:
            nginx_binary()
        except BenchError as error:
            print(error, file=sys.stderr)
            return 2
    signal.signal(signal.SIGTERM, _terminate)
    date = time.strftime("%Y-%m-%d")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{date}-soak-{args.label}.json"
    doc: dict = {"label": args.label, "date": date, "machine": report.machine_info(),
                 "options": vars(args).copy(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                 "loadavg_start": report.loadavg()}
    out: dict = {}
    interrupted = False
    logs = RESULTS / f"logs-soak-{args.label}" if args.keep_logs else None
    print(f"== soak · {args.participants} participants · {args.minutes:g} min · "
          f"{args.processes} process(es) · {args.database}", flush=True)
    bound = args.minutes * 60 + args.settle + 900
    probe_dir = None
    if args.probe:
        probe_dir = Path(tempfile.mkdtemp(prefix="samskab-soak-probe-"))
        os.environ["SOAK_PROBE_OUT"] = str(probe_dir / "probe.jsonl")
        os.environ["SOAK_PROBE_EVERY"] = str(PROBE_EVERY_S)
    try:
        with Deployment("app", processes=args.processes, database=args.database,
                        postgres_url=args.postgres_url, redis_url=args.redis_url,
                        keep_logs=logs, worker_hook=PROBE_CONFIG if args.probe else "") as dep, \
                Workers(args.generators) as workers:
            doc["database"] = dep.database
            try:
                asyncio.run(asyncio.wait_for(soak(args, dep, workers, out), bound))
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # recorded; what was measured is still written
                doc["failed"] = describe(error)[:2000]
                doc["failed_traceback"] = traceback.format_exc()[-4000:]
                print(f"   run failed: {doc['failed']}\n   server log tail:\n"
                      f"{dep.log()[-1500:]}", flush=True)
            doc["database_counts"] = database_counts(dep)
            doc["server_log"] = server_log_problems(dep)
            if probe_dir is not None:
                out["probe"] = read_probe(probe_dir / "probe.jsonl")
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: server, generators and database stopped; writing what was "
              "measured", file=sys.stderr)
    except BenchError as error:
        doc["failed"] = str(error)[:2000]
        print(f"   could not start: {error}", flush=True)
    except Exception as error:  # noqa: BLE001 - e.g. the database restarting as it is dropped
        if out.get("t_end_mono"):  # the run itself finished: its figures stand
            doc["cleanup_error"] = describe(error)[:2000]
            print(f"   stopping the server or dropping its database failed: "
                  f"{doc['cleanup_error'][:300]}", flush=True)
        else:
            doc["failed"] = describe(error)[:2000]
            print(f"   run failed: {doc['failed'][:300]}", flush=True)
    finally:
        if probe_dir is not None:
            shutil.rmtree(probe_dir, ignore_errors=True)
    doc["interrupted"] = interrupted
    doc["loadavg_end"] = report.loadavg()
    summary = analyse(args, out)
    doc["summary"] = summary
    for key in ("connect", "plan", "moves", "final", "workshop", "received_by_facilitator",
                "received_by_presenter"):
        if key in out:
            doc[key] = out[key]
    if summary:
        doc["error_samples"] = (list(out.get("error_samples_orchestrator") or [])
                                + [e for f in out.get("finals", [])
                                   for e in f.get("error_samples", [])])[:30]
        doc["generator_max_rss_mb"] = [f.get("max_rss_kb", 0) / 1024
                                       for f in out.get("finals", [])]
    doc["samples"] = [{k: v for k, v in s.items() if k not in ("mono", "wall")}
                      for s in out.get("samples", [])]
    doc["probe_samples"] = probe_series(out)
    report.write_json(path, doc)
    print("\n" + table(doc))
    picture = plot(doc, path.with_suffix(".png"))
    print(f"\nresults: {path}" + (f"\nplot:    {picture}" if picture else ""))
    if interrupted:
        return 130
    bad = ("failed" in doc or "cleanup_error" in doc or not summary or summary["error_total"]
           or summary["lost_acks"])
    return 1 if bad else (3 if summary["verdict"] == "NOT flat" else 0)


if __name__ == "__main__":
    sys.exit(main())
