"""SIGKILL the only server in the middle of a voting burst, start it again: every
acknowledged vote is in the database, nobody is over budget, and every client is back in the
server's state (issue 7)."""

from __future__ import annotations

import random
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.faults.harness import Crowd, RestartableServer, Voter
from tests.server import flask, fresh_postgres_database

pytestmark = [pytest.mark.server, pytest.mark.postgres,
              # aiohttp may report a websocket of a killed or cut connection as unclosed
              # when the garbage collector finds it: not a fault of the app.
              pytest.mark.filterwarnings("ignore:Unclosed:ResourceWarning"),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]

VOTERS = 200
BUDGET = 5


def prepare(server: RestartableServer, voters: int):
    email = f"fac-{uuid.uuid4().hex[:6]}@region.dk"
    made = flask(server.env, "users", "create", email, "--password", "correct-horse",
                 "--role", "facilitator")
    assert made.returncode == 0, made.stderr
    staff = requests.Session()
    assert staff.post(server.url + "/api/v1/auth/login",
                      json={"email": email, "password": "correct-horse"}).ok
    code = staff.post(server.url + "/api/v1/workshops", json={"title": "Nedbrud"}).json()["code"]
    staff.post(f"{server.url}/api/v1/workshops/{code}/phase", json={"phase": "ideation"})
    author = requests.Session()
    author.post(f"{server.url}/api/v1/workshops/{code}/participants",
                json={"display_name": "Forfatter", "consent": True})
    element = requests.get(f"{server.url}/api/v1/workshops/{code}").json()["elements"][0]["id"]
    proposals = [author.post(f"{server.url}/api/v1/workshops/{code}/proposals",
                             json={"title": f"Forslag {i}", "element_id": element}).json()["id"]
                 for i in range(6)]
    cookies = []
    for i in range(voters):
        person = requests.Session()
        assert person.post(f"{server.url}/api/v1/workshops/{code}/participants",
                           json={"display_name": f"P{i}", "consent": True}).status_code == 201
        cookies.append("; ".join(f"{k}={v}" for k, v in person.cookies.get_dict().items()))
    staff.post(f"{server.url}/api/v1/workshops/{code}/phase", json={"phase": "voting"})
    return staff, code, proposals, cookies


def plan_for(rng: random.Random, proposals: list[int]) -> list[tuple[int, int]]:
    """Five steps that never go over budget at any moment and end on exactly five dots."""
    a, b, c = rng.sample(proposals, 3)
    return [(a, 2), (b, 2), (c, 1), (a, 1), (c, 2)]


def test_a_killed_server_loses_no_acknowledged_vote(postgres_database):
    with fresh_postgres_database(postgres_database) as url:
        server = RestartableServer(url).start()
        try:
            staff, code, proposals, cookies = prepare(server, VOTERS)
            rng = random.Random(11)
            voters = [Voter(cookie, plan_for(rng, proposals)) for cookie in cookies]
            crowd = Crowd(server.url, code, voters).start()
            total = sum(len(v.plan) for v in voters)
            deadline = time.monotonic() + 60
            while crowd.acked < total * 0.4 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert crowd.acked < total, "the burst ended before the kill: nothing was tested"
            server.kill()
            killed = time.monotonic()
            time.sleep(1.0)  # the clients find the server gone
            server.start()
            crowd.server_is_back()
            print(f"\nthe server was back {time.monotonic() - killed:.1f} s after the kill")
            crowd.join(timeout=300, diagnose=lambda: server.diagnosis(url))
            crowd.assert_few_reloads()

            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            with engine.connect() as conn:
                rows = conn.execute(text(
                    "SELECT p.id, d.proposal_id, d.dots FROM participant p "
                    "JOIN dot_vote d ON d.participant_id = p.id")).all()
                over = conn.execute(text(
                    "SELECT participant_id FROM dot_vote GROUP BY participant_id "
                    f"HAVING SUM(dots) > {BUDGET}")).all()
            engine.dispose()
            assert over == []
            in_db: dict[int, dict[str, int]] = {}
            for participant_id, proposal_id, dots in rows:
                in_db.setdefault(participant_id, {})[str(proposal_id)] = dots
            for voter in voters:
                assert voter.errors == []
                assert all(ack["ok"] for ack in voter.acks)
                expected: dict[str, int] = {}
                for proposal_id, dots in voter.plan:
                    expected[str(proposal_id)] = dots  # each step was acknowledged
                # The client's own state after reconnecting equals the plan, and the database.
                assert voter.final["allocations"] == expected
                assert voter.final["remaining"] == 0
                assert in_db.get(voter.final["id"]) == expected
            assert len(in_db) == VOTERS
            assert sum(sum(a.values()) for a in in_db.values()) == BUDGET * VOTERS
            results = staff.get(f"{server.url}/api/v1/workshops/{code}/results").json()
            by_proposal: dict[int, int] = {}
            for allocation in in_db.values():
                for proposal_id, dots in allocation.items():
                    by_proposal[int(proposal_id)] = by_proposal.get(int(proposal_id), 0) + dots
            assert {row["proposal_id"]: row["dots"] for row in results["ranking"]
                    if row["dots"]} == by_proposal
            assert sum(1 for v in voters if v.snapshots >= 2) > 0  # clients did reconnect
        finally:
            server.close()
