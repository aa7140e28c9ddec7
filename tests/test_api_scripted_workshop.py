"""The scripted workshop the reviewers run, through the JSON API only, on SQLite and PostgreSQL.

A facilitator creates a workshop; thirty people from several organisations (their names typed
in different ways) join, propose (some submissions resent), comment; the facilitator merges a
duplicate and hides one; everyone votes within budget, with malformed requests mixed in. The
results in both weightings must equal a computation made here from the raw votes read back
through each participant's `GET /votes` — not from the app's ranking code.
"""

from __future__ import annotations

import random
from collections import defaultdict
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from tests.factories import PASSWORD, make_user
from workshop.extensions import db
from workshop.models import DotVote, Proposal

pytestmark = pytest.mark.usefixtures("fast_passwords")

ORGANISATIONS = [
    ("Ældre Sagen Viborg", "association"),
    ("ældre sagen  viborg", "association"),
    ("  ÆLDRE SAGEN VIBORG ", "association"),
    ("Kræftens Bekæmpelse", "patient_organisation"),
    ("kræftens\tbekæmpelse", "patient_organisation"),
    ("Frivilligcenter Silkeborg", "volunteer_centre"),
    ("Dansk Røde Kors", "association"),
    ("Region Midtjylland", "regional_staff"),
    ("Lev", "interest_organisation"),
    (None, "citizen"),
    (None, None),
    ("", "politician"),
    (None, "other"),
]
BUDGET, CAP = 5, 3


def error_code(response) -> str:
    assert 400 <= response.status_code < 500, (response.status_code,
                                                response.get_data(as_text=True))
    return response.get_json()["error"]["code"]


