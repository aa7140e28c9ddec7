"""Results of a workshop: loads the rows the pure ranking and lenses need, and who may see
them."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, case, func, literal_column, select

from ..cpu import cpu_bound
from ..extensions import db
from ..models import DotVote, Participant, Phase, Proposal, ProposalStatus, Workshop
from .access import can_review
from .errors import DomainError, invalid
from .lenses import BOOTSTRAP_SAMPLES, Outcome, Voter, outcome
from .ranking import (
    WEIGHTINGS,
    Ballot,
    Candidate,
    Cell,
    Ranked,
    Summary,
    rank,
    rank_by_element,
    support_threshold,
)


def check_weighting(weighting: str | None) -> str:
    weighting = weighting or "participant"
    if weighting not in WEIGHTINGS:
        raise invalid(_l("Vægtning skal være 'participant' eller 'organisation'."), "weighting")
    return weighting


def require_results_visible(workshop: Workshop, user, participant: Participant | None) -> None:
    """Staff who review see results at any time; participants from the results phase on."""
    if user is not None and can_review(user, workshop):
        return
    if participant is not None and participant.workshop_id == workshop.id \
            and participant.removed_at is None:
        if workshop.phase_enum.index >= Phase.RESULTS.index or workshop.results_revealed:
            return
        raise DomainError("wrong_phase", _l("Resultaterne vises, når afstemningen er slut."))
    if participant is not None or (user is not None and user.is_authenticated):
        raise DomainError("forbidden")
    raise DomainError("unauthenticated")


def candidates(workshop: Workshop) -> list[Candidate]:
    return [
        Candidate(proposal_id=pid, title=title, element_id=element_id)
        for pid, title, element_id in db.session.execute(
            select(Proposal.id, Proposal.title, Proposal.element_id).where(
                Proposal.workshop_id == workshop.id,
                Proposal.status == ProposalStatus.VISIBLE.value,
            )
        )
    ]


def ballots(workshop: Workshop) -> list[Ballot]:
    """Every vote in the workshop with the voter's organisation and its type, in one query.

    Each ballot carries the workshop's voting method, so every ranking of them (the live
    tally too) ranks by the method the workshop uses.
    """
    method = workshop.voting_method or "dots"
    return [
        Ballot(participant_id=pid, proposal_id=prop, dots=dots, organisation_key=org,
               organisation_type=kind, method=method)
        for pid, prop, dots, org, kind in db.session.execute(
            select(DotVote.participant_id, DotVote.proposal_id, DotVote.dots,
                   Participant.organisation_key, Participant.organisation_type)
            .join(Participant, DotVote.participant_id == Participant.id)
            .where(DotVote.workshop_id == workshop.id)
        )
    ]


# The ballots summed by the database, for the live tally (see ranking.Summary): rows per
# proposal and organisation, not per vote. Built once, with bound parameters. An empty
# organisation key means none, as NULL does (a literal '', not a parameter: PostgreSQL
# matches a GROUP BY expression to its SELECT only when they are written alike).
_GROUP = func.nullif(Participant.organisation_key, literal_column("''"))
_CELLS = (
    select(DotVote.proposal_id, _GROUP, func.count(), func.sum(DotVote.dots),
           func.sum(case((DotVote.dots >= bindparam("supports_from"), 1), else_=0)))
    .join(Participant, DotVote.participant_id == Participant.id)
    .where(DotVote.workshop_id == bindparam("workshop"), DotVote.dots > 0)
    .group_by(DotVote.proposal_id, _GROUP)
)
# Per organisation, its voting members; a participant is in exactly one group, so the counts
# of all groups (with the participants without one) sum to the number of voters. Read from
# the participants (one index probe each for a vote) rather than by a distinct count over
# every vote: a third of the time on SQLite (2,000 voters, 10,000 votes: 8.0 -> 2.5 ms).
_GROUPS = (
    select(_GROUP, func.count())
    .where(Participant.workshop_id == bindparam("workshop"),
           select(DotVote.id).where(DotVote.participant_id == Participant.id, DotVote.dots > 0)
           .exists())
    .group_by(_GROUP)
)


def summary(workshop: Workshop) -> tuple[Summary, int]:
    """The workshop's ballots summed per proposal and group by the database, and the number
    of voters: what the live tally ranks, in two statements whatever the number of votes.
    Equal to `ranking.summarise(ballots(workshop))` (tests/test_tally.py checks it).

    Both statements sort every vote of the workshop, on the event loop: the broadcaster
    spaces tallies out by what they cost (live/broadcaster.py)."""
    method = workshop.voting_method or "dots"
    params = {"workshop": workshop.id, "supports_from": support_threshold(method)}
    connection = db.session.connection()
    cells = tuple(map(Cell._make, connection.execute(_CELLS, params)))
    members: dict[str, int] = {}
    voters = 0
    for group, count in connection.execute(_GROUPS, params):
        voters += count
        if group is not None:
            members[group] = count
    return Summary(method=method, cells=cells, members=members), voters


def voters(workshop: Workshop) -> list[Voter]:
    """Everyone who took part (joined and not removed)."""
    return [
        Voter(pid, org, kind)
        for pid, org, kind in db.session.execute(
            select(Participant.id, Participant.organisation_key, Participant.organisation_type)
            .where(Participant.workshop_id == workshop.id, Participant.removed_at.is_(None))
        )
    ]


def lenses(workshop: Workshop, weighting: str = "participant", *,
           samples: int = BOOTSTRAP_SAMPLES, data=None) -> Outcome:
    """The ranking with every lens. The bootstrap is seeded by the workshop's code, so the same
    votes always give the same rank ranges. `data` reuses (candidates, ballots, voters)."""
    weighting = check_weighting(weighting)
    cands, votes, people = data or (candidates(workshop), ballots(workshop), voters(workshop))
    # Read here, computed off the event loop: the bootstrap takes seconds for a large
    # workshop, and a live session in the same process must not stop meanwhile (cpu.py).
    return cpu_bound(outcome, cands, votes, people, weighting, workshop.voting_method or "dots",
                     samples=samples, seed=f"samskab:{workshop.code}")


def ranking(workshop: Workshop, weighting: str = "participant") -> list[Ranked]:
    return rank(candidates(workshop), ballots(workshop), check_weighting(weighting))


def ranking_by_element(workshop: Workshop,
                       weighting: str = "participant") -> dict[int, list[Ranked]]:
    return rank_by_element(candidates(workshop), ballots(workshop), check_weighting(weighting))
