"""The load generator: many python-socketio clients on asyncio, in one process of several.

`run.py` starts a few of these processes (multiprocessing, spawn) and drives them over a pipe
with small commands; each command is answered with one reply (a dict) when it is done:

    {"cmd": "connect", ...}      join by the API (cookie), connect to /live, wait for the snapshot
    {"cmd": "wait_phase", ...}   wait until every client here has received `phase` == X
    {"cmd": "propose", ...}      a share of the clients send `propose` (acked)
    {"cmd": "vote", ...}         every client places all its dots, spread over a window (acked)
    {"cmd": "recover", ...}      after a server restart: when each client is back and answered
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

import socketio


class BrowserLikeClient(socketio.AsyncClient):
    """python-socketio's client, as patient as the browser's socket.io-client.

    With the server: its own reconnection calls `connect()` without `wait_timeout`, so it gives
    up on a namespace after 1 s. After a restart with 1,000 clients every reconnection gave up
    while the busy server was still admitting it, and came back to be admitted again; in 60 s
    not one got in, with the server at 100 % (bench/recovery.py). Browsers wait 20 s
    (socket.io-client's `timeout`).

    With a quiet connection: the browser gives up when no ping has come for the server's
    pingInterval + pingTimeout (40 s here); python-engineio's client when it has had nothing
    to *send* for max(pingInterval, pingTimeout) + 5 s (25 s), and its answer to a ping is its
    only traffic on a quiet connection, so a ping 5 s late drops it. In the 2,000-participant
    runs every dropped connection was that (one "packet queue is empty, aborting" line each,
    app and bare server alike, 25-27 s after the first clients connected, while the server
    sent the proposal burst). Set at engine.io's connect, before its write loop starts, on
    every (re)connection: the handshake sets the timeouts afresh."""

    async def connect(self, *args, wait_timeout: float = 20, **kwargs):
        return await super().connect(*args, wait_timeout=wait_timeout, **kwargs)

    async def _handle_eio_connect(self):
        eio = self.eio
        if eio.ping_interval and eio.ping_timeout:
            # The write loop waits max(interval, timeout) + 5: make it interval + timeout.
            eio.ping_timeout = eio.ping_interval + eio.ping_timeout - 5
        await super()._handle_eio_connect()


def ack_timeouts() -> tuple[type[BaseException], ...]:
    """What a call whose ack never came raises: python-socketio's own TimeoutError (not the
    builtin one, which an asyncio timeout raises). Both count as a lost ack, not an error."""
    return (TimeoutError, socketio.exceptions.TimeoutError)


NS = "/live"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Client:
    """One simulated participant: a cookie from the join, one Socket.IO connection."""

    __slots__ = ("index", "lb", "cookie", "sio", "snapshot_at", "snapshot_event", "phase_at",
                 "tallies", "tally_dots", "tally_dots_at", "received", "connected", "error",
                 "dropped", "dropped_at", "last_snapshot_at")

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
        self.dropped_at: float | None = None
        self.last_snapshot_at: float | None = None  # every (re)connection sends one

    def count(self, event: str) -> None:
        self.received[event] = self.received.get(event, 0) + 1


class Generator:
    def __init__(self, conn):
        self.conn = conn
        self.clients: list[Client] = []
        self.http = None
        self.base = ""
        self.code = ""
        self.connect_started = time.monotonic()  # reset by cmd_connect
        self.own_sessions: list = []  # reconnecting clients' HTTP sessions (cookie jars)
        self.lag_max, self.lag_at = 0.0, None

    # --- plumbing -----------------------------------------------------------------------------

    async def serve(self) -> None:
        import aiohttp

        loop = asyncio.get_running_loop()
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        # One HTTP session for every client: a dummy cookie jar, so no cookie leaks between
        # clients; each sends its own Cookie header.
        self.http = aiohttp.ClientSession(connector=connector,
                                          cookie_jar=aiohttp.DummyCookieJar())
        lag_watch = asyncio.create_task(self._watch_lag())
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
            lag_watch.cancel()
            await self.http.close()

    async def _watch_lag(self) -> None:
        """How late this process's event loop runs (a saturated generator answers the
        server's pings late): the worst lateness of a 100 ms sleep, and when it was."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.1)
            late = time.monotonic() - before - 0.1
            if late > self.lag_max:
                self.lag_max, self.lag_at = late, time.monotonic()

    def _client_factory(self, client: Client, reconnect: bool = False):
        # reconnect: as the browser's socket.io client does (static/js/live.js): 1 s doubling
        # to 5 s, give or take half. Otherwise a dropped client stays dropped (an error).
        if reconnect:
            # A cookie jar of its own, as a phone's browser has: python-engineio sends a
            # websocket_extra_options header only on the first connection (it pops it), so a
            # reconnection would arrive without the participant's cookie.
            import aiohttp

            http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            http.cookie_jar.update_cookies(
                {k: m.value for k, m in SimpleCookie(client.cookie).items()})
            self.own_sessions.append(http)
            options = {}
        else:
            http = self.http
            options = {"websocket_extra_options": {"headers": {"Cookie": client.cookie}}}
        sio = BrowserLikeClient(
            reconnection=reconnect, reconnection_delay=1, reconnection_delay_max=5,
            randomization_factor=0.5, handle_sigint=False, http_session=http,
            request_timeout=30, **options)

        async def on_snapshot(data):
            client.count("snapshot")
            client.last_snapshot_at = time.monotonic()
            client.connected = True
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
            client.dropped, client.dropped_at = str(reason or "unknown"), time.monotonic()

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
                    client.sio = self._client_factory(client, command.get("reconnect", False))
                    await client.sio.connect(self.base, namespaces=[NS],
                                             auth={"workshop": self.code},
                                             transports=["websocket"], wait_timeout=timeout)
                    await asyncio.wait_for(client.snapshot_event.wait(), timeout)
                    client.connected = True
                    connects.append(client.snapshot_at - t1)
                except Exception as error:  # counted as an error of this run
                    client.error = f"{type(error).__name__}: {error}"[:300]
                    errors.append(client.error)

        t_start = self.connect_started = time.monotonic()
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

    async def cmd_recover(self, command: dict) -> dict:
        """After the server was killed at `killed` (monotonic, this machine's clock): how long
        each client took to be back (a snapshot from the new server) and to be answered, in
        seconds after `back`, the moment the restarted server answered HTTP.

        Answered: as the browser (static/js/live.js) resends an action that was not
        acknowledged when it is back, each client sends one `own` (as cheap as a resent vote)
        and waits `ack_timeout` (the browser's 8 s) for the ack; without one it keeps the
        action and sends it again only after its next reconnection, never in a loop."""
        killed, back, deadline = command["killed"], command["back"], command["deadline"]
        ack_timeout = command["ack_timeout"]
        returned: list[float] = []
        answered: list[float] = []
        resends = 0
        never: dict[str, int] = {}

        def note(why: str) -> None:
            never[why] = never.get(why, 0) + 1

        async def one(client: Client) -> None:
            nonlocal resends
            while time.monotonic() < deadline:
                if (client.last_snapshot_at or 0) > killed and client.sio.connected:
                    break
                await asyncio.sleep(0.05)
            else:
                note(f"not back (socket.io connected: {client.sio.connected}, engine.io "
                     f"{client.sio.eio.state}, snapshot since the kill: "
                     f"{(client.last_snapshot_at or 0) > killed})")
                return
            returned.append(client.last_snapshot_at - back)
            attempts = 0
            while time.monotonic() < deadline:
                came_back, ack = client.last_snapshot_at, None
                if client.sio.connected:
                    attempts += 1
                    try:
                        ack = await client.sio.call("own", {}, namespace=NS,
                                                    timeout=ack_timeout)
                    except Exception:  # noqa: BLE001 - no answer: kept for the next reconnection
                        ack = None
                    if ack and ack.get("ok"):
                        answered.append(time.monotonic() - back)
                        resends += attempts - 1
                        return
                    if ack:  # refused (the database is busy): the browser resends it
                        await asyncio.sleep(1.0)
                        continue
                # Not answered (or not connected): sent again once the client is back again.
                while time.monotonic() < deadline and client.last_snapshot_at == came_back:
                    await asyncio.sleep(0.1)
            resends += max(0, attempts - 1)
            note("not answered")

        await asyncio.gather(*(one(c) for c in self.clients if c.sio is not None))
        return {"returned": returned, "answered": answered, "resends": resends,
                "never": never}

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
            "loop_lag_max_s": self.lag_max,
            # When connections dropped and the loop was latest, in seconds after the connects
            # began (to set beside the phases).
            "loop_lag_max_after_s": (None if self.lag_at is None
                                     else self.lag_at - self.connect_started),
            "dropped_after_s": sorted(round(c.dropped_at - self.connect_started, 1)
                                      for c in self.clients if c.dropped_at),
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
        for http in self.own_sessions:
            await http.close()


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
        self.auth = auth
        self.snapshot: dict | None = None
        self.snapshot_event = asyncio.Event()
        self.tallies: list[tuple[float, dict[int, int], int]] = []
        self.phase_at: dict[str, float] = {}
        self.received: dict[str, int] = {}
        self.sio = BrowserLikeClient(
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
