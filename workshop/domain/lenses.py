"""Ranking lenses for politicians, as pure functions of the ballots (no database, no Flask).

One source for the review page, the API, the exports and the report:

- **Per organisation type**: for every proposal and every type that voted, the dots (or yeses,
  or the sum of ratings) and the share of that type's voters who support it.
- **Consensus**: high only when every organisation type that voted supports the proposal:
  the product over the voting types t of (supporters_t + 1) / (voters_t + 2). Each factor is
  the share of the type's voters who support it, smoothed so that an empty or tiny type neither
  zeroes nor decides the product (Laplace's rule of succession).
- **Uncertainty**: a bootstrap: the voters are drawn with replacement `samples` times (seeded,
  so the same workshop always gives the same figures), the ranking is redone on each draw, and a
  proposal's rank range is the 5th to 95th percentile (nearest rank) of its ranks. Proposals
  whose ranges overlap are *statistically tied*.
- **Fairness**: who took part, how much of the vote came from the largest organisation, and how
  far the participant and organisation rankings differ (Kendall's tau-b of the two scores, and
  the normalised Spearman footrule of the two rank lists: 0 = the same order, 1 = as far apart
  as two orders can be).
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from .ranking import (
    SCORE_PRIOR_WEIGHT,
    Ballot,
    Candidate,
    Ranked,
    method_of,
    rank,
    supports,
    voter_group,
)

UNSPECIFIED = "unspecified"  # a participant who gave no organisation type
BOOTSTRAP_SAMPLES = 200
RANGE_LOW, RANGE_HIGH = 0.05, 0.95


@dataclass(frozen=True)
class Voter:
    """Someone who took part (joined and was not removed), whether or not they voted."""

    participant_id: int
    organisation_key: str | None = None
    organisation_type: str | None = None


@dataclass(frozen=True)
class TypeSupport:
    organisation_type: str
    dots: int  # dots, yeses or the sum of ratings from this type
    supporters: int  # this type's voters who support the proposal
    voters: int  # this type's participants who voted at all

    @property
    def share(self) -> Fraction:
        return Fraction(self.supporters, self.voters) if self.voters else Fraction(0)

    def as_dict(self) -> dict:
        return {"organisation_type": self.organisation_type, "dots": self.dots,
                "supporters": self.supporters, "voters": self.voters,
                "share": float(self.share)}


@dataclass(frozen=True)
class RankRange:
    low: int
    high: int
    tied_with: tuple[int, ...] = ()

    @property
    def tied(self) -> bool:
        return bool(self.tied_with)


@dataclass(frozen=True)
class Fairness:
    participants: int
    voters: int
    organisations: int  # distinct organisations among those who took part
    voting_organisations: int
    participants_by_type: dict[str, int]
    voters_by_type: dict[str, int]
    organisations_by_type: dict[str, int]
    largest_organisation: str | None  # its (case-folded) name
    largest_organisation_share: Fraction  # of all dots (yeses; ratings under score)
    kendall_tau: float | None  # participant vs organisation scores; None with < 2 proposals
    footrule: Fraction | None  # normalised Spearman footrule of the two rankings
    moved: tuple[tuple[int, int, int], ...] = ()  # (proposal_id, participant rank, org rank)

    def as_dict(self) -> dict:
        return {
            "participants": self.participants,
            "voters": self.voters,
            "organisations": self.organisations,
            "voting_organisations": self.voting_organisations,
            "participants_by_type": self.participants_by_type,
            "voters_by_type": self.voters_by_type,
            "organisations_by_type": self.organisations_by_type,
            "largest_organisation_share": float(self.largest_organisation_share),
            "kendall_tau": self.kendall_tau,
            "footrule": float(self.footrule) if self.footrule is not None else None,
            "moved": [{"proposal_id": p, "participant_rank": a, "organisation_rank": b}
                      for p, a, b in self.moved],
        }


@dataclass(frozen=True)
class LensRow:
    """One proposal seen through every lens, under the weighting asked for."""

    ranked: Ranked
    organisation_rank: int
    participant_rank: int
    consensus: Fraction
    consensus_rank: int
    range: RankRange
    by_type: dict[str, TypeSupport] = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = self.ranked.as_dict()
        data.update({
            "participant_rank": self.participant_rank,
            "organisation_rank": self.organisation_rank,
            "consensus": float(self.consensus),
            "consensus_rank": self.consensus_rank,
            "rank_range": {"low": self.range.low, "high": self.range.high},
            "tied": self.range.tied,
            "tied_with": list(self.range.tied_with),
            "by_type": {t: s.as_dict() for t, s in self.by_type.items()},
        })
        return data


@dataclass(frozen=True)
class Outcome:
    weighting: str
    method: str
    rows: list[LensRow]
    types: list[str]  # the organisation types that voted, in a fixed order
    fairness: Fairness
    samples: int


def type_of(organisation_type: str | None) -> str:
    return organisation_type or UNSPECIFIED


def _voters_by_type(ballots: list[Ballot]) -> dict[str, set[int]]:
    voters: dict[str, set[int]] = defaultdict(set)
    for ballot in ballots:
        if ballot.dots > 0:
            voters[type_of(ballot.organisation_type)].add(ballot.participant_id)
    return voters


def type_breakdown(candidates: Iterable[Candidate], ballots: Iterable[Ballot],
                   method: str | None = None) -> dict[int, dict[str, TypeSupport]]:
    """For every candidate, its support within each organisation type that voted."""
    ballots = [b for b in ballots if b.dots > 0]
    method = method_of(ballots, method)
    voters = _voters_by_type(ballots)
    dots: dict[tuple[int, str], int] = defaultdict(int)
    backers: dict[tuple[int, str], set[int]] = defaultdict(set)
    for ballot in ballots:
        key = (ballot.proposal_id, type_of(ballot.organisation_type))
        dots[key] += ballot.dots
        if supports(ballot.dots, method):
            backers[key].add(ballot.participant_id)
    return {
        c.proposal_id: {
            kind: TypeSupport(kind, dots[c.proposal_id, kind],
                              len(backers[c.proposal_id, kind]), len(people))
            for kind, people in sorted(voters.items())
        }
        for c in candidates
    }


def consensus(candidates: Iterable[Candidate], ballots: Iterable[Ballot],
              method: str | None = None) -> dict[int, Fraction]:
    """Product over the voting organisation types of (supporters + 1) / (voters + 2)."""
    breakdown = type_breakdown(candidates, ballots, method)
    out = {}
    for proposal_id, by_type in breakdown.items():
        value = Fraction(1)
        for support in by_type.values():
            value *= Fraction(support.supporters + 1, support.voters + 2)
        out[proposal_id] = value
    return out


def competition_ranks(values: dict[int, tuple]) -> dict[int, int]:
    """1, 1, 3 ranks by descending key tuple (ties share a rank, the next one skips)."""
    order = sorted(values, key=lambda pid: (tuple(-v for v in values[pid]), pid))
    ranks: dict[int, int] = {}
    previous = None
    current = 0
    for position, pid in enumerate(order, start=1):
        if values[pid] != previous:
            current, previous = position, values[pid]
        ranks[pid] = current
    return ranks


# --- Bootstrap ------------------------------------------------------------------------------


def _float_scores(sample: list[tuple[int, tuple[str, list[tuple[int, int, bool]]]]],
                  weighting: str, method: str) -> tuple[dict[int, float], float, dict[int, int]]:
    """Scores, the score of an unrated proposal, and supporter counts of one resampled
    electorate, in floats (fast enough for hundreds of draws; the exact ranking stays in
    Fractions). `sample` holds (times drawn, (group, [(proposal, value, supports)]))."""
    supporters: dict[int, int] = defaultdict(int)
    if weighting == "participant":
        sums: dict[int, float] = defaultdict(float)
        counts: dict[int, int] = defaultdict(int)
        for times, (_group, given) in sample:
            for pid, value, backs in given:
                sums[pid] += value * times
                counts[pid] += times
                if backs:
                    supporters[pid] += times
        if method == "score":
            return (*_float_damped(sums, counts), supporters)
        return sums, 0.0, supporters
    members: dict[str, int] = defaultdict(int)
    group_sums: dict[tuple[str, int], float] = defaultdict(float)
    group_counts: dict[tuple[str, int], int] = defaultdict(int)
    for times, (group, given) in sample:
        members[group] += times
        for pid, value, backs in given:
            group_sums[group, pid] += value * times
            group_counts[group, pid] += times
            if backs:
                supporters[pid] += times
    totals: dict[int, float] = defaultdict(float)
    if method == "score":
        counts = defaultdict(int)
        for (group, pid), total in group_sums.items():
            totals[pid] += total / group_counts[group, pid]
            counts[pid] += 1
        return (*_float_damped(totals, counts), supporters)
    for (group, pid), total in group_sums.items():
        totals[pid] += total / members[group]
    return totals, 0.0, supporters


def _float_damped(sums: dict[int, float], counts: dict[int, int]) -> tuple[dict, float]:
    n = sum(counts.values())
    prior = sum(sums.values()) / n if n else 0.0
    k = SCORE_PRIOR_WEIGHT
    return {pid: (k * prior + sums[pid]) / (k + counts[pid]) for pid in sums}, prior


def _percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile: the smallest value with at least q of the values at or below."""
    index = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def rank_ranges(candidates: Iterable[Candidate], ballots: Iterable[Ballot],
                weighting: str = "participant", method: str | None = None, *,
                samples: int = BOOTSTRAP_SAMPLES, seed: int | str = 0,
                low: float = RANGE_LOW, high: float = RANGE_HIGH) -> dict[int, RankRange]:
    """Each candidate's rank range under a seeded bootstrap of the voters, and its ties."""
    candidates = list(candidates)
    ballots = [b for b in ballots if b.dots > 0]
    method = method_of(ballots, method)
    ids = [c.proposal_id for c in candidates]
    by_voter: dict[int, list[tuple[int, int, bool]]] = defaultdict(list)
    group_of: dict[int, str] = {}
    for ballot in ballots:
        by_voter[ballot.participant_id].append(
            (ballot.proposal_id, ballot.dots, supports(ballot.dots, method)))
        group_of[ballot.participant_id] = voter_group(ballot)
    electorate = [(group_of[pid], by_voter[pid]) for pid in sorted(by_voter)]
    ranks: dict[int, list[int]] = {pid: [] for pid in ids}
    rng = random.Random(seed)
    draws = samples if electorate else 1
    for _ in range(draws):
        drawn = Counter(rng.choices(range(len(electorate)), k=len(electorate)))
        sample = [(times, electorate[index]) for index, times in drawn.items()]
        totals, default, supporters = _float_scores(sample, weighting, method)
        keyed = {pid: (round(totals.get(pid, default), 9), supporters.get(pid, 0)) for pid in ids}
        for pid, value in competition_ranks(keyed).items():
            ranks[pid].append(value)
    bounds = {}
    for pid in ids:
        values = sorted(ranks[pid])
        bounds[pid] = (_percentile(values, low), _percentile(values, high))
    order = sorted(ids, key=lambda pid: bounds[pid])
    tied: dict[int, list[int]] = defaultdict(list)
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if bounds[b][0] > bounds[a][1]:
                break
            tied[a].append(b)
            tied[b].append(a)
    return {pid: RankRange(bounds[pid][0], bounds[pid][1], tuple(sorted(tied[pid])))
            for pid in ids}


