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
from typing import NamedTuple

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


def support_threshold(method: str = "dots") -> int:
    """The least value that counts as support under a method: a dot or a yes, or a 4."""
    return SUPPORT_SCORE if method == "score" else 1


def supports(value: int, method: str = "dots") -> bool:
    """Whether a ballot's value counts as support for the proposal under a method."""
    return value >= support_threshold(method)


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


class Cell(NamedTuple):
    """The votes of one group on one proposal, summed: all that any ranking needs of them.

    `group` is an organisation key, or None for the participants without one (each of them a
    group of their own). Only ballots with a value (dots > 0) are summed. A named tuple: the
    live tally makes thousands of them five times a second, straight from database rows."""

    proposal_id: int
    group: str | None
    ballots: int  # participants of the group who gave the proposal a value
    total: int  # the values summed (dots, yeses or ratings)
    supporters: int  # of those participants, the ones who support it


@dataclass(frozen=True)
class Summary:
    """Every ballot of a workshop, summed per proposal and group (see `summarise`).

    `members`: per organisation key, its voting members (participants who gave any value to
    any proposal). The database builds the same summary with GROUP BY for the live tally
    (`results.summary`), so a tally never loads every ballot."""

    method: str
    cells: tuple[Cell, ...]
    members: dict[str, int]


def summarise(ballots: Iterable[Ballot], method: str | None = None) -> Summary:
    ballots = [b for b in ballots if b.dots > 0]
    method = method_of(ballots, method)
    sums: dict[tuple[int, str | None], list[int]] = {}
    members: dict[str, set[int]] = defaultdict(set)
    for ballot in ballots:
        group = ballot.organisation_key or None
        if group is not None:
            members[group].add(ballot.participant_id)
        cell = sums.setdefault((ballot.proposal_id, group), [0, 0, 0])
        cell[0] += 1
        cell[1] += ballot.dots
        cell[2] += supports(ballot.dots, method)
    return Summary(method=method,
                   cells=tuple(Cell(pid, group, n, total, backers)
                               for (pid, group), (n, total, backers) in sums.items()),
                   members={group: len(ids) for group, ids in members.items()})


def scores(ballots: Iterable[Ballot], weighting: str = "participant",
           method: str | None = None) -> dict[int, Fraction]:
    """Each proposal's score under a weighting (proposals without dots are absent).

    Under the score method every proposal that anyone rated is present; one nobody rated
    scores `score_prior(ballots)`.
    """
    return summary_scores(summarise(ballots, method), weighting)


def summary_scores(summary: Summary, weighting: str = "participant") -> dict[int, Fraction]:
    """`scores`, from a summary."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}")
    if summary.method == "score":
        return _damped_means(_rating_units(summary, weighting))
    if weighting == "participant":
        dots: dict[int, int] = defaultdict(int)
        for cell in summary.cells:
            dots[cell.proposal_id] += cell.total
        return {proposal_id: Fraction(total) for proposal_id, total in dots.items()}
    # An organisation counts the mean of its voting members' dots; a participant without one
    # counts their own. Exact, and fast: the dots are summed per group size in integers first,
    # so only one fraction per distinct size is added (adding thousands of fractions with
    # different denominators one by one was most of the cost of a live tally).
    by_size: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for cell in summary.cells:
        size = 1 if cell.group is None else summary.members[cell.group]
        by_size[cell.proposal_id][size] += cell.total
    return {proposal_id: sum((Fraction(d, n) for n, d in sizes.items()), Fraction(0))
            for proposal_id, sizes in by_size.items()}


def _rating_units(summary: Summary, weighting: str) -> dict[int, tuple[Fraction, int]]:
    """Per proposal, the sum and the number of its ratings: one rating per participant, or,
    under organisation weighting, one (the mean) per organisation."""
    units: dict[int, tuple[Fraction, int]] = {}
    for cell in summary.cells:
        if weighting == "participant" or cell.group is None:
            value, count = Fraction(cell.total), cell.ballots
        else:
            value, count = Fraction(cell.total, cell.ballots), 1
        total, n = units.get(cell.proposal_id, (Fraction(0), 0))
        units[cell.proposal_id] = (total + value, n + count)
    return units


def score_prior(units: dict[int, tuple[Fraction, int]]) -> Fraction:
    """m: the mean of every rating in the workshop (0 when nobody rated anything)."""
    count = sum(n for _total, n in units.values())
    if count == 0:
        return Fraction(0)
    return sum((total for total, _n in units.values()), Fraction(0)) / count


def _damped_means(units: dict[int, tuple[Fraction, int]]) -> dict[int, Fraction]:
    prior = score_prior(units)
    k = SCORE_PRIOR_WEIGHT
    return {proposal_id: (k * prior + total) / (k + n) for proposal_id, (total, n) in units.items()}


def rank(candidates: Iterable[Candidate], ballots: Iterable[Ballot],
         weighting: str = "participant", method: str | None = None) -> list[Ranked]:
    """Every candidate, ranked by score, then supporters, then proposal id.

    Equal (score, supporters) share a rank and the next rank skips (1, 1, 3). Ballots on
    proposals that are not candidates still count towards who is a voting member. The method
    defaults to the one the ballots carry.
    """
    return rank_summary(candidates, summarise(ballots, method), weighting)


def rank_summary(candidates: Iterable[Candidate], summary: Summary,
                 weighting: str = "participant") -> list[Ranked]:
    """`rank`, from a summary."""
    by_score = summary_scores(summary, weighting)
    unrated = Fraction(0)
    if summary.method == "score":
        unrated = score_prior(_rating_units(summary, weighting))
    supporters: dict[int, int] = defaultdict(int)
    dots: dict[int, int] = defaultdict(int)
    for cell in summary.cells:
        supporters[cell.proposal_id] += cell.supporters
        dots[cell.proposal_id] += cell.total
    return _with_ranks(
        Ranked(
            rank=0,
            proposal_id=c.proposal_id,
            title=c.title,
            element_id=c.element_id,
            score=by_score.get(c.proposal_id, unrated),
            supporters=supporters[c.proposal_id],
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
