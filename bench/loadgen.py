"""The load generator: many python-socketio clients on asyncio, in one process of several.

`run.py` starts a few of these processes (multiprocessing, spawn) and drives them over a pipe
with small commands; each command is answered with one reply (a dict) when it is done:

    {"cmd": "connect", ...}      join by the API (cookie), connect to /live, wait for the snapshot
    {"cmd": "wait_phase", ...}   wait until every client here has received `phase` == X
    {"cmd": "propose", ...}      a share of the clients send `propose` (acked)
    {"cmd": "vote", ...}         every client places all its dots, spread over a window (acked)
    {"cmd": "report"}            messages received, last tally seen, this process's CPU
    {"cmd": "close"}             disconnect every client and exit

Every wait is bounded by a timeout given in the command. Times are `time.monotonic()`, which on
Linux is one clock for every process of the machine, so the orchestrator can compare them.
"""

from __future__ import annotations

import asyncio
import random
import resource
import signal
import time
import uuid
from collections import Counter
from http.cookies import SimpleCookie


def ack_timeouts() -> tuple[type[BaseException], ...]:
    """What a call whose ack never came raises: python-socketio's own TimeoutError (not the
    builtin one, which an asyncio timeout raises). Both count as a lost ack, not an error."""
    import socketio

    return (TimeoutError, socketio.exceptions.TimeoutError)


NS = "/live"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Client:
    """One simulated participant: a cookie from the join, one Socket.IO connection."""

    __slots__ = ("index", "lb", "cookie", "sio", "snapshot_at", "snapshot_event", "phase_at",
                 "tallies", "tally_dots", "tally_dots_at", "received", "connected", "error",
                 "dropped")

    def __init__(self, index: int):
        self.index = index
        self.lb = uuid.uuid4().hex  # the load balancer's sticky cookie (hash $cookie_samskab_lb)
        self.cookie = ""
        self.sio = None
        self.snapshot_at: float | None = None
        self.snapshot_event = asyncio.Event()
        self.phase_at: dict[str, float] = {}
        self.tallies = 0
        self.tally_dots: int | None = None
        self.tally_dots_at: float | None = None
        self.received: dict[str, int] = {}
        self.connected = False
        self.error: str | None = None
        self.dropped: str | None = None  # why the connection ended, when we did not end it

    def count(self, event: str) -> None:
        self.received[event] = self.received.get(event, 0) + 1


