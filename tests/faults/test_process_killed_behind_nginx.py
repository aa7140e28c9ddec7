"""Two server processes joined by Redis behind nginx (sticky by a cookie, as
docs/deployment.md describes); one is SIGKILLed in the middle of a voting burst and not
started again. Its clients reconnect through nginx to the other and carry on; every
acknowledged vote is counted once; tallies keep reaching every screen, including those that
had to move (issue 7)."""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import REDIS_URL, require_service
from tests.faults.harness import Crowd, RestartableServer, Voter
from tests.faults.test_server_killed import BUDGET, plan_for, prepare
from tests.faults.test_services_restarted import Console, assert_every_ack_counted
from tests.server import fresh_postgres_database

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.filterwarnings("ignore:Unclosed:ResourceWarning"),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]

VOTERS = 80
SCREENS = 4  # facilitator screens: two on each process


@dataclass
class Front:
    """What prepare() needs: where clients go (nginx) and the app's environment."""

    url: str
    env: dict[str, str]


@pytest.fixture
def nginx_binary():
    try:
        from bench.servers import nginx_binary as find

        return find()
    except Exception as error:  # noqa: BLE001 - BenchError with the install hint
        require_service(False, str(error).splitlines()[0] + " (apt-get install -y nginx)")


def upstream_of(front: str, lb: str) -> str:
    """The process nginx sends a client with this sticky cookie to."""
    answer = requests.get(front + "/healthz", cookies={"samskab_lb": lb}, timeout=5)
    return answer.headers["X-Samskab-Upstream"]


def test_a_killed_process_behind_nginx_hands_its_clients_to_the_other(
        nginx_binary, postgres_database):
    from bench.servers import Nginx

    redis_ok = True
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception:  # noqa: BLE001
        redis_ok = False
    require_service(redis_ok, f"Redis not reachable at {REDIS_URL}")

    shared = {"REDIS_URL": REDIS_URL, "SOCKETIO_CHANNEL": f"samskab-nginx-{uuid.uuid4().hex[:8]}",
              "SECRET_KEY": uuid.uuid4().hex}
    with fresh_postgres_database(postgres_database) as url, \
            tempfile.TemporaryDirectory(prefix="samskab-nginx-") as workdir:
        servers = [RestartableServer(url, **shared) for _ in range(2)]
        with Nginx(Path(workdir), [s.port for s in servers]) as nginx:
            front_url = f"http://127.0.0.1:{nginx.port}"
            consoles = []
            try:
                for server in servers:
                    server.env["PUBLIC_URL"] = front_url  # one public address, as deployed
                    server.start()
                staff, code, proposals, cookies = prepare(Front(front_url, servers[0].env),
                                                          VOTERS)
                staff_cookie = "; ".join(f"{k}={v}"
                                         for k, v in staff.cookies.get_dict().items())

                # Sticky cookies for every client; the screens are placed two on each process.
                by_process: dict[str, list[str]] = {}
                while min((len(v) for v in by_process.values()), default=0) < SCREENS // 2 \
                        or len(by_process) < 2:
                    lb = uuid.uuid4().hex
                    by_process.setdefault(upstream_of(front_url, lb), []).append(lb)
                doomed_addr, survivor_addr = sorted(by_process)
                screen_lbs = {addr: lbs[:SCREENS // 2] for addr, lbs in by_process.items()}
                for addr in (doomed_addr, survivor_addr):
                    for lb in screen_lbs[addr]:
                        consoles.append((addr, Console(
                            front_url, code, f"{staff_cookie}; samskab_lb={lb}")))

                rng = random.Random(17)
                voters = [Voter(f"{cookie}; samskab_lb={uuid.uuid4().hex}",
                                plan_for(rng, proposals)) for cookie in cookies]
                doomed_voters = [v for v in voters
                                 if upstream_of(front_url, v.cookie.rsplit("=", 1)[1])
                                 == doomed_addr]
                on_doomed = len(doomed_voters)
                assert 0 < on_doomed < VOTERS  # both processes have participants

                crowd = Crowd(front_url, code, voters, pause_s=0.2).start()
                total = sum(len(v.plan) for v in voters)
                deadline = time.monotonic() + 60
                while crowd.acked < total * 0.4 and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert crowd.acked < total, "the burst ended before the kill: nothing was tested"
                doomed = next(s for s in servers if doomed_addr.endswith(f":{s.port}"))
                doomed.kill()
                killed_at = time.monotonic()
                # An ack the dead process sent just before the kill may still be on its way
                # into the crowd's thread; counted as cut off, a voter whose last ack it was
                # would finish without reconnecting. Nothing new comes from a dead process.
                time.sleep(0.5)
                cut_off = [v for v in doomed_voters if len(v.acks) < len(v.plan)]
                crowd.join(timeout=300, diagnose=lambda: "\n".join(
                    s.diagnosis(url) for s in servers if s is not doomed))
                crowd.assert_few_reloads()

                assert_every_ack_counted(voters, url)
                # Those cut off mid-plan reconnected (a snapshot on every connect) and finished.
                # One whose last ack was still on its way from the dead process when they were
                # counted (on a slow machine the crowd's thread can lag the 0.5 s above) had
                # nothing left to send: it finished without reconnecting, its plan complete
                # within moments of the kill.
                assert cut_off
                in_flight = [v for v in cut_off if v.snapshots < 2]
                assert len(in_flight) < len(cut_off)
                assert all(len(v.acks) == len(v.plan) and v.acked_at[-1] < killed_at + 3
                           for v in in_flight), [(v.snapshots, len(v.acks),
                                                  v.acked_at[-1] - killed_at) for v in in_flight]
                # Every screen, the two that moved included, ends with the final total in a
                # tally received after the kill (a limit on waiting, not on speed).
                wait = time.monotonic() + 30
                while time.monotonic() < wait and any(
                        c.total_after(killed_at) != BUDGET * VOTERS for _a, c in consoles):
                    time.sleep(0.2)
                for addr, console in consoles:
                    assert console.total_after(killed_at) == BUDGET * VOTERS, (addr, doomed_addr)
                    assert console.client.connected
                results = staff.get(f"{front_url}/api/v1/workshops/{code}/results").json()
                assert sum(row["dots"] for row in results["ranking"]) == BUDGET * VOTERS
                print(f"\n{len(cut_off)} of {VOTERS} participants were cut off mid-plan and "
                      "finished on the surviving process")
            finally:
                for _addr, console in consoles:
                    console.client.disconnect()
                for server in servers:
                    server.close()
