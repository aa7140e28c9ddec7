"""The budget holds under real parallel requests to the real server (gunicorn + gevent).

One participant fires many vote requests at once; whatever interleaving the server chooses,
the dots in the database never exceed the budget, every accepted answer's `remaining` is
consistent, every refusal is a clean 409 (or a 503 "busy" on SQLite), and nothing is a 500.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.server import flask, fresh_postgres_database, running_server

BUDGET, CAP, PROPOSALS = 5, 3, 40


def _ok(response, status=200) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def open_voting_workshop(server) -> tuple[str, dict[str, str], list[int], int]:
    """Through the API: a workshop in voting with 40 proposals and one voter's cookie."""
    created = flask(server.env, "users", "create", "fac@region.dk", "--password",
                    "correct-horse", "--role", "facilitator")
    assert created.returncode == 0, created.stderr
    api = server.url + "/api/v1"
    fac = requests.Session()
    _ok(fac.post(api + "/auth/login", json={"email": "fac@region.dk",
                                           "password": "correct-horse"}))
    workshop = _ok(fac.post(api + "/workshops", json={
        "title": "Parallel", "settings": {"dots_per_participant": BUDGET,
                                          "max_dots_per_proposal": CAP}}), 201)
    code, element_id = workshop["code"], workshop["elements"][0]["id"]
    _ok(fac.post(api + f"/workshops/{code}/phase", json={"phase": "ideation"}))
    author = requests.Session()
    _ok(author.post(api + f"/workshops/{code}/participants",
                    json={"display_name": "Forfatter", "consent": True}), 201)
    proposal_ids = [
        _ok(author.post(api + f"/workshops/{code}/proposals",
                        json={"title": f"Forslag {i}", "element_id": element_id}), 201)["id"]
        for i in range(PROPOSALS)
    ]
    _ok(fac.post(api + f"/workshops/{code}/phase", json={"phase": "voting"}))
    voter = requests.Session()
    participant = _ok(voter.post(api + f"/workshops/{code}/participants",
                                 json={"display_name": "Vælger", "consent": True}), 201)
    cookies = requests.utils.dict_from_cookiejar(voter.cookies)
    assert f"samskab_p_{code}" in cookies
    return code, cookies, proposal_ids, participant["participant"]["id"]


def fire(server, code, cookies, calls: list[tuple[int, int]]) -> list[requests.Response]:
    """PUT all (proposal_id, dots) votes at once, each on its own connection."""
    url = server.url + f"/api/v1/workshops/{code}/votes/"

    def put(call):
        proposal_id, dots = call
        return requests.put(url + str(proposal_id), json={"dots": dots}, cookies=cookies,
                            timeout=60)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(put, calls))


def spent_in_database(database_url: str, participant_id: int) -> int:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT COALESCE(SUM(dots), 0) FROM dot_vote WHERE participant_id = :p"),
                {"p": participant_id}).scalar_one()
    finally:
        engine.dispose()


def check_round(responses, allowed_refusals: set[tuple[int, str]]) -> list[dict]:
    """No 5xx but an allowed 503; every refusal a JSON error we expect; the accepted bodies."""
    accepted = []
    for response in responses:
        if response.status_code == 200:
            body = response.json()
            assert 0 <= body["remaining"] <= BUDGET - body["dots"]
            accepted.append(body)
        else:
            assert response.headers["Content-Type"].startswith("application/json"), response.text
            error = response.json()["error"]
            assert (response.status_code, error["code"]) in allowed_refusals, (
                response.status_code, error)
    return accepted


def race(server, database_url, *, strict: bool) -> None:
    code, cookies, proposal_ids, participant_id = open_voting_workshop(server)
    allowed = {(409, "budget_exceeded")} if strict else {
        (409, "budget_exceeded"), (409, "conflict"), (503, "unavailable")}

    # Round 1: one dot on each of 40 proposals at once; only the budget's worth may land.
    responses = fire(server, code, cookies, [(pid, 1) for pid in proposal_ids])
    accepted = check_round(responses, allowed)
    spent = spent_in_database(database_url, participant_id)
    assert spent <= BUDGET
    assert spent == len(accepted)
    # Each accepted vote saw the ones committed before it: remaining counts down 4, 3, ... .
    assert sorted(b["remaining"] for b in accepted) == list(range(BUDGET - len(accepted), BUDGET))
    if strict:
        assert len(accepted) == BUDGET
    mine = requests.get(server.url + f"/api/v1/workshops/{code}/votes", cookies=cookies,
                        timeout=30).json()
    assert sum(mine["allocations"].values()) == spent and mine["remaining"] == BUDGET - spent

    # Round 2: with 3 dots on A, change A and B to different amounts, all at once.
    for pid in proposal_ids:
        if str(pid) in mine["allocations"]:
            _ok(requests.put(server.url + f"/api/v1/workshops/{code}/votes/{pid}",
                             json={"dots": 0}, cookies=cookies, timeout=30))
    a, b = proposal_ids[0], proposal_ids[1]
    _ok(requests.put(server.url + f"/api/v1/workshops/{code}/votes/{a}", json={"dots": 3},
                     cookies=cookies, timeout=30))
    calls = [(a, dots) for dots in (0, 1, 2, 3) * 5] + [(b, dots) for dots in (1, 2, 3) * 7]
    responses = fire(server, code, cookies, calls)
    accepted = check_round(responses, allowed)
    assert accepted, "at least some of the changes must land"
    assert spent_in_database(database_url, participant_id) <= BUDGET
    mine = requests.get(server.url + f"/api/v1/workshops/{code}/votes", cookies=cookies,
                        timeout=30).json()
    allocations = {int(k): v for k, v in mine["allocations"].items()}
    assert set(allocations) <= {a, b}
    assert all(0 < v <= CAP for v in allocations.values())
    assert sum(allocations.values()) <= BUDGET
    # Refusals happened only where the other proposal held too many dots to allow it.
    for (_pid, dots), response in zip(calls, responses, strict=True):
        if response.status_code == 409 and strict:
            assert dots > BUDGET - CAP
    assert "Traceback" not in server.log()


@pytest.mark.server
@pytest.mark.postgres
def test_parallel_votes_never_overspend_on_postgresql(postgres_database):
    with fresh_postgres_database(postgres_database) as url:
        with running_server(url) as server:
            race(server, url, strict=True)


@pytest.mark.server
def test_parallel_votes_never_overspend_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    with running_server(url) as server:
        race(server, url, strict=False)
