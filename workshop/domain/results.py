"""Results of a workshop: loads the rows the pure ranking and lenses need, and who may see
them."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, and_, bindparam, case, cast, func, literal_column, select

from ..cpu import cpu_bound
from ..extensions import db
from ..models import (
    DotVote,
    Participant,
    Phase,
    Proposal,
    ProposalStatus,
    TallyCell,
    TallyGroup,
    Workshop,
)
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


# The live tally's sums, kept by the database as votes are written (workshop/sums.py): one
# row per proposal and organisation, read in two statements whatever the number of votes.
# Built once, with bound parameters. The empty key is the participants without an
# organisation (None in a `Cell`); a cell or group whose votes were all taken back stays at 0.
_cells = TallyCell.__table__
_CELLS = (
    select(_cells.c.proposal_id, func.nullif(_cells.c.group_key, literal_column("''")),
           _cells.c.ballots, _cells.c.total,
           case((bindparam("score_method"), _cells.c.high), else_=_cells.c.ballots))
    .where(_cells.c.workshop_id == bindparam("workshop"), _cells.c.ballots > 0)
)
_groups = TallyGroup.__table__
_GROUPS = (
    select(_groups.c.group_key, _groups.c.voters)
    .where(_groups.c.workshop_id == bindparam("workshop"), _groups.c.voters > 0)
)


def summary(workshop: Workshop) -> tuple[Summary, int]:
    """The workshop's ballots summed per proposal and group, and the number of voters: what
    the live tally ranks. Read from the sums the database keeps as votes are written, so a
    tally reads one row per (proposal, organisation) and never the votes. Equal to
    `ranking.summarise(ballots(workshop))` (tests/test_tally.py checks it after every kind of
    write)."""
    method = workshop.voting_method or "dots"
    # Support (ranking.supports): a rating of SUPPORT_SCORE or more under the score method,
    # any vote under the others.
    params = {"workshop": workshop.id, "score_method": method == "score"}
    connection = db.session.connection()
    cells = tuple(map(Cell._make, connection.execute(_CELLS, params)))
    members: dict[str, int] = {}
    voters = 0
    for group, count in connection.execute(_GROUPS, params):
        voters += count
        if group:
            members[group] = count
    return Summary(method=method, cells=cells, members=members), voters


# The same sums, per proposal, for the live tally under dots and approval (where a rank needs
# no more than a proposal's totals): one row per proposal. The organisation-weighted score is
# summed by the database in floating point (each group's dots over its voting members; one
# participant without an organisation counts for themselves): a figure to display, rounded to
# four decimals, not to rank by (the results rank with exact fractions: `ranking.scores`).
_size = case((_cells.c.group_key == literal_column("''"), 1),
             else_=func.nullif(_groups.c.voters, 0))
_PROPOSALS = (
    select(_cells.c.proposal_id, func.sum(_cells.c.ballots), func.sum(_cells.c.total),
           func.sum(cast(_cells.c.total, Float) / _size))
    .select_from(_cells.outerjoin(_groups, and_(_groups.c.workshop_id == _cells.c.workshop_id,
                                                _groups.c.group_key == _cells.c.group_key)))
    .where(_cells.c.workshop_id == bindparam("workshop"), _cells.c.ballots > 0)
    .group_by(_cells.c.proposal_id)
)


def proposal_totals(workshop: Workshop) -> tuple[Summary, dict[int, float], int]:
    """For the live tally under dots or approval: a summary with one cell per proposal (every
    vote a support), each proposal's organisation-weighted score as a float, and the number of
    voters, in two statements that read one row per proposal and organisation at most.

    Ranking this summary by participant gives what ranking every ballot gives (under these
    methods a proposal's rank depends only on its totals); the score method needs the cells
    (`summary`)."""
    method = workshop.voting_method or "dots"
    if method == "score":
        raise ValueError("the score method ranks by its cells: use summary()")
    params = {"workshop": workshop.id}
    connection = db.session.connection()
    cells, org_scores = [], {}
    for proposal_id, ballots, total, org_score in connection.execute(_PROPOSALS, params):
        cells.append(Cell(proposal_id, None, ballots, total, ballots))
        org_scores[proposal_id] = org_score or 0.0
    voters = sum(count for _group, count in connection.execute(_GROUPS, params))
    return Summary(method=method, cells=tuple(cells), members={}), org_scores, voters


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