# --- Fairness -------------------------------------------------------------------------------


def kendall_tau_b(xs: Sequence, ys: Sequence) -> float | None:
    """Kendall's tau-b of two paired sequences (ties in either count as neither way)."""
    n = len(xs)
    if n < 2:
        return None
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx = (xs[i] > xs[j]) - (xs[i] < xs[j])
            dy = (ys[i] > ys[j]) - (ys[i] < ys[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx == dy:
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x)
                            * (concordant + discordant + ties_y))
    if denominator == 0:
        return None
    return (concordant - discordant) / denominator


def _dense(values: list) -> list[int]:
    """Each value's position among the distinct values: the same order and ties, as ints
    (Kendall's tau over exact fractions would compare fractions n^2 times)."""
    index = {value: i for i, value in enumerate(sorted(set(values)))}
    return [index[value] for value in values]


def footrule(ranks_a: dict[int, int], ranks_b: dict[int, int]) -> Fraction | None:
    """Spearman's footrule, sum of |rank difference|, over its maximum floor(n^2 / 2)."""
    n = len(ranks_a)
    if n < 2:
        return None
    total = sum(abs(ranks_a[pid] - ranks_b[pid]) for pid in ranks_a)
    return Fraction(total, n * n // 2)


def fairness(candidates: Iterable[Candidate], ballots: Iterable[Ballot],
             voters: Iterable[Voter], method: str | None = None) -> Fairness:
    candidates = list(candidates)
    ballots = [b for b in ballots if b.dots > 0]
    method = method_of(ballots, method)
    people = list(voters)
    voted = {b.participant_id for b in ballots}
    org_type: dict[str, Counter] = defaultdict(Counter)
    for person in people:
        if person.organisation_key:
            org_type[person.organisation_key][type_of(person.organisation_type)] += 1
    for ballot in ballots:  # a voter who has since been removed still counts for their vote
        if ballot.organisation_key and ballot.organisation_key not in org_type:
            org_type[ballot.organisation_key][type_of(ballot.organisation_type)] += 1
    organisations_by_type: Counter = Counter(
        counts.most_common(1)[0][0] for counts in org_type.values())
    weight: dict[str, int] = defaultdict(int)
    total = 0
    for ballot in ballots:
        amount = 1 if method == "score" else ballot.dots
        total += amount
        if ballot.organisation_key:
            weight[ballot.organisation_key] += amount
    largest = max(sorted(weight), key=lambda key: weight[key]) if weight else None
    by_person = rank(candidates, ballots, "participant", method)
    by_org = rank(candidates, ballots, "organisation", method)
    person_rank = {r.proposal_id: r.rank for r in by_person}
    org_rank = {r.proposal_id: r.rank for r in by_org}
    person_score = {r.proposal_id: r.score for r in by_person}
    org_score = {r.proposal_id: r.score for r in by_org}
    ids = sorted(person_rank)
    moved = sorted(((pid, person_rank[pid], org_rank[pid]) for pid in ids
                    if person_rank[pid] != org_rank[pid]),
                   key=lambda row: (-abs(row[1] - row[2]), row[1], row[0]))[:5]
    voters_by_type = Counter(type_of(b.organisation_type)
                             for b in {b.participant_id: b for b in ballots}.values())
    return Fairness(
        participants=len(people),
        voters=len(voted),
        organisations=len(org_type),
        voting_organisations=len({b.organisation_key for b in ballots if b.organisation_key}),
        participants_by_type=dict(sorted(Counter(type_of(p.organisation_type)
                                                 for p in people).items())),
        voters_by_type=dict(sorted(voters_by_type.items())),
        organisations_by_type=dict(sorted(organisations_by_type.items())),
        largest_organisation=largest,
        largest_organisation_share=Fraction(weight[largest], total) if largest else Fraction(0),
        kendall_tau=kendall_tau_b(_dense([person_score[p] for p in ids]),
                                  _dense([org_score[p] for p in ids])),
        footrule=footrule(person_rank, org_rank),
        moved=tuple(moved),
    )


# --- Everything at once -----------------------------------------------------------------------


def outcome(candidates: Iterable[Candidate], ballots: Iterable[Ballot],
            voters: Iterable[Voter], weighting: str = "participant",
            method: str | None = None, *, samples: int = BOOTSTRAP_SAMPLES,
            seed: int | str = 0) -> Outcome:
    """The ranking under `weighting` with every lens, in ranked order."""
    candidates = list(candidates)
    ballots = [b for b in ballots if b.dots > 0]
    method = method_of(ballots, method)
    ranked = rank(candidates, ballots, weighting, method)
    other = rank(candidates, ballots,
                 "organisation" if weighting == "participant" else "participant", method)
    other_rank = {r.proposal_id: r.rank for r in other}
    agreement = consensus(candidates, ballots, method)
    consensus_rank = competition_ranks({pid: (value,) for pid, value in agreement.items()})
    ranges = rank_ranges(candidates, ballots, weighting, method, samples=samples, seed=seed)
    breakdown = type_breakdown(candidates, ballots, method)
    rows = []
    for row in ranked:
        pid = row.proposal_id
        own = row.rank
        rows.append(LensRow(
            ranked=row,
            participant_rank=own if weighting == "participant" else other_rank[pid],
            organisation_rank=own if weighting == "organisation" else other_rank[pid],
            consensus=agreement[pid],
            consensus_rank=consensus_rank[pid],
            range=ranges[pid],
            by_type=breakdown[pid],
        ))
    return Outcome(
        weighting=weighting,
        method=method,
        rows=rows,
        types=sorted(_voters_by_type(ballots)),
        fairness=fairness(candidates, ballots, voters, method),
        samples=samples,
    )
