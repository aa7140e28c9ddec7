"""Redis and PostgreSQL restarted in the middle of a voting burst (issue 7).

These stop and start the machine's own services (as root, with the commands the machine
documents), so they run last in the suite and always start the service again."""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest
import redis
import socketio
from sqlalchemy import create_engine, text

from tests.conftest import REDIS_URL, require_service
from tests.faults.harness import (
    Crowd,
    RestartableServer,
    Voter,
    can_control_services,
    restart_postgres,
    start_redis,
    stop_redis,
)
from tests.faults.test_server_killed import BUDGET, plan_for, prepare
from tests.server import fresh_postgres_database

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis,
              # aiohttp may report a websocket of a killed or cut connection as unclosed
              # when the garbage collector finds it: not a fault of the app.
              pytest.mark.filterwarnings("ignore:Unclosed:ResourceWarning"),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]

VOTERS = 60


@pytest.fixture
def services():
    require_service(can_control_services(),
                    "stopping and starting Redis and PostgreSQL needs root and their commands")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        require_service(False, f"Redis not reachable at {REDIS_URL}: {error}")


def database_state(url: str) -> tuple[dict[int, dict[str, int]], list]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT participant_id, proposal_id, dots FROM dot_vote")).all()
        over = conn.execute(text("SELECT participant_id FROM dot_vote GROUP BY participant_id "
                                 f"HAVING SUM(dots) > {BUDGET}")).all()
    engine.dispose()
    state: dict[int, dict[str, int]] = {}
    for participant_id, proposal_id, dots in rows:
        state.setdefault(participant_id, {})[str(proposal_id)] = dots
    return state, over


def assert_every_ack_counted(voters: list[Voter], url: str) -> None:
    state, over = database_state(url)
    assert over == []
    for voter in voters:
        assert voter.errors == []
        expected: dict[str, int] = {}
        for proposal_id, dots in voter.plan:
            expected[str(proposal_id)] = dots
        assert voter.final["allocations"] == expected
        assert state.get(voter.final["id"]) == expected  # this participant's, in the database
    assert len(state) == len(voters)


class Console:
    """The facilitator's screen: records every tally it receives (alone or in a snapshot), with
    the time, and every request to resync."""

    def __init__(self, base: str, code: str, cookie: str):
        self.tallies: list[tuple[float, int]] = []
        self.resyncs: list[float] = []
        self.lock = threading.Lock()
        self.client = socketio.Client(reconnection=True, reconnection_delay=0.2)

        @self.client.on("tally", namespace="/live")
        def on_tally(data):
            if data:
                with self.lock:
                    self.tallies.append((time.monotonic(), data["dots"]))

        @self.client.on("snapshot", namespace="/live")
        def on_snapshot(data):  # a (re)connect: the snapshot holds the facilitator's tally
            if data and data.get("tally"):
                with self.lock:
                    self.tallies.append((time.monotonic(), data["tally"]["dots"]))

        @self.client.on("resync", namespace="/live")
        def on_resync(data):
            with self.lock:
                self.resyncs.append(time.monotonic())

        self.client.connect(base, namespaces=["/live"], headers={"Cookie": cookie},
                            auth={"workshop": code, "role": "facilitator"},
                            transports=["websocket"], wait_timeout=10)

    def total_after(self, moment: float) -> int | None:
        with self.lock:
            later = [dots for at, dots in self.tallies if at > moment]
        return later[-1] if later else None

    def first_tally_after(self, moment: float) -> float | None:
        with self.lock:
            later = [at for at, _dots in self.tallies if at > moment]
        return later[0] if later else None


def test_redis_restarted_during_a_burst(services, postgres_database):
    """Two processes joined by Redis: the participants vote on one, the facilitator's screen
    is on the other, so every tally it sees crossed Redis. Redis goes away mid-burst and
    returns: votes are taken and acknowledged throughout, and the screen on the other process
    ends with the final total, whether or not any vote came after Redis returned (the
    process resyncs its screens once its listener is back)."""
    shared = {"REDIS_URL": REDIS_URL, "SOCKETIO_CHANNEL": f"samskab-fault-{uuid.uuid4().hex[:8]}",
              "SECRET_KEY": uuid.uuid4().hex}  # one app: the staff login works on both
    with fresh_postgres_database(postgres_database) as url:
        voting = RestartableServer(url, **shared).start()
        watching = RestartableServer(url, **shared).start()
        console = None
        try:
            staff, code, proposals, cookies = prepare(voting, VOTERS)
            staff_cookie = "; ".join(f"{k}={v}" for k, v in staff.cookies.get_dict().items())
            console = Console(watching.url, code, staff_cookie)
            rng = random.Random(5)
            voters = [Voter(cookie, plan_for(rng, proposals)) for cookie in cookies]
            crowd = Crowd(voting.url, code, voters, pause_s=0.3).start()
            total = sum(len(v.plan) for v in voters)
            while crowd.acked < total * 0.3:
                time.sleep(0.02)
            stop_redis()
            try:
                before = crowd.acked
                time.sleep(2.0)
                # Votes are still taken and acknowledged while Redis is gone.
                assert crowd.acked > before
            finally:
                start_redis()
            back = time.monotonic()
            crowd.join(timeout=300, diagnose=lambda: voting.diagnosis(url))
            crowd.assert_few_reloads()
            assert_every_ack_counted(voters, url)
            # Broadcasting resumed: the screen on the other process sees the final total in a
            # tally after Redis came back (within the wait below: a limit, not an assertion on
            # speed), and was asked to resync.
            deadline = time.monotonic() + 30
            while console.total_after(back) != BUDGET * VOTERS and time.monotonic() < deadline:
                time.sleep(0.2)
            assert console.total_after(back) == BUDGET * VOTERS, (
                f"tallies after Redis returned: {console.tallies[-5:]}\n"
                f"{watching.read_log()[-3000:]}")
            assert any(at > back - 0.5 for at in console.resyncs)
            first = console.first_tally_after(back)
            print(f"\nfirst tally on the other process {first - back:.2f} s after Redis returned")
        finally:
            if console is not None:
                console.client.disconnect()
            voting.close()
            watching.close()


def test_postgres_restarted_during_a_burst(services, postgres_database):
    with fresh_postgres_database(postgres_database) as url:
        server = RestartableServer(url).start()
        try:
            staff, code, proposals, cookies = prepare(server, VOTERS)
            rng = random.Random(9)
            voters = [Voter(cookie, plan_for(rng, proposals)) for cookie in cookies]
            crowd = Crowd(server.url, code, voters, pause_s=0.3).start()
            total = sum(len(v.plan) for v in voters)
            while crowd.acked < total * 0.3:
                time.sleep(0.02)
            restart_postgres(down_s=2.0)
            crowd.join(timeout=300, diagnose=lambda: server.diagnosis(url))
            crowd.assert_few_reloads()
            # While it was down, actions were refused clearly ("unavailable") and resent.
            assert sum(len(v.refusals) for v in voters) > 0
            assert all(r["error"]["message"] for v in voters for r in v.refusals)
            assert_every_ack_counted(voters, url)
            # The app recovered by itself: no restart, and it answers as before.
            assert staff.get(f"{server.url}/readyz").status_code == 200
            results = staff.get(f"{server.url}/api/v1/workshops/{code}/results").json()
            assert sum(row["dots"] for row in results["ranking"]) == BUDGET * VOTERS
        finally:
            server.close()