def independent_ranking(visible: dict[int, dict], votes: dict[int, dict[int, int]],
                        organisation_of: dict[int, str | None], weighting: str) -> list[tuple]:
    """(rank, proposal_id, score, supporters) from raw votes, as the issue describes it."""
    def group(pid):
        name = " ".join((organisation_of[pid] or "").split()).lower()
        return ("org", name) if name else ("person", pid)

    voters = {p for p, given in votes.items() if sum(given.values()) > 0}
    members = defaultdict(set)
    for person in voters:
        members[group(person)].add(person)
    rows = {}
    for proposal_id in visible:
        supporters = sum(1 for p in voters if votes[p].get(proposal_id, 0) > 0)
        if weighting == "participant":
            score = Fraction(sum(votes[p].get(proposal_id, 0) for p in voters))
        else:
            score = Fraction(0)
            for people in members.values():
                score += Fraction(sum(votes[p].get(proposal_id, 0) for p in people), len(people))
        rows[proposal_id] = (score, supporters)
    order = sorted(rows, key=lambda pid: (-rows[pid][0], -rows[pid][1], pid))
    return [(1 + sum(1 for other in rows.values() if other > rows[pid]), pid, *rows[pid])
            for pid in order]


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_a_scripted_workshop_ranks_as_an_independent_count_does(app, isolated_api,
                                                                new_isolated_api):
    rng = random.Random(20240611)
    fac = isolated_api
    make_user("facilitator", "fac@region.dk")
    fac.login("fac@region.dk", PASSWORD)

    # --- The facilitator opens the workshop -----------------------------------------------
    created = fac.post("/workshops", {
        "title": "Samarbejde med civilsamfundet", "template": "generic-model",
        "settings": {"dots_per_participant": BUDGET, "max_dots_per_proposal": CAP,
                     "moderation": "post"}})
    assert created.status_code == 201, created.get_json()
    workshop = created.get_json()
    code = workshop["code"]
    assert workshop["phase"] == "lobby" and workshop["settings"]["dots_per_participant"] == BUDGET
    extra = fac.post(f"/workshops/{code}/elements", {"title": "Lokale fællesskaber"})
    assert extra.status_code == 201
    element_ids = [e["id"] for e in workshop["elements"]] + [extra.get_json()["id"]]
    assert fac.post(f"/workshops/{code}/phase", {"phase": "ideation"}).status_code == 200

    # --- Thirty people join -----------------------------------------------------------------
    people = []  # (api, participant id)
    organisation_of = {}
    for index in range(30):
        organisation, kind = ORGANISATIONS[index % len(ORGANISATIONS)]
        person = new_isolated_api()
        body = {"display_name": f"Deltager {index}", "consent": True}
        if organisation is not None:
            body["organisation"] = organisation
        if kind is not None:
            body["organisation_type"] = kind
        joined = person.post(f"/workshops/{code}/participants", body)
        assert joined.status_code == 201, joined.get_json()
        participant = joined.get_json()["participant"]
        assert participant["organisation_type"] == kind
        people.append((person, participant["id"]))
        organisation_of[participant["id"]] = organisation

    # --- Proposals, some resent with the same client_id -------------------------------------
    proposal_ids = []
    for index in range(16):
        person, _pid = people[index]
        body = {"title": f"Forslag {index}", "body": f"Begrundelse {index}",
                "element_id": rng.choice(element_ids), "client_id": f"client-{index}"}
        made = person.post(f"/workshops/{code}/proposals", body)
        assert made.status_code == 201, made.get_json()
        assert made.get_json()["status"] == "visible"
        proposal_ids.append(made.get_json()["id"])
        if index % 3 == 0:
            rows_before = db.session.scalar(select(func.count()).select_from(Proposal))
            again = person.post(f"/workshops/{code}/proposals", body)
            assert again.status_code == 200 and again.get_json()["id"] == made.get_json()["id"]
            assert db.session.scalar(select(func.count()).select_from(Proposal)) == rows_before
    listed = fac.get(f"/workshops/{code}/proposals").get_json()["proposals"]
    assert sorted(p["id"] for p in listed) == sorted(proposal_ids)

    # Malformed proposals: all refused, none written.
    anna = people[0][0]
    for bad in ({"title": 5, "element_id": element_ids[0]},
                {"title": "x" * 121, "element_id": element_ids[0]},
                {"title": "T", "element_id": str(element_ids[0])},
                {"title": "T", "body": "x" * 2001, "element_id": element_ids[0]}):
        assert error_code(anna.post(f"/workshops/{code}/proposals", bad)) == "invalid"
    assert error_code(anna._call("POST", f"/workshops/{code}/proposals", data="{oops",
                                 content_type="application/json")) == "invalid"
    assert db.session.scalar(select(func.count()).select_from(Proposal)) == len(proposal_ids)

    # --- Comments ---------------------------------------------------------------------------
    for index in range(10):
        person, _pid = people[29 - index]
        response = person.post(f"/proposals/{rng.choice(proposal_ids)}/comments",
                               {"body": f"Kommentar {index}"})
        assert response.status_code == 201, response.get_json()
    assert error_code(anna.post(f"/proposals/{proposal_ids[0]}/comments",
                                {"body": "x" * 1001})) == "invalid"

    # --- Moderation: merge a duplicate, hide one ---------------------------------------------
    duplicate, target, hidden = proposal_ids[1], proposal_ids[2], proposal_ids[3]
    merged = fac.post(f"/proposals/{duplicate}/moderation",
                      {"action": "merge", "into": target, "reason": "Dublet"})
    assert merged.status_code == 200, merged.get_json()
    assert [m["id"] for m in merged.get_json()["target"]["merged_from"]] == [duplicate]
    assert fac.post(f"/proposals/{hidden}/moderation",
                    {"action": "hide", "reason": "Uden for emnet"}).status_code == 200
    assert error_code(fac.post(f"/proposals/{hidden}/moderation", {"action": "hide"})) in (
        "invalid", "conflict")
    visible_ids = [pid for pid in proposal_ids if pid not in (duplicate, hidden)]

    # --- Voting -----------------------------------------------------------------------------
    assert error_code(anna.put(f"/workshops/{code}/votes/{target}", {"dots": 1})) == "wrong_phase"
    assert fac.post(f"/workshops/{code}/phase", {"phase": "review"}).status_code == 200
    assert fac.post(f"/workshops/{code}/phase", {"phase": "voting"}).status_code == 200
    malformed = [
        {"dots": "3"}, {"dots": True}, {"dots": 1.5}, {"dots": -1}, {}, {"dots": None},
    ]
    for person, _pid in people:
        spent = 0
        for proposal_id in rng.sample(visible_ids, k=len(visible_ids)):
            if spent == BUDGET:
                break
            dots = rng.randint(0, min(CAP, BUDGET - spent))
            response = person.put(f"/workshops/{code}/votes/{proposal_id}", {"dots": dots})
            assert response.status_code == 200, response.get_json()
            spent += dots
            assert response.get_json() == {"proposal_id": proposal_id, "dots": dots,
                                           "remaining": BUDGET - spent, "applied": True,
                                           "mark": 0}
        # Mixed in: malformed bodies, refused overspending, votes on hidden/merged proposals.
        target_id = rng.choice(visible_ids)
        assert error_code(person.put(f"/workshops/{code}/votes/{target_id}",
                                     rng.choice(malformed))) == "invalid"
        assert error_code(person._call("PUT", f"/workshops/{code}/votes/{target_id}",
                                       data="[3]", content_type="application/json")) == "invalid"
        assert error_code(person.put(f"/workshops/{code}/votes/{target_id}",
                                     {"dots": CAP + 1})) == "budget_exceeded"
        assert error_code(person.put(f"/workshops/{code}/votes/{rng.choice([hidden, duplicate])}",
                                     {"dots": 1})) == "not_found"
        if spent == BUDGET:
            zero = [pid for pid in visible_ids if str(pid) not in person.get(
                f"/workshops/{code}/votes").get_json()["allocations"]]
            if zero:
                assert error_code(person.put(f"/workshops/{code}/votes/{zero[0]}",
                                             {"dots": 1})) == "budget_exceeded"
        # Some move dots: take one proposal's dots away and resend another unchanged.
        allocations = person.get(f"/workshops/{code}/votes").get_json()["allocations"]
        if allocations and rng.random() < 0.3:
            proposal_id = int(rng.choice(sorted(allocations)))
            assert person.put(f"/workshops/{code}/votes/{proposal_id}",
                              {"dots": 0}).status_code == 200
        elif allocations:
            proposal_id, dots = next(iter(allocations.items()))
            again = person.put(f"/workshops/{code}/votes/{proposal_id}", {"dots": dots})
            assert again.status_code == 200

    # --- Results ----------------------------------------------------------------------------
    assert fac.post(f"/workshops/{code}/phase", {"phase": "results"}).status_code == 200
    votes = {}
    for person, pid in people:
        mine = person.get(f"/workshops/{code}/votes").get_json()
        allocation = {int(k): v for k, v in mine["allocations"].items()}
        assert sum(allocation.values()) <= BUDGET
        assert all(0 < v <= CAP for v in allocation.values())
        assert mine["remaining"] == BUDGET - sum(allocation.values())
        assert set(allocation) <= set(visible_ids)
        votes[pid] = allocation
    over_budget = db.session.execute(
        select(DotVote.participant_id).group_by(DotVote.participant_id)
        .having(func.sum(DotVote.dots) > BUDGET)).all()
    assert over_budget == []
    assert sum(sum(v.values()) for v in votes.values()) == db.session.scalar(
        select(func.sum(DotVote.dots)))

    proposals = {p["id"]: p for p in fac.get(f"/workshops/{code}/proposals").get_json()[
        "proposals"]}
    assert proposals[duplicate]["status"] == "merged" and proposals[hidden]["status"] == "hidden"
    visible = {pid: p for pid, p in proposals.items() if p["status"] == "visible"}
    assert sorted(visible) == sorted(visible_ids)

    for weighting in ("participant", "organisation"):
        answer = fac.get(f"/workshops/{code}/results?weighting={weighting}")
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert body["weighting"] == weighting
        expected = independent_ranking(visible, votes, organisation_of, weighting)
        got = body["ranking"]
        assert [(r["rank"], r["proposal_id"], r["supporters"]) for r in got] == [
            (rank, pid, supporters) for rank, pid, _score, supporters in expected]
        for row, (_rank, pid, score, _supporters) in zip(got, expected, strict=True):
            assert row["score"] == pytest.approx(float(score), abs=1e-9)
            assert (row["title"], row["element_id"]) == (visible[pid]["title"],
                                                         visible[pid]["element_id"])
        assert duplicate not in {r["proposal_id"] for r in got}
        assert hidden not in {r["proposal_id"] for r in got}
        # Per element: the same rows, ranked inside each element.
        for element in body["elements"]:
            inside = [(rank, pid, score, supporters) for rank, pid, score, supporters in expected
                      if visible[pid]["element_id"] == element["element_id"]]
            ranks = [1 + sum(1 for other in inside if other[2:] > row[2:]) for row in inside]
            assert [(r["rank"], r["proposal_id"]) for r in element["ranking"]] == [
                (rank, row[1]) for rank, row in zip(ranks, inside, strict=True)]
        # A participant sees the same ranking once results are out.
        assert anna.get(f"/workshops/{code}/results?weighting={weighting}").get_json()[
            "ranking"] == got

    # The organisation weighting really differs from counting people here.
    participant_scores = {r["proposal_id"]: r["score"] for r in fac.get(
        f"/workshops/{code}/results?weighting=participant").get_json()["ranking"]}
    organisation_scores = {r["proposal_id"]: r["score"] for r in fac.get(
        f"/workshops/{code}/results?weighting=organisation").get_json()["ranking"]}
    assert participant_scores != organisation_scores
