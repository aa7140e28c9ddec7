"""Voting methods chosen per workshop: dots, approval and score, enforced by the server and
ranked by the same lenses."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tests.factories import join_as, make_user, make_workshop, move_to, propose, vote
from workshop.domain import results, voting
from workshop.domain.errors import DomainError
from workshop.domain.ranking import SCORE_PRIOR_WEIGHT, Ballot, Candidate, rank

pytestmark = pytest.mark.usefixtures("fast_passwords")


def score_ballots(ratings: dict[int, list[int]]):
    ballots, pid = [], 0
    for proposal, values in ratings.items():
        for value in values:
            pid += 1
            ballots.append(Ballot(pid, proposal, value, method="score"))
    return ballots


def test_two_fives_do_not_beat_forty_fours_under_the_damped_mean():
    ratings = {1: [5, 5], 2: [4] * 40, 3: [1, 2, 1, 2] * 10}
    ballots = score_ballots(ratings)
    every = [v for values in ratings.values() for v in values]
    m = Fraction(sum(every), len(every))
    k = SCORE_PRIOR_WEIGHT
    expected = {p: (k * m + sum(v)) / (k + len(v)) for p, v in ratings.items()}
    ranked = rank([Candidate(p, str(p), 1) for p in (1, 2, 3, 4)], ballots, "participant")
    assert {r.proposal_id: r.score for r in ranked} == {**expected, 4: m}
    assert [r.proposal_id for r in ranked][:2] == [2, 1]
    assert {r.proposal_id: r.supporters for r in ranked}[2] == 40  # 4 and 5 count as support


def test_score_under_organisation_weighting_counts_each_organisation_once():
    ballots = [Ballot(1, 1, 5, "a", method="score"), Ballot(2, 1, 1, "a", method="score"),
               Ballot(3, 1, 4, None, method="score"), Ballot(3, 2, 2, None, method="score")]
    units = {1: [Fraction(3), Fraction(4)], 2: [Fraction(2)]}
    m = Fraction(3 + 4 + 2, 3)
    k = SCORE_PRIOR_WEIGHT
    ranked = rank([Candidate(1, "a", 1), Candidate(2, "b", 1)], ballots, "organisation")
    assert {r.proposal_id: r.score for r in ranked} == {
        p: (k * m + sum(v)) / (k + len(v)) for p, v in units.items()}


@pytest.fixture
def three(app):
    workshop = make_workshop(phase="ideation")
    people = [join_as(workshop, f"P{i}") for i in range(3)]
    proposals = [propose(workshop, people[0], f"Forslag {i}") for i in range(7)]
    return workshop, people, proposals


def test_approval_says_yes_to_any_number_without_a_budget(three):
    workshop, people, proposals = three
    voting.set_voting_method(workshop, workshop.facilitators[0], "approval")
    move_to(workshop, "voting")
    for proposal in proposals:  # seven yeses, more than the five-dot budget
        result = vote(workshop, people[1], proposal, 1)
        assert result.remaining is None
    with pytest.raises(DomainError) as refused:
        vote(workshop, people[1], proposals[0], 2)
    assert refused.value.code == "invalid"
    assert voting.allocations(people[1]) == {p.id: 1 for p in proposals}


def test_score_accepts_one_to_five_and_zero_removes(three):
    workshop, people, proposals = three
    voting.set_voting_method(workshop, workshop.facilitators[0], "score")
    assert voting.vote_cap(workshop) == 5
    move_to(workshop, "voting")
    for proposal in proposals:
        vote(workshop, people[2], proposal, 5)
    vote(workshop, people[2], proposals[0], 0)
    for bad in (6, -1, "3", 2.5, True):
        with pytest.raises(DomainError) as refused:
            voting.set_dots(workshop, people[2], proposals[1].id, bad)
        assert refused.value.code == "invalid"
    assert len(voting.allocations(people[2])) == 6
    assert results.lenses(workshop, "participant", samples=20).method == "score"


def test_dots_still_hold_the_budget(three):
    workshop, people, proposals = three
    move_to(workshop, "voting")
    vote(workshop, people[0], proposals[0], 3)
    vote(workshop, people[0], proposals[1], 2)
    with pytest.raises(DomainError) as refused:
        vote(workshop, people[0], proposals[2], 1)
    assert refused.value.code == "budget_exceeded"


def test_the_method_is_fixed_once_voting_starts_and_only_facilitators_choose(three):
    workshop, people, _proposals = three
    with pytest.raises(DomainError) as refused:
        voting.set_voting_method(workshop, make_user("reviewer"), "score")
    assert refused.value.code == "forbidden"
    with pytest.raises(DomainError) as refused:
        voting.set_voting_method(workshop, workshop.facilitators[0], "loudest")
    assert refused.value.code == "invalid"
    move_to(workshop, "voting")
    with pytest.raises(DomainError) as refused:
        voting.set_voting_method(workshop, workshop.facilitators[0], "approval")
    assert refused.value.code == "wrong_phase"
    assert workshop.voting_method == "dots"


def test_the_api_chooses_a_method_and_votes_through_the_same_path(isolated_api, new_isolated_api):
    make_user("facilitator", "fac@region.dk")
    fac = isolated_api
    fac.login("fac@region.dk")
    created = fac.post("/workshops", {"title": "Karakterer"}).get_json()
    code, element = created["code"], created["elements"][0]["id"]
    bad = fac.put(f"/workshops/{code}/voting-method", {"voting_method": 3})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid"
    chosen = fac.put(f"/workshops/{code}/voting-method", {"voting_method": "score"})
    assert chosen.get_json() == {"voting_method": "score", "max_per_proposal": 5, "budget": None}
    assert fac.get(f"/workshops/{code}").get_json()["voting_method"] == "score"
    fac.post(f"/workshops/{code}/phase", {"phase": "ideation"})
    anna = new_isolated_api()
    anna.post(f"/workshops/{code}/participants", {"display_name": "Anna", "consent": True})
    pid = anna.post(f"/workshops/{code}/proposals",
                    {"title": "Et forslag", "body": "", "element_id": element}).get_json()["id"]
    fac.post(f"/workshops/{code}/phase", {"phase": "voting"})
    voted = anna.put(f"/workshops/{code}/votes/{pid}", {"dots": 4})
    assert voted.get_json() == {"proposal_id": pid, "dots": 4, "remaining": None,
                                "applied": True, "mark": 0}
    too_high = anna.put(f"/workshops/{code}/votes/{pid}", {"dots": 6})
    assert too_high.status_code == 400 and "1 til 5" in too_high.get_json()["error"]["message"]
    mine = anna.get(f"/workshops/{code}/votes").get_json()
    assert mine["allocations"] == {str(pid): 4} and mine["voting_method"] == "score"
