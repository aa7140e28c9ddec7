"""Ranking, as pure functions from rows of votes to ranked rows: no database, no Flask.

Two weightings:
- `participant`: every dot counts 1.
- `organisation`: every organisation counts as one voter. A proposal's score is the sum, over
  organisations, of the mean number of dots the organisation's voting members gave it. A
  participant without an organisation is an organisation of one. So an association that brings
  twenty members weighs what one that brings two does.

Three voting methods share them (a ballot's `dots` holds the value a participant gave):
- `dots`: a budget of dots; the score is the (weighted) sum of dots.
- `approval`: yes (1) to any number of proposals; the score is the (weighted) number of yeses.
- `score`: 1-5 per proposal; the score is a damped mean, a Bayesian average
  (k * m + sum of ratings) / (k + number of ratings), where m is the workshop's mean rating
  (over every rating of every proposal) and k = SCORE_PRIOR_WEIGHT. A proposal with few
  ratings is pulled towards the workshop's mean, so two 5s do not beat forty 4s in a workshop
  whose ratings average 3. Under organisation weighting each organisation's mean rating of a
  proposal is one rating. A proposal nobody rated scores m.

A participant *supports* a proposal when they gave it a dot or a yes, or rated it 4 or 5.

Scores are computed with exact fractions, so ties are real ties and never float noise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from fractions import Fraction

WEIGHTINGS = ("participant", "organisation")
METHODS = ("dots", "approval", "score")
SCORE_MIN, SCORE_MAX = 1, 5
SCORE_PRIOR_WEIGHT = 5  # k: how many "average" ratings every proposal starts with
SUPPORT_SCORE = 4  # a rating of 4 or 5 counts as support


@dataclass(frozen=True)
class Candidate:
    """A proposal that can be ranked (visible: neither hidden, pending, withdrawn nor merged)."""

    proposal_id: int
    title: str
    element_id: int


@dataclass(frozen=True)
class Ballot:
    """The dots one participant placed on one proposal."""

    participant_id: int
    proposal_id: int
    dots: int
    organisation_key: str | None = None
    organisation_type: str | None = None
    method: str = "dots"


def supports(value: int, method: str = "dots") -> bool:
    """Whether a ballot's value counts as support for the proposal under a method."""
    if method == "score":
        return value >= SUPPORT_SCORE
    return value > 0


def method_of(ballots: list[Ballot], method: str | None = None) -> str:
    """The voting method: given, or the one the ballots carry (dots for none)."""
    if method is None:
        method = ballots[0].method if ballots else "dots"
    if method not in METHODS:
        raise ValueError(f"unknown voting method {method!r}")
    return method


@dataclass(frozen=True)
class Ranked:
    rank: int
    proposal_id: int
    title: str
    element_id: int
    score: Fraction
    supporters: int
    dots: int

    def as_dict(self) -> dict:
        return {
            "rank": self.rank,
            "proposal_id": self.proposal_id,
            "title": self.title,
            "element_id": self.element_id,
            "score": float(self.score),
            "supporters": self.supporters,
            "dots": self.dots,
        }


def voter_group(ballot: Ballot) -> str:
    """The organisation a ballot counts for; a participant without one is their own."""
    if ballot.organisation_key:
        return "org:" + ballot.organisation_key
    return f"participant:{ballot.participant_id}"


