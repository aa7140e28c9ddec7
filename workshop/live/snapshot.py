"""The state a live screen receives: a full snapshot per role, and the tally.

A client that connects or reconnects gets a snapshot; anything it missed is repaired by the
next snapshot. Every query here is bounded: none runs once per proposal or per participant.
"""

from __future__ import annotations

import time
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ..api.serialize import CommentRow, join_url, proposal_json
from ..domain import proposals, results
from ..domain.facilitation import timer_state
from ..domain.participants import ORGANISATION_TYPE_LABELS
from ..domain.ranking import Candidate, rank_summary, summary_scores
from ..domain.workshops import Settings, allowed_phase_moves
from ..extensions import db
from ..models import (
    DotVote,
    Participant,
    Phase,
    Proposal,
    ProposalStatus,
    Workshop,
)

FACILITATOR, PRESENTER, PARTICIPANT = "facilitator", "presenter", "participant"


def tally_visible(workshop: Workshop, role: str) -> bool:
    """Facilitators always see the tally; others once it is revealed or results are out."""
    if role == FACILITATOR:
        return True
    return workshop.results_revealed or workshop.phase_enum.index >= Phase.RESULTS.index


def tally(workshop: Workshop, candidates: list[Candidate] | None = None) -> dict:
    """The live ranking in both weightings, compact: one row per visible proposal.

    `candidates`: the visible proposals, when the caller has already loaded them."""
    # Taken before the queries: a later tally never reflects an older state of the database.
    seq = time.time_ns() // 1000
    if candidates is None:
        candidates = results.candidates(workshop)
    # Summed by the database as votes are written (workshop/sums.py): a tally reads one row
    # per proposal (dots, approval) or per proposal and organisation (score), never the votes.
    if (workshop.voting_method or "dots") == "score":
        summed, voters = results.summary(workshop)
        org_scores = {pid: float(score)
                      for pid, score in summary_scores(summed, "organisation").items()}
    else:
        summed, org_scores, voters = results.proposal_totals(workshop)
    rows = [
        {
            "id": row.proposal_id,
            "rank": row.rank,
            "dots": row.dots,
            "supporters": row.supporters,
            "org_score": round(org_scores.get(row.proposal_id, 0.0), 4),
            # What the ranking ranks by: the dots or yeses, or (score) the damped mean rating.
            "score": round(float(row.score), 3),
        }
        for row in rank_summary(candidates, summed, "participant")
    ]
    return {
        "seq": seq,
        "method": summed.method,
        "rows": rows,
        "voters": voters,
        "dots": sum(cell.total for cell in summed.cells),
    }


def _proposals(workshop: Workshop, role: str, participant: Participant | None) -> list[Proposal]:
    query = (
        select(Proposal)
        .where(Proposal.workshop_id == workshop.id)
        .options(joinedload(Proposal.author))  # in the same statement: one author each
        .order_by(Proposal.id)
    )
    if role != FACILITATOR:
        visible = Proposal.status.in_((ProposalStatus.VISIBLE.value, ProposalStatus.MERGED.value))
        if participant is not None:
            visible = visible | (
                (Proposal.author_id == participant.id)
                & (Proposal.status != ProposalStatus.WITHDRAWN.value)
            )
        query = query.where(visible)
    return list(db.session.scalars(query))


def _candidates(every: list[Proposal]) -> list[Candidate]:
    """The tally's candidates from the proposals a snapshot loaded anyway (every role's list
    holds all the visible ones)."""
    return [Candidate(proposal_id=p.id, title=p.title, element_id=p.element_id)
            for p in every if p.status == ProposalStatus.VISIBLE.value]


def _comments(workshop: Workshop, proposal_ids: set[int]) -> list[dict]:
    return [CommentRow(*row).json(workshop) for row in proposals.comment_rows(workshop)
            if row.proposal_id in proposal_ids]


def workshop_header(workshop: Workshop) -> dict:
    return {
        "code": workshop.code,
        "title": workshop.title,
        "description": workshop.description,
        "phase": workshop.phase,
        "settings": Settings.of(workshop).as_dict(),
        "join_url": join_url(workshop),
        "join_locked": workshop.join_locked,
        "results_revealed": workshop.results_revealed,
        "spotlight": workshop.spotlight_proposal_id,
        "version": workshop.version,
    }


def snapshot(workshop: Workshop, role: str, *, participant: Participant | None = None,
             presence: dict | None = None) -> dict:
    """Everything one screen shows, for its role."""
    every = _proposals(workshop, role, participant)
    merged_from: dict[int, list[Proposal]] = defaultdict(list)
    for proposal in every:
        if proposal.status == ProposalStatus.MERGED.value and proposal.merged_into_id:
            merged_from[proposal.merged_into_id].append(proposal)
    shown = [p for p in every if p.status != ProposalStatus.MERGED.value]
    staff = role == FACILITATOR
    data = {
        "role": role,
        "version": workshop.version,
        "workshop": workshop_header(workshop),
        "elements": [
            {"id": e.id, "title": e.title, "description": e.description, "position": e.position}
            for e in workshop.elements
        ],
        "proposals": [
            proposal_json(p, workshop, staff=staff, viewer=participant,
                          merged_from=merged_from.get(p.id, ()))
            for p in shown
        ],
        "comments": [] if role == PRESENTER else _comments(workshop, {p.id for p in shown}),
        "timer": timer_state(workshop).as_dict(),
        "presence": presence or {},
        "tally": tally(workshop, _candidates(every)) if tally_visible(workshop, role) else None,
    }
    if participant is not None:
        allocations = dict(db.session.execute(
            select(DotVote.proposal_id, DotVote.dots)
            .where(DotVote.participant_id == participant.id)
        ).all())
        data["you"] = {
            "id": participant.id,
            "display_name": participant.display_name,
            "organisation": participant.organisation,
            "allocations": {str(k): v for k, v in allocations.items()},
            "remaining": workshop.dots_per_participant - sum(allocations.values()),
            "vote_mark": participant.vote_mark,
        }
    if staff:
        data["moves"] = [phase.value for phase in allowed_phase_moves(workshop)]
    if staff or role == PRESENTER:
        data["participants"] = participants_summary(workshop)
    return data


def joined_count(workshop_id: int) -> int:
    return db.session.scalar(
        select(func.count(Participant.id))
        .where(Participant.workshop_id == workshop_id, Participant.removed_at.is_(None))
    )


def participants_summary(workshop: Workshop) -> dict:
    rows = db.session.execute(
        select(Participant.organisation_type, func.count(Participant.id))
        .where(Participant.workshop_id == workshop.id, Participant.removed_at.is_(None))
        .group_by(Participant.organisation_type)
    ).all()
    by_type = {str(kind or "none"): count for kind, count in rows}
    return {
        "joined": sum(by_type.values()),
        "by_type": by_type,
        "labels": {k: str(v) for k, v in ORGANISATION_TYPE_LABELS.items()},
    }


def own_state(workshop: Workshop, participant: Participant) -> dict:
    allocations = dict(db.session.execute(
        select(DotVote.proposal_id, DotVote.dots).where(DotVote.participant_id == participant.id)
    ).all())
    return {
        "allocations": {str(k): v for k, v in allocations.items()},
        "remaining": workshop.dots_per_participant - sum(allocations.values()),
    }