class Generator:
    def __init__(self, conn):
        self.conn = conn
        self.clients: list[Client] = []
        self.http = None
        self.base = ""
        self.code = ""

    # --- plumbing -----------------------------------------------------------------------------

    async def serve(self) -> None:
        import aiohttp

        loop = asyncio.get_running_loop()
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        # One HTTP session for every client: a dummy cookie jar, so no cookie leaks between
        # clients; each sends its own Cookie header.
        self.http = aiohttp.ClientSession(connector=connector,
                                          cookie_jar=aiohttp.DummyCookieJar())
        try:
            while True:
                command = await loop.run_in_executor(None, self.conn.recv)
                name = command.get("cmd")
                if name == "close":
                    await self.close(command.get("timeout", 20))
                    self.conn.send({"cpu": cpu_seconds()})
                    return
                handler = getattr(self, "cmd_" + name)
                try:
                    reply = await handler(command)
                except Exception as error:  # reported, never swallowed
                    reply = {"fatal": f"{type(error).__name__}: {error}"}
                reply["cpu"] = cpu_seconds()
                reply["now"] = time.monotonic()
                self.conn.send(reply)
        finally:
            await self.http.close()

    def _client_factory(self, client: Client):
        import socketio

        sio = socketio.AsyncClient(
            reconnection=False, handle_sigint=False, http_session=self.http,
            request_timeout=30,
            websocket_extra_options={"headers": {"Cookie": client.cookie}},
        )

        async def on_snapshot(data):
            client.count("snapshot")
            if client.snapshot_at is None:
                client.snapshot_at = time.monotonic()
                client.snapshot_event.set()

        async def on_phase(data):
            client.count("phase")
            phase = (data or {}).get("phase")
            if phase and phase not in client.phase_at:
                client.phase_at[phase] = time.monotonic()

        async def on_tally(data):
            client.count("tally")
            client.tallies += 1
            dots = data.get("dots") if isinstance(data, dict) else None
            if dots is not None and dots != client.tally_dots:
                client.tally_dots = dots
                client.tally_dots_at = time.monotonic()

        async def on_other(event, data=None):
            client.count(event)

        async def on_disconnect(reason=None):
            # python-socketio says why: the server ended it, or the transport failed (a ping
            # not answered in time: a saturated server or generator).
            client.connected = False
            client.dropped = str(reason or "unknown")

        sio.on("snapshot", on_snapshot, namespace=NS)
        sio.on("phase", on_phase, namespace=NS)
        sio.on("tally", on_tally, namespace=NS)
        sio.on("*", on_other, namespace=NS)
        sio.on("disconnect", on_disconnect, namespace=NS)
        return sio

    # --- commands -----------------------------------------------------------------------------

    async def cmd_connect(self, command: dict) -> dict:
        """Join and connect `count` clients, at most `concurrency` at a time."""
        self.base, self.code = command["base"], command["code"]
        timeout = command["timeout"]
        semaphore = asyncio.Semaphore(command["concurrency"])
        first = command["first_index"]
        self.clients = [Client(first + i) for i in range(command["count"])]
        joins: list[float] = []
        connects: list[float] = []
        errors: list[str] = []

        async def one(client: Client) -> None:
            async with semaphore:
                t0 = time.monotonic()
                try:
                    client.cookie = await join_through_api(
                        self.http, self.base, self.code, client.index, client.lb, timeout)
                    t1 = time.monotonic()
                    joins.append(t1 - t0)
                    client.sio = self._client_factory(client)
                    await client.sio.connect(self.base, namespaces=[NS],
                                             auth={"workshop": self.code},
                                             transports=["websocket"], wait_timeout=timeout)
                    await asyncio.wait_for(client.snapshot_event.wait(), timeout)
                    client.connected = True
                    connects.append(client.snapshot_at - t1)
                except Exception as error:  # counted as an error of this run
                    client.error = f"{type(error).__name__}: {error}"[:300]
                    errors.append(client.error)

        t_start = time.monotonic()
        await asyncio.gather(*(one(c) for c in self.clients))
        return {"joins": joins, "connects": connects, "errors": errors,
                "started": t_start, "finished": time.monotonic(),
                "connected": sum(1 for c in self.clients if c.connected)}

    async def cmd_wait_phase(self, command: dict) -> dict:
        phase, deadline = command["phase"], time.monotonic() + command["timeout"]
        live = [c for c in self.clients if c.connected or c.phase_at.get(phase)]
        while time.monotonic() < deadline:
            if all(phase in c.phase_at for c in live):
                break
            await asyncio.sleep(0.02)
        times = [c.phase_at[phase] for c in live if phase in c.phase_at]
        return {"times": times, "missing": len(live) - len(times)}

    async def cmd_propose(self, command: dict) -> dict:
        """The first `count` clients here each propose once, at a random moment in the window."""
        rng = random.Random(command["seed"])
        start, window, timeout = command["start_at"], command["window"], command["timeout"]
        proposers = [c for c in self.clients if c.connected][: command["count"]]
        acks: list[float] = []
        ids: list[int] = []
        errors: list[str] = []
        lost = 0

        async def one(client: Client) -> None:
            nonlocal lost
            await _sleep_until(start + rng.uniform(0, window))
            t0 = time.monotonic()
            payload = {"title": f"Forslag fra deltager {client.index}",
                       "body": "Et forslag sendt af belastningstesten. " * 4,
                       "element_id": command["element_id"], "client_id": uuid.uuid4().hex}
            try:
                ack = await client.sio.call("propose", payload, namespace=NS, timeout=timeout)
            except ack_timeouts():
                lost += 1
                return
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}"[:300])
                return
            acks.append(time.monotonic() - t0)
            if ack and ack.get("ok"):
                ids.append(ack["proposal"]["id"])
            else:
                errors.append(f"propose refused: {ack}"[:300])

        await asyncio.gather(*(one(c) for c in proposers))
        return {"acks": acks, "ids": ids, "errors": errors, "lost": lost}

    async def cmd_vote(self, command: dict) -> dict:
        """Every connected client places all its dots: one `vote` per dot, each acked.

        A client's votes go out at sorted uniform random moments in [start, start + window],
        one after the other (a person waits for the ack before the next tap). Each vote sets
        one more dot on one proposal, so each accepted vote adds exactly one dot to one
        proposal's total: the orchestrator relies on that for vote-to-screen latency.
        """
        rng = random.Random(command["seed"])
        proposals = command["proposal_ids"]
        dots, cap = command["dots"], command["max_per_proposal"]
        start, window, timeout = command["start_at"], command["window"], command["timeout"]
        records: list[tuple] = []  # (proposal_id, sent, acked or None, ok, error code, lag)
        errors: list[str] = []

        def plan() -> list[tuple[int, int]]:
            given: dict[int, int] = {}
            steps = []
            for _ in range(dots):
                open_ = [p for p in proposals if given.get(p, 0) < cap]
                if not open_:
                    break
                # Prefer a proposal not yet chosen, as people spread their dots.
                fresh = [p for p in open_ if p not in given] or open_
                pid = rng.choice(fresh)
                given[pid] = given.get(pid, 0) + 1
                steps.append((pid, given[pid]))
            return steps

        async def one(client: Client, steps, moments) -> None:
            for (pid, value), moment in zip(steps, moments, strict=True):
                # Lag: how late the loop woke up against the moment this vote was due (its
                # schedule, or the previous ack if that came later): the generator's own delay.
                due = max(start + moment, time.monotonic())
                await _sleep_until(due)
                t0 = time.monotonic()
                lag = t0 - due
                if not client.connected:
                    records.append((pid, t0, None, False, "disconnected", lag))
                    continue
                try:
                    ack = await client.sio.call("vote", {"proposal_id": pid, "dots": value},
                                                namespace=NS, timeout=timeout)
                except ack_timeouts():
                    records.append((pid, t0, None, False, "lost", lag))
                    continue
                except Exception as error:
                    errors.append(f"{type(error).__name__}: {error}"[:300])
                    records.append((pid, t0, None, False, "exception", lag))
                    continue
                t1 = time.monotonic()
                if ack and ack.get("ok"):
                    records.append((pid, t0, t1, True, None, lag))
                else:
                    code = ((ack or {}).get("error") or {}).get("code", "unknown")
                    records.append((pid, t0, t1, False, code, lag))

        tasks = []
        for client in self.clients:
            if not client.connected:
                continue
            steps = plan()
            moments = sorted(rng.uniform(0, window) for _ in steps)
            tasks.append(one(client, steps, moments))
        await asyncio.gather(*tasks)
        return {"records": records, "errors": errors}

    async def cmd_report(self, command: dict) -> dict:
        received: dict[str, int] = {}
        for client in self.clients:
            for event, n in client.received.items():
                received[event] = received.get(event, 0) + n
        return {
            "received": received,
            "tally_dots": [c.tally_dots for c in self.clients if c.sio is not None],
            "tally_dots_at": [c.tally_dots_at for c in self.clients if c.sio is not None],
            "still_connected": sum(1 for c in self.clients if c.connected),
            "dropped": dict(Counter(c.dropped for c in self.clients
                                    if not c.connected and c.dropped)),
            "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }

    async def close(self, timeout: float) -> None:
        clients = [c for c in self.clients if c.sio is not None]

        async def one(client: Client) -> None:
            try:
                await asyncio.wait_for(client.sio.disconnect(), 5)
            except Exception:  # closing anyway
                pass

        try:
            await asyncio.wait_for(asyncio.gather(*(one(c) for c in clients)), timeout)
        except TimeoutError:
            pass


def _timeout(seconds: float):
    import aiohttp

    return aiohttp.ClientTimeout(total=seconds)


def cookie_header(response_headers) -> str:
    """The cookies a response set, as one Cookie header to send back."""
    jar = SimpleCookie()
    for header in response_headers.getall("Set-Cookie", []):
        jar.load(header)
    return "; ".join(f"{k}={m.value}" for k, m in jar.items())


async def join_through_api(http, base: str, code: str, index: int, lb: str,
                           timeout: float) -> str:
    """Join as simulated person `index` (its sticky `samskab_lb` cookie sent along) through
    `POST /api/v1/workshops/<code>/participants`; the Cookie header for its socket."""
    async with http.post(
        f"{base}/api/v1/workshops/{code}/participants",
        json={"display_name": f"Deltager {index}", "consent": True,
              "organisation": f"Forening {index % 40}"},
        headers={"Cookie": f"samskab_lb={lb}"}, timeout=_timeout(timeout),
    ) as response:
        body = await response.text()
        if response.status != 201:
            raise RuntimeError(f"join answered {response.status}: {body[:200]}")
        return "; ".join(filter(None, [cookie_header(response.headers), f"samskab_lb={lb}"]))


async def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def main(conn) -> None:
    """The entry point of one load-generator process (multiprocessing target)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator handles Ctrl+C and stops us
    asyncio.run(Generator(conn).serve())


class Screen:
    """A facilitator or presenter screen in the orchestrator's process: it records every
    tally (arrival time and dots per proposal) and every phase it receives."""

    def __init__(self, http, cookie: str, auth: dict):
        import socketio

        self.auth = auth
        self.snapshot: dict | None = None
        self.snapshot_event = asyncio.Event()
        self.tallies: list[tuple[float, dict[int, int], int]] = []
        self.phase_at: dict[str, float] = {}
        self.received: dict[str, int] = {}
        self.sio = socketio.AsyncClient(
            reconnection=False, handle_sigint=False, http_session=http, request_timeout=30,
            websocket_extra_options={"headers": {"Cookie": cookie}})

        async def on_snapshot(data):
            self._count("snapshot")
            if self.snapshot is None:
                self.snapshot = data
                self.snapshot_event.set()

        async def on_tally(data):
            self._count("tally")
            if isinstance(data, dict):
                self.tallies.append((time.monotonic(),
                                     {row["id"]: row["dots"] for row in data.get("rows", [])},
                                     data.get("dots", 0)))

        async def on_phase(data):
            self._count("phase")
            phase = (data or {}).get("phase")
            if phase and phase not in self.phase_at:
                self.phase_at[phase] = time.monotonic()

        async def on_other(event, data=None):
            self._count(event)

        self.sio.on("snapshot", on_snapshot, namespace=NS)
        self.sio.on("tally", on_tally, namespace=NS)
        self.sio.on("phase", on_phase, namespace=NS)
        self.sio.on("*", on_other, namespace=NS)

    def _count(self, event: str) -> None:
        self.received[event] = self.received.get(event, 0) + 1

    async def connect(self, base: str, timeout: float) -> Screen:
        await self.sio.connect(base, namespaces=[NS], auth=self.auth, transports=["websocket"],
                               wait_timeout=timeout)
        await asyncio.wait_for(self.snapshot_event.wait(), timeout)
        return self

    def total_dots(self) -> int:
        return self.tallies[-1][2] if self.tallies else 0

    async def call(self, event: str, payload: dict, timeout: float) -> dict:
        return await self.sio.call(event, payload, namespace=NS, timeout=timeout)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.sio.disconnect(), 5)
        except Exception:  # closing anyway
            pass
