"""Clients whose connections drop for random moments still end with every acknowledged vote
counted exactly once (issue 7)."""

from __future__ import annotations

import random

import pytest

from tests.faults.chaos_proxy import ChaosProxy
from tests.faults.harness import Crowd, RestartableServer, Voter
from tests.faults.test_server_killed import BUDGET, plan_for, prepare
from tests.faults.test_services_restarted import assert_every_ack_counted
from tests.server import fresh_postgres_database

pytestmark = [pytest.mark.server, pytest.mark.postgres,
              # aiohttp may report a websocket of a killed or cut connection as unclosed
              # when the garbage collector finds it: not a fault of the app.
              pytest.mark.filterwarnings("ignore:Unclosed:ResourceWarning"),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]

VOTERS = 60


def test_votes_through_a_flaky_network_count_exactly_once(postgres_database):
    with fresh_postgres_database(postgres_database) as url:
        server = RestartableServer(url).start()
        proxy = ChaosProxy(server.port, cut_every_s=0.4, cut_share=0.15, seed=3).start()
        try:
            staff, code, proposals, cookies = prepare(server, VOTERS)
            rng = random.Random(4)
            voters = [Voter(cookie, plan_for(rng, proposals)) for cookie in cookies]
            # Some votes are resent after a cut: the same value, so they apply once.
            crowd = Crowd(proxy.url, code, voters, pause_s=0.25).start()
            crowd.join(timeout=300, diagnose=lambda: server.diagnosis(url))
            crowd.assert_few_reloads()
            assert proxy.cuts > 0  # the network really was flaky
            assert sum(1 for v in voters if v.snapshots >= 2) > 0  # and clients reconnected
            assert_every_ack_counted(voters, url)
            results = staff.get(f"{server.url}/api/v1/workshops/{code}/results").json()
            assert sum(row["dots"] for row in results["ranking"]) == BUDGET * VOTERS
        finally:
            proxy.stop()
            server.close()
