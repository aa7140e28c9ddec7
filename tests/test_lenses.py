"""The ranking lenses, pure: per-type breakdown, consensus, bootstrap rank ranges and ties,
fairness. Each is compared with an independent computation written here from the issue's words."""

from __future__ import annotations

import random
from collections import defaultdict
from fractions import Fraction

import pytest

from workshop.domain.lenses import (
    Voter,
    consensus,
    fairness,
    footrule,
    kendall_tau_b,
    outcome,
    rank_ranges,
    type_breakdown,
)
from workshop.domain.ranking import Ballot, Candidate, rank


def cands(*ids):
    return [Candidate(pid, f"Forslag {pid}", 1) for pid in ids]


# (participant, organisation, type)
PEOPLE = [
    (1, "stor forening", "association"), (2, "stor forening", "association"),
    (3, "stor forening", "association"), (4, "stor forening", "association"),
    (5, "stor forening", "association"), (6, None, "citizen"), (7, None, "citizen"),
    (8, "frivilligcenter", "volunteer_centre"), (9, "patienter", "patient_organisation"),
]
# The big association's five members all put 3 dots on 10; everyone else spreads over 11, 12.
VOTES = {1: {10: 3}, 2: {10: 3}, 3: {10: 3}, 4: {10: 3}, 5: {10: 3},
         6: {11: 2, 12: 1}, 7: {11: 3}, 8: {11: 2, 12: 1}, 9: {12: 2, 11: 1}}


def ballots_of(votes=VOTES, people=PEOPLE, method="dots"):
    info = {pid: (org, kind) for pid, org, kind in people}
    return [Ballot(pid, prop, dots, info[pid][0], info[pid][1], method)
            for pid, given in votes.items() for prop, dots in given.items()]


def independent_breakdown(votes, people):
    kind_of = {pid: kind or "unspecified" for pid, _org, kind in people}
    voters = defaultdict(set)
    for pid, given in votes.items():
        if any(v > 0 for v in given.values()):
            voters[kind_of[pid]].add(pid)
    out = {}
    for prop in {p for given in votes.values() for p in given}:
        out[prop] = {}
        for kind, members in voters.items():
            dots = sum(votes[p].get(prop, 0) for p in members)
            backers = sum(1 for p in members if votes[p].get(prop, 0) > 0)
            out[prop][kind] = (dots, backers, len(members), Fraction(backers, len(members)))
    return out


def test_the_per_type_breakdown_equals_an_independent_count():
    got = type_breakdown(cands(10, 11, 12), ballots_of())
    expected = independent_breakdown(VOTES, PEOPLE)
    for prop, kinds in expected.items():
        for kind, (dots, backers, voters, share) in kinds.items():
            support = got[prop][kind]
            assert (support.dots, support.supporters, support.voters, support.share) == (
                dots, backers, voters, share)
    assert got[10]["association"].share == 1 and got[10]["citizen"].share == 0


def test_consensus_is_the_product_over_types_of_smoothed_support():
    expected = {}
    for prop, kinds in independent_breakdown(VOTES, PEOPLE).items():
        value = Fraction(1)
        for _dots, backers, voters, _share in kinds.values():
            value *= Fraction(backers + 1, voters + 2)
        expected[prop] = value
    assert consensus(cands(10, 11, 12), ballots_of()) == expected
    # 11 is backed by every type but the association; 10 only by the association.
    assert expected[11] > expected[10]


def test_a_proposal_carried_by_one_big_association_ranks_lower_by_organisation():
    ballots = ballots_of()
    by_person = {r.proposal_id: r.rank for r in rank(cands(10, 11, 12), ballots, "participant")}
    by_org = {r.proposal_id: r.rank for r in rank(cands(10, 11, 12), ballots, "organisation")}
    assert by_person[10] == 1
    assert by_org[10] > by_person[10]
    panel = fairness(cands(10, 11, 12), ballots, [Voter(p, o, k) for p, o, k in PEOPLE])
    assert panel.largest_organisation == "stor forening"
    assert panel.largest_organisation_share == Fraction(15, 15 + 3 + 3 + 3 + 3)
    assert panel.organisations == 3 and panel.voters == 9 and panel.participants == 9
    assert panel.organisations_by_type == {"association": 1, "patient_organisation": 1,
                                           "volunteer_centre": 1}
    assert panel.moved and panel.moved[0][0] == 10
    assert panel.kendall_tau is not None and panel.kendall_tau < 1


