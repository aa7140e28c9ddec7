"""The live protocol against the real server (gunicorn, gevent worker) with python-socketio
clients over WebSocket: snapshots, phase changes, a reconnect in the middle of a vote burst,
and two server processes joined by Redis."""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import redis
import requests
import socketio

from tests.conftest import REDIS_URL, require_service
from tests.server import fresh_postgres_database, running_server

NS = "/live"
PASSWORD = "correct-horse"
WAIT_S = 15.0  # how long a test waits for an expected message: a limit, not an assertion


@pytest.fixture
def redis_url():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        require_service(False, f"Redis not reachable at {REDIS_URL}: {error}")
    return REDIS_URL


class Screen:
    """One python-socketio client that records what it receives."""

    def __init__(self, base: str, code: str, cookies: dict | None = None, **auth):
        self.base, self.code = base, code
        self.client = socketio.Client(reconnection=True, reconnection_delay=0.2,
                                      reconnection_delay_max=1)
        self.events: list[tuple[str, object]] = []
        self.snapshots: list[dict] = []
        self.lock = threading.Lock()
        self.cookie = "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())
        self.auth = {"workshop": code, **auth}

        @self.client.on("*", namespace=NS)
        def any_event(event, data=None):
            with self.lock:
                self.events.append((event, data))
                if event == "snapshot":
                    self.snapshots.append(data)

    def connect(self):
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self.client.connect(self.base, namespaces=[NS], auth=self.auth, headers=headers,
                            transports=["websocket"], wait_timeout=10)
        return self

    def call(self, event, payload, timeout=10):
        return self.client.call(event, payload, namespace=NS, timeout=timeout)

    def received(self, name):
        with self.lock:
            return [data for event, data in self.events if event == name]

    def wait_for(self, predicate, what: str):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def close(self):
        if self.client.connected:
            self.client.disconnect()


def make_staff(server, role: str = "facilitator"):
    """A staff account made with the CLI, logged in through the API (its session)."""
    from tests.server import flask

    email = f"{role[:3]}-{uuid.uuid4().hex[:6]}@region.dk"
    made = flask(server.env, "users", "create", email, "--password", PASSWORD,
                 "--role", role)
    assert made.returncode == 0, made.stderr
    session = requests.Session()
    assert session.post(server.url + "/api/v1/auth/login",
                        json={"email": email, "password": PASSWORD}).status_code == 200
    return session


def join(base: str, code: str, name: str, organisation=None) -> requests.Session:
    session = requests.Session()
    response = session.post(f"{base}/api/v1/workshops/{code}/participants",
                            json={"display_name": name, "organisation": organisation,
                                  "consent": True})
    assert response.status_code == 201, response.text
    return session


def open_workshop(base, staff, **settings):
    response = staff.post(base + "/api/v1/workshops",
                          json={"title": "Live", "settings": settings or None})
    assert response.status_code == 201, response.text
    return response.json()


def set_phase(base, staff, code, phase):
    response = staff.post(f"{base}/api/v1/workshops/{code}/phase", json={"phase": phase})
    assert response.status_code == 200, response.text


@pytest.fixture
def sqlite_server(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'live.sqlite3'}") as server:
        yield server


@pytest.mark.server
def test_phase_change_reaches_every_participant_on_the_real_server(sqlite_server):
    base = sqlite_server.url
    staff = make_staff(sqlite_server)
    code = open_workshop(base, staff)["code"]
    screens = []
    try:
        for i in range(10):
            people = join(base, code, f"P{i}")
            screens.append(Screen(base, code, people.cookies.get_dict()).connect())
        for screen in screens:
            screen.wait_for(lambda s=screen: s.snapshots, "a snapshot on connect")
            assert screen.snapshots[0]["role"] == "participant"
            assert screen.snapshots[0]["workshop"]["phase"] == "lobby"
        set_phase(base, staff, code, "ideation")
        for screen in screens:
            screen.wait_for(lambda s=screen: s.received("phase"), "the phase change")
            assert screen.received("phase")[-1]["phase"] == "ideation"
    finally:
        for screen in screens:
            screen.close()