def scores(ballots: Iterable[Ballot], weighting: str = "participant",
           method: str | None = None) -> dict[int, Fraction]:
    """Each proposal's score under a weighting (proposals without dots are absent).

    Under the score method every proposal that anyone rated is present; one nobody rated
    scores `score_prior(ballots)`.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}")
    ballots = [b for b in ballots if b.dots > 0]
    if method_of(ballots, method) == "score":
        return _damped_means(_rating_units(ballots, weighting))
    if weighting == "participant":
        dots: dict[int, int] = defaultdict(int)
        for ballot in ballots:
            dots[ballot.proposal_id] += ballot.dots
        return {proposal_id: Fraction(total) for proposal_id, total in dots.items()}
    # A group's voting members are those of its participants who placed any dot at all.
    members: dict[str, set[int]] = defaultdict(set)
    dots_by_group: dict[tuple[str, int], int] = defaultdict(int)
    for ballot in ballots:
        group = voter_group(ballot)
        members[group].add(ballot.participant_id)
        dots_by_group[group, ballot.proposal_id] += ballot.dots
    # Exact, and fast: the dots are summed per group size in integers first, so only one
    # fraction per distinct size is added (adding thousands of fractions with different
    # denominators one by one was most of the cost of a live tally).
    by_size: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for (group, proposal_id), group_dots in dots_by_group.items():
        by_size[proposal_id][len(members[group])] += group_dots
    return {proposal_id: sum((Fraction(d, n) for n, d in sizes.items()), Fraction(0))
            for proposal_id, sizes in by_size.items()}


def _rating_units(ballots: list[Ballot], weighting: str) -> dict[int, list[Fraction]]:
    """The ratings each proposal got: one per participant, or one (the mean) per organisation."""
    if weighting == "participant":
        units: dict[int, list[Fraction]] = defaultdict(list)
        for ballot in ballots:
            units[ballot.proposal_id].append(Fraction(ballot.dots))
        return units
    by_group: dict[tuple[str, int], list[int]] = defaultdict(list)
    for ballot in ballots:
        by_group[voter_group(ballot), ballot.proposal_id].append(ballot.dots)
    units = defaultdict(list)
    for (_group, proposal_id), values in by_group.items():
        units[proposal_id].append(Fraction(sum(values), len(values)))
    return units


def score_prior(units: dict[int, list[Fraction]]) -> Fraction:
    """m: the mean of every rating in the workshop (0 when nobody rated anything)."""
    count = sum(len(values) for values in units.values())
    if count == 0:
        return Fraction(0)
    return sum((sum(values, Fraction(0)) for values in units.values()), Fraction(0)) / count


def _damped_means(units: dict[int, list[Fraction]]) -> dict[int, Fraction]:
    prior = score_prior(units)
    k = SCORE_PRIOR_WEIGHT
    return {
        proposal_id: (k * prior + sum(values, Fraction(0))) / (k + len(values))
        for proposal_id, values in units.items()
    }


def rank(candidates: Iterable[Candidate], ballots: Iterable[Ballot],
         weighting: str = "participant", method: str | None = None) -> list[Ranked]:
    """Every candidate, ranked by score, then supporters, then proposal id.

    Equal (score, supporters) share a rank and the next rank skips (1, 1, 3). Ballots on
    proposals that are not candidates still count towards who is a voting member. The method
    defaults to the one the ballots carry.
    """
    ballots = list(ballots)
    method = method_of(ballots, method)
    by_score = scores(ballots, weighting, method)
    unrated = Fraction(0)
    if method == "score":
        unrated = score_prior(_rating_units([b for b in ballots if b.dots > 0], weighting))
    supporters: dict[int, set[int]] = defaultdict(set)
    dots: dict[int, int] = defaultdict(int)
    for ballot in ballots:
        if ballot.dots > 0:
            if supports(ballot.dots, method):
                supporters[ballot.proposal_id].add(ballot.participant_id)
            dots[ballot.proposal_id] += ballot.dots
    return _with_ranks(
        Ranked(
            rank=0,
            proposal_id=c.proposal_id,
            title=c.title,
            element_id=c.element_id,
            score=by_score.get(c.proposal_id, unrated),
            supporters=len(supporters[c.proposal_id]),
            dots=dots[c.proposal_id],
        )
        for c in candidates
    )


def _with_ranks(rows: Iterable[Ranked]) -> list[Ranked]:
    """Sort and number rows; equal (score, supporters) share a rank, the next one skips."""
    ordered = sorted(rows, key=lambda r: (-r.score, -r.supporters, r.proposal_id))
    ranked: list[Ranked] = []
    previous_key = None
    current_rank = 0
    for position, row in enumerate(ordered, start=1):
        if (row.score, row.supporters) != previous_key:
            current_rank = position
            previous_key = (row.score, row.supporters)
        ranked.append(replace(row, rank=current_rank))
    return ranked


def within_elements(ranked: Iterable[Ranked]) -> dict[int, list[Ranked]]:
    """Split an overall ranking by model element, with ranks counted inside each element."""
    groups: dict[int, list[Ranked]] = defaultdict(list)
    for row in ranked:
        groups[row.element_id].append(row)
    return {element_id: _with_ranks(rows) for element_id, rows in groups.items()}


def rank_by_element(candidates: Iterable[Candidate], ballots: Iterable[Ballot],
                    weighting: str = "participant",
                    method: str | None = None) -> dict[int, list[Ranked]]:
    return within_elements(rank(candidates, ballots, weighting, method))
