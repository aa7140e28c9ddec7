"""The live tally is summed by the database (`results.summary`, GROUP BY per proposal and
organisation) instead of loading every ballot. It must say exactly what the pure ranking of the
ballots says, under every voting method, on SQLite and on PostgreSQL."""

from __future__ import annotations

import random

import pytest

from tests.factories import join_as, make_workshop, move_to, propose
from workshop.domain import results
from workshop.domain.ranking import rank, scores, summarise
from workshop.extensions import db
from workshop.live.snapshot import tally
from workshop.models import DotVote, Participant

ORGANISATIONS = ["Ældre Sagen", "Røde Kors", "Diabetesforeningen", None, None]


def a_workshop_with_random_votes(seed: int, method: str, people: int = 40,
                                 n_proposals: int = 8):
    """Participants from a few organisations and none; random values, some on a proposal
    that is later hidden."""
    rnd = random.Random(seed)
    workshop = make_workshop(phase="ideation")
    crowd = [join_as(workshop, f"Deltager {i}", organisation=rnd.choice(ORGANISATIONS),
                     organisation_type="association") for i in range(people)]
    shown = [propose(workshop, crowd[i], f"Forslag {i}") for i in range(n_proposals)]
    move_to(workshop, "voting")
    workshop.voting_method = method
    top = {"dots": 3, "approval": 1, "score": 5}[method]
    for person in crowd:
        for proposal in rnd.sample(shown, rnd.randint(0, n_proposals)):
            value = rnd.randint(1, top)
            db.session.add(DotVote(workshop_id=workshop.id, participant_id=person.id,
                                   proposal_id=proposal.id, dots=value))
    # Someone who typed an organisation that normalises to nothing counts as themselves.
    crowd[0].organisation_key = ""
    shown[-1].status = "hidden"
    db.session.commit()
    return workshop


def cells(summary):
    return sorted((c.proposal_id, c.group or "", c.ballots, c.total, c.supporters)
                  for c in summary.cells)


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("method", ["dots", "approval", "score"])
def test_the_database_sums_the_ballots_as_the_pure_ranking_does(app, method):
    for seed in range(3):
        workshop = a_workshop_with_random_votes(seed, method)
        ballots = results.ballots(workshop)
        summed, voters = results.summary(workshop)
        by_python = summarise(ballots)
        assert summed.method == by_python.method == method
        assert cells(summed) == cells(by_python)
        assert summed.members == by_python.members
        assert voters == len({b.participant_id for b in ballots})


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("method", ["dots", "approval", "score"])
def test_the_live_tally_equals_the_ranking_of_every_ballot(app, method):
    workshop = a_workshop_with_random_votes(7, method, people=60)
    ballots = results.ballots(workshop)
    candidates = results.candidates(workshop)
    expected = rank(candidates, ballots, "participant")
    org = scores(ballots, "organisation")
    data = tally(workshop)
    assert data["method"] == method
    assert [(r["id"], r["rank"], r["dots"], r["supporters"], r["score"]) for r in data["rows"]] \
        == [(r.proposal_id, r.rank, r.dots, r.supporters, round(float(r.score), 3))
            for r in expected]
    # Under dots and approval the database sums the organisation-weighted score in floating
    # point (a figure to display): it may differ from the exact fraction's rounding by one in
    # the fourth decimal, never more.
    shown = {r["id"]: r["org_score"] for r in data["rows"]}
    exact = {r.proposal_id: float(org.get(r.proposal_id, 0)) for r in expected}
    assert shown.keys() == exact.keys()
    for proposal_id, value in exact.items():
        assert abs(shown[proposal_id] - value) <= 0.5e-4 + 1e-12, proposal_id
    assert data["dots"] == sum(b.dots for b in ballots)
    assert data["voters"] == db.session.query(DotVote.participant_id).distinct().count()
    assert data["voters"] < db.session.query(Participant).count()  # not everyone voted