def naive_tau(xs, ys):
    pairs = [(i, j) for i in range(len(xs)) for j in range(i + 1, len(xs))]
    sign = lambda v: (v > 0) - (v < 0)  # noqa: E731
    c = sum(1 for i, j in pairs if sign(xs[i] - xs[j]) * sign(ys[i] - ys[j]) > 0)
    d = sum(1 for i, j in pairs if sign(xs[i] - xs[j]) * sign(ys[i] - ys[j]) < 0)
    tx = sum(1 for i, j in pairs if xs[i] == xs[j] and ys[i] != ys[j])
    ty = sum(1 for i, j in pairs if ys[i] == ys[j] and xs[i] != xs[j])
    return (c - d) / ((c + d + tx) * (c + d + ty)) ** 0.5


@pytest.mark.parametrize("seed", range(5))
def test_kendall_tau_b_equals_a_naive_count(seed):
    rng = random.Random(seed)
    xs = [rng.randint(0, 4) for _ in range(12)]
    ys = [rng.randint(0, 4) for _ in range(12)]
    assert kendall_tau_b(xs, ys) == pytest.approx(naive_tau(xs, ys))
    assert kendall_tau_b([1, 2, 3], [1, 2, 3]) == 1
    assert kendall_tau_b([1, 2, 3], [3, 2, 1]) == -1


def test_footrule_is_zero_for_the_same_order_and_one_when_reversed():
    same = {1: 1, 2: 2, 3: 3, 4: 4}
    assert footrule(same, same) == 0
    assert footrule(same, {1: 4, 2: 3, 3: 2, 4: 1}) == 1


def test_rank_ranges_are_reproducible_and_cover_the_rank():
    ballots = ballots_of()
    first = rank_ranges(cands(10, 11, 12), ballots, samples=100, seed="abc")
    again = rank_ranges(cands(10, 11, 12), ballots, samples=100, seed="abc")
    assert first == again
    for row in rank(cands(10, 11, 12), ballots):
        span = first[row.proposal_id]
        assert 1 <= span.low <= span.high <= 3


def test_a_clear_winner_is_not_tied_and_close_proposals_are():
    # 20 voters: everyone backs 1; 2 and 3 split the rest evenly by chance.
    votes = {pid: {1: 3, (2 if pid % 2 else 3): 1} for pid in range(1, 21)}
    votes[21] = {4: 1}
    people = [(pid, None, "citizen") for pid in range(1, 22)]
    ranges = rank_ranges(cands(1, 2, 3, 4), ballots_of(votes, people), samples=200, seed=1)
    assert (ranges[1].low, ranges[1].high) == (1, 1)
    assert not ranges[1].tied
    assert ranges[2].tied and 3 in ranges[2].tied_with
    assert 2 in ranges[3].tied_with


def test_ties_are_exactly_the_overlapping_ranges():
    rng = random.Random(7)
    votes = {pid: {rng.randint(1, 8): rng.randint(1, 3)} for pid in range(1, 40)}
    people = [(pid, None, "citizen") for pid in range(1, 40)]
    ranges = rank_ranges(cands(*range(1, 9)), ballots_of(votes, people), samples=60, seed=3)
    for a, ra in ranges.items():
        expected = {b for b, rb in ranges.items() if b != a
                    and ra.low <= rb.high and rb.low <= ra.high}
        assert set(ra.tied_with) == expected


@pytest.mark.parametrize("method", ["dots", "approval", "score"])
def test_every_lens_ranks_every_method(method):
    votes = {pid: {prop: (min(v, 1) if method == "approval" else v)
                   for prop, v in given.items()} for pid, given in VOTES.items()}
    ballots = ballots_of(votes, method=method)
    result = outcome(cands(10, 11, 12, 13), ballots, [Voter(p, o, k) for p, o, k in PEOPLE],
                     "organisation", samples=50, seed=1)
    assert result.method == method
    assert {r.ranked.proposal_id for r in result.rows} == {10, 11, 12, 13}
    assert [r.ranked.rank for r in result.rows] == sorted(r.ranked.rank for r in result.rows)
    for row in result.rows:
        assert row.organisation_rank == row.ranked.rank
        assert row.range.low <= row.range.high
        assert set(row.by_type) == set(result.types)


def test_nobody_voted_gives_everyone_the_same_range():
    result = outcome(cands(1, 2), [], [Voter(1)], samples=10)
    assert [(r.range.low, r.range.high) for r in result.rows] == [(1, 1), (1, 1)]
    assert result.fairness.voters == 0 and result.fairness.kendall_tau is None