@pytest.mark.server
def test_strangers_and_foreign_origins_are_refused_on_the_real_server(sqlite_server):
    base = sqlite_server.url
    staff = make_staff(sqlite_server)
    code = open_workshop(base, staff)["code"]
    stranger = Screen(base, code)
    refusals = []
    stranger.client.on("connect_error", refusals.append, namespace=NS)
    with pytest.raises(socketio.exceptions.ConnectionError):
        stranger.connect()
    # The reason travels as the refusal's data, as the browser client reads it (err.data).
    assert [r["data"]["code"] for r in refusals] == ["unauthenticated"]
    assert refusals[0]["message"] == refusals[0]["data"]["message"] == \
        "Deltag i workshoppen eller log ind først."
    people = join(base, code, "Anna")
    foreign = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        foreign.connect(base, namespaces=[NS], auth={"workshop": code},
                        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in
                                                     people.cookies.get_dict().items()),
                                 "Origin": "https://evil.example"},
                        transports=["websocket"], wait_timeout=5)
    participant = Screen(base, code, people.cookies.get_dict()).connect()
    try:
        ack = participant.call("set_phase", {"phase": "voting"})
        assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    finally:
        participant.close()


def _vote_with_retry(screen: Screen, proposal_id: int, dots: int) -> dict:
    """What the browser client does: resend an unacknowledged vote after reconnecting."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            if screen.client.connected:
                return screen.call("vote", {"proposal_id": proposal_id, "dots": dots}, timeout=3)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError,
                socketio.exceptions.DisconnectedError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError("a vote was never acknowledged")
        time.sleep(0.1)


@pytest.mark.server
@pytest.mark.postgres
def test_reconnect_in_the_middle_of_a_vote_burst_loses_nothing(postgres_database):
    with fresh_postgres_database(postgres_database) as url, running_server(url) as server:
        base = server.url
        staff = make_staff(server)
        code = open_workshop(base, staff)["code"]
        set_phase(base, staff, code, "ideation")
        author = join(base, code, "Forfatter")
        element = requests.get(f"{base}/api/v1/workshops/{code}").json()["elements"][0]["id"]
        proposal_ids = [
            author.post(f"{base}/api/v1/workshops/{code}/proposals",
                        json={"title": f"Forslag {i}", "element_id": element}).json()["id"]
            for i in range(4)
        ]
        set_phase(base, staff, code, "voting")
        people = [join(base, code, f"P{i}") for i in range(20)]
        screens = [Screen(base, code, p.cookies.get_dict()).connect() for p in people]
        rng = random.Random(3)
        plans = []
        for _ in screens:
            chosen = rng.sample(proposal_ids, 3)
            plans.append([(chosen[0], 2), (chosen[1], 2), (chosen[2], 1), (chosen[0], 1),
                          (chosen[2], 2)])  # ends at 1 + 2 + 2 = 5 dots

        def burst(index):
            screen = screens[index]
            acks = []
            for step, (pid, dots) in enumerate(plans[index]):
                if step == 2 and index % 2 == 0:
                    screen.client.eio.ws.close()  # the phone locks its screen mid-burst
                acks.append(_vote_with_retry(screen, pid, dots))
            return acks

        try:
            with ThreadPoolExecutor(max_workers=20) as pool:
                all_acks = list(pool.map(burst, range(len(screens))))
            for acks in all_acks:
                assert all(ack["ok"] for ack in acks), acks
                assert acks[-1]["remaining"] == 0
            for index, (screen, person) in enumerate(zip(screens, people, strict=True)):
                screen.wait_for(lambda s=screen: s.client.connected, "the reconnect")
                state = screen.call("sync", {})["snapshot"]["you"]
                server_side = person.get(f"{base}/api/v1/workshops/{code}/votes").json()
                assert state["allocations"] == server_side["allocations"]
                expected: dict[str, int] = {}
                for pid, dots in plans[index]:
                    expected[str(pid)] = dots
                assert state["allocations"] == expected
                assert state["remaining"] == 0
                if index % 2 == 0:
                    assert len(screen.snapshots) >= 2  # it got a fresh snapshot on reconnect
            results = staff.get(f"{base}/api/v1/workshops/{code}/results").json()
            assert sum(row["dots"] for row in results["ranking"]) == 5 * len(screens)
        finally:
            for screen in screens:
                screen.close()


@contextmanager
def two_processes(postgres_database: str, redis_url: str):
    """Two servers on one PostgreSQL database, joined by Redis on a channel of their own, with
    one secret key (a staff login works on both), as behind a load balancer."""
    channel = f"samskab-test-{uuid.uuid4().hex[:8]}"
    with fresh_postgres_database(postgres_database) as url, \
            running_server(url, REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel) as first, \
            running_server(url, REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel,
                           SECRET_KEY=first.env["SECRET_KEY"]) as second:
        yield first, second


@pytest.mark.server
@pytest.mark.postgres
@pytest.mark.redis
def test_a_vote_on_one_process_reaches_a_screen_on_another(postgres_database, redis_url):
    with two_processes(postgres_database, redis_url) as (first, second):
        staff = make_staff(first)
        code = open_workshop(first.url, staff)["code"]
        set_phase(first.url, staff, code, "ideation")
        anna = join(first.url, code, "Anna")
        element = requests.get(f"{first.url}/api/v1/workshops/{code}").json()["elements"][0]["id"]
        proposal = anna.post(f"{first.url}/api/v1/workshops/{code}/proposals",
                             json={"title": "Et forslag", "element_id": element}).json()
        set_phase(first.url, staff, code, "voting")
        # The facilitator's console is connected to the first process, Anna to the second.
        console = Screen(first.url, code, staff.cookies.get_dict(), role="facilitator").connect()
        phone = Screen(second.url, code, anna.cookies.get_dict()).connect()
        try:
            console.wait_for(lambda: console.snapshots, "the console's snapshot")
            assert console.snapshots[0]["role"] == "facilitator"
            ack = phone.call("vote", {"proposal_id": proposal["id"], "dots": 3})
            assert ack["ok"], ack

            def tally_has_vote():
                return any(t and t["rows"] and t["rows"][0]["dots"] == 3
                           for t in console.received("tally"))

            console.wait_for(tally_has_vote, "the tally from the other process")
            # And the other way: a phase change made on the first process reaches the second.
            set_phase(first.url, staff, code, "results")
            phone.wait_for(lambda: phone.received("phase"), "the phase from the other process")
            assert phone.received("phase")[-1]["phase"] == "results"
        finally:
            console.close()
            phone.close()


@pytest.mark.server
@pytest.mark.postgres
@pytest.mark.redis
def test_logging_out_closes_the_users_sockets_in_every_process(postgres_database, redis_url):
    """The staff console on the second process is closed when its user logs out through the
    first (a control message over the same Redis channel), not only refused at its next event."""
    with two_processes(postgres_database, redis_url) as (first, second):
        staff = make_staff(first)
        code = open_workshop(first.url, staff)["code"]
        anna = join(first.url, code, "Anna")
        console = Screen(second.url, code, staff.cookies.get_dict(), role="facilitator")
        console.client.reconnection = False  # a closed console must stay closed
        console.connect()
        phone = Screen(second.url, code, anna.cookies.get_dict()).connect()
        try:
            console.wait_for(lambda: console.snapshots, "the console's snapshot")
            assert staff.post(first.url + "/api/v1/auth/logout", json={}).status_code == 200
            console.wait_for(lambda: not console.client.connected,
                             "the console on the other process to be closed")
            assert console.received("session_ended")[-1] == {"reason": "logged_out"}
            # The participant on the same process is not affected.
            assert phone.client.connected
            assert phone.call("sync", {})["ok"] is True
        finally:
            console.close()
            phone.close()
