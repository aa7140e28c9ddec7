"""The ranking, pure: two weightings, ties, order, per-element ranks. No database, no Flask.

The property tests compare `rank()` with a naive implementation written here from the issue's
words, so the two can only agree if the app's ranking says what the issue says.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workshop.domain.participants import organisation_key
from workshop.domain.ranking import (
    Ballot,
    Candidate,
    rank,
    rank_by_element,
    scores,
    within_elements,
)


def candidates(*ids, element_of=None):
    element_of = element_of or {}
    return [Candidate(pid, f"Forslag {pid}", element_of.get(pid, 1)) for pid in ids]


def ballot(participant, proposal, dots, organisation=None):
    return Ballot(participant, proposal, dots, organisation_key(organisation))


def table(ranked):
    return [(r.rank, r.proposal_id, r.score, r.supporters) for r in ranked]


# --- organisation_key -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "Ældre Sagen Viborg", "ældre sagen viborg", "  ÆLDRE   SAGEN\tViborg ", "Ældre\nSagen Viborg",
    "Ældre\u00a0Sagen Viborg",
])
def test_organisation_names_match_case_insensitively_with_whitespace_collapsed(raw):
    assert organisation_key(raw) == "ældre sagen viborg"


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n"])
def test_no_organisation_has_no_key(raw):
    assert organisation_key(raw) is None


def test_different_organisations_keep_different_keys():
    assert organisation_key("Ældre Sagen") != organisation_key("Ældre Sagen Viborg")
    assert organisation_key("Røde Kors") != organisation_key("Rode Kors")


# --- participant weighting ----------------------------------------------------------------------


def test_participant_weighting_counts_every_dot_as_one():
    ballots = [ballot(1, 10, 3), ballot(2, 10, 1), ballot(2, 11, 2), ballot(3, 11, 3)]
    assert scores(ballots, "participant") == {10: 4, 11: 5}
    ranked = rank(candidates(10, 11), ballots, "participant")
    assert table(ranked) == [(1, 11, 5, 2), (2, 10, 4, 2)]
    assert all(isinstance(r.score, Fraction) for r in ranked)


def test_proposals_without_dots_are_ranked_with_score_zero():
    ranked = rank(candidates(1, 2, 3), [ballot(1, 2, 1)], "participant")
    assert table(ranked) == [(1, 2, 1, 1), (2, 1, 0, 0), (2, 3, 0, 0)]
    assert [r.dots for r in ranked] == [1, 0, 0]


def test_ballots_with_zero_dots_neither_score_nor_support():
    ranked = rank(candidates(1), [ballot(1, 1, 0), ballot(2, 1, 2)], "participant")
    assert table(ranked) == [(1, 1, 2, 1)]


def test_unknown_weighting_is_refused():
    with pytest.raises(ValueError):
        scores([], "votes")


# --- ties and order -----------------------------------------------------------------------------


def test_ties_share_a_rank_and_the_next_rank_skips():
    ballots = [ballot(1, 1, 2), ballot(2, 2, 2), ballot(3, 3, 1)]
    assert [(r.rank, r.proposal_id) for r in rank(candidates(3, 2, 1), ballots)] == [
        (1, 1), (1, 2), (3, 3)]


def test_equal_score_is_broken_by_supporters_then_by_id():
    # 10 and 11 have 3 dots each; 11 from three people, 10 from one. 12 and 13: same as 10.
    ballots = [ballot(1, 10, 3), ballot(2, 11, 1), ballot(3, 11, 1), ballot(4, 11, 1),
               ballot(5, 13, 3), ballot(6, 12, 3)]
    ranked = rank(candidates(13, 12, 11, 10), ballots)
    assert table(ranked) == [(1, 11, 3, 3), (2, 10, 3, 1), (2, 12, 3, 1), (2, 13, 3, 1)]


def test_an_empty_workshop_ranks_every_candidate_first():
    assert [(r.rank, r.proposal_id) for r in rank(candidates(2, 1), [])] == [(1, 1), (1, 2)]


def test_as_dict_gives_a_float_score_that_is_not_rounded():
    ballots = [ballot(1, 1, 1, "A"), ballot(2, 1, 0, "A"), ballot(2, 2, 2, "A"),
               ballot(3, 1, 1, "A")]
    row = rank(candidates(1, 2), ballots, "organisation")[0].as_dict()
    assert row["score"] == pytest.approx(2 / 3, abs=1e-9)
    assert set(row) >= {"rank", "proposal_id", "title", "element_id", "score", "supporters"}


# --- organisation weighting ---------------------------------------------------------------------


def test_organisation_weighting_is_the_sum_of_each_organisations_mean():
    ballots = [
        # Ældre Sagen: two voting members, written two ways.
        ballot(1, 10, 3, "Ældre Sagen"), ballot(2, 10, 1, " ældre  sagen "),
        ballot(2, 11, 2, "ÆLDRE SAGEN"),
        # Røde Kors: three voting members, one of whom gave nothing to 10 or 11 but voted on 12.
        ballot(3, 10, 3, "Røde Kors"), ballot(4, 11, 3, "Røde Kors"), ballot(5, 12, 1, "Røde Kors"),
        # Two citizens without an organisation: each is their own.
        ballot(6, 10, 2), ballot(7, 10, 1),
    ]
    got = scores(ballots, "organisation")
    assert got == {
        10: Fraction(4, 2) + Fraction(3, 3) + 2 + 1,
        11: Fraction(2, 2) + Fraction(3, 3),
        12: Fraction(1, 3),
    }


def test_members_who_gave_no_dots_do_not_dilute_their_organisation():
    # Participant 2 is in the organisation but only has a 0-dot row: not a voting member.
    ballots = [ballot(1, 1, 3, "A"), ballot(2, 1, 0, "A")]
    assert scores(ballots, "organisation") == {1: 3}


def test_one_big_association_ranks_lower_by_organisation_than_by_participant():
    big = [ballot(pid, 1, 3, "Stor Forening") for pid in range(1, 11)]
    others = [ballot(20 + i, 2, 2, f"Forening {i}") for i in range(3)]
    ballots = big + others
    by_participant = {r.proposal_id: r for r in rank(candidates(1, 2), ballots, "participant")}
    by_organisation = {r.proposal_id: r for r in rank(candidates(1, 2), ballots, "organisation")}
    assert by_participant[1].rank == 1 and by_participant[1].score == 30
    assert by_organisation[1].rank == 2 and by_organisation[1].score == 3
    assert by_organisation[2].rank == 1 and by_organisation[2].score == 6
    # Supporters are people in both weightings.
    assert by_organisation[1].supporters == by_participant[1].supporters == 10


def test_participants_without_organisation_are_each_their_own():
    ballots = [ballot(1, 1, 2), ballot(2, 1, 2), ballot(3, 1, 2, "X"), ballot(4, 1, 2, "x")]
    assert scores(ballots, "organisation") == {1: 2 + 2 + 2}


# --- per element --------------------------------------------------------------------------------


def test_ranks_are_counted_inside_each_element():
    element_of = {1: 100, 2: 100, 3: 200, 4: 200, 5: 200}
    ballots = [ballot(1, 1, 3), ballot(2, 2, 1), ballot(3, 3, 2), ballot(4, 4, 2), ballot(5, 5, 1)]
    overall = rank(candidates(1, 2, 3, 4, 5, element_of=element_of), ballots)
    assert [(r.rank, r.proposal_id) for r in overall] == [(1, 1), (2, 3), (2, 4), (4, 2), (4, 5)]
    by_element = rank_by_element(candidates(1, 2, 3, 4, 5, element_of=element_of), ballots)
    assert {e: [(r.rank, r.proposal_id) for r in rows] for e, rows in by_element.items()} == {
        100: [(1, 1), (2, 2)],
        200: [(1, 3), (1, 4), (3, 5)],
    }
    assert within_elements(overall) == by_element


# --- against a naive implementation -------------------------------------------------------------


def naive_ranking(candidate_ids, rows, weighting):
    """rows: (participant_id, organisation name or None, proposal_id, dots)."""
    dots_of = defaultdict(lambda: defaultdict(int))  # participant -> proposal -> dots
    group_of = {}
    for participant, organisation, proposal, dots in rows:
        dots_of[participant][proposal] += dots
        name = " ".join((organisation or "").split()).casefold()
        group_of[participant] = ("org", name) if name else ("person", participant)
    voters = {p for p, given in dots_of.items() if sum(given.values()) > 0}
    groups = defaultdict(set)
    for participant in voters:
        groups[group_of[participant]].add(participant)
    result = {}
    for pid in candidate_ids:
        supporters = sum(1 for p in voters if dots_of[p][pid] > 0)
        if weighting == "participant":
            score = Fraction(sum(dots_of[p][pid] for p in voters))
        else:
            score = sum((Fraction(sum(dots_of[m][pid] for m in members), len(members))
                         for members in groups.values()), Fraction(0))
        result[pid] = (score, supporters)
    ordered = sorted(candidate_ids, key=lambda pid: (-result[pid][0], -result[pid][1], pid))
    ranked = []
    for pid in ordered:
        better = sum(1 for other in candidate_ids if result[other] > result[pid])
        ranked.append((better + 1, pid, result[pid][0], result[pid][1]))
    return ranked


ORGANISATION_NAMES = [None, "Ældre Sagen", "ældre  sagen", " ÆLDRE SAGEN ", "Røde Kors",
                      "røde\tkors", "Lev", "Frivilligcenter Silkeborg"]


@st.composite
def workshops(draw):
    n_people = draw(st.integers(0, 12))
    n_proposals = draw(st.integers(1, 7))
    proposal_ids = list(range(1, n_proposals + 1))
    candidate_ids = draw(st.lists(st.sampled_from(proposal_ids), unique=True, min_size=1))
    rows = []
    for person in range(1, n_people + 1):
        organisation = draw(st.sampled_from(ORGANISATION_NAMES))
        budget = 5
        for proposal in draw(st.lists(st.sampled_from(proposal_ids), unique=True, max_size=5)):
            dots = draw(st.integers(0, min(3, budget)))
            budget -= dots
            rows.append((person, organisation, proposal, dots))
    return candidate_ids, rows


@settings(max_examples=300, deadline=None)
@given(workshops(), st.sampled_from(["participant", "organisation"]))
def test_rank_equals_a_naive_computation(workshop, weighting):
    candidate_ids, rows = workshop
    ballots = [ballot(p, prop, dots, org) for p, org, prop, dots in rows]
    got = rank(candidates(*candidate_ids), ballots, weighting)
    assert table(got) == naive_ranking(candidate_ids, rows, weighting)


@settings(max_examples=100, deadline=None)
@given(workshops())
def test_both_weightings_agree_when_everyone_is_their_own_organisation(workshop):
    candidate_ids, rows = workshop
    ballots = [ballot(p, prop, dots) for p, _org, prop, dots in rows]
    assert table(rank(candidates(*candidate_ids), ballots, "participant")) == table(
        rank(candidates(*candidate_ids), ballots, "organisation"))
