"""Read-only queries the pages need beyond what the domain offers: lists with counts, the
participants, the moderation log. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..models import (
    DotVote,
    ModerationAction,
    Participant,
    Phase,
    Proposal,
    ProposalStatus,
    Role,
    User,
    Workshop,
    WorkshopFacilitator,
)


@dataclass(frozen=True)
class WorkshopRow:
    workshop: Workshop
    participants: int
    proposals: int
    voters: int


def _counts(column, where, workshop_ids) -> dict[int, int]:
    if not workshop_ids:
        return {}
    query = select(column, func.count()).where(column.in_(workshop_ids))
    if where is not None:
        query = query.where(where)
    return dict(db.session.execute(query.group_by(column)).all())


def workshops_with_counts(user: User, *, own_only: bool) -> list[WorkshopRow]:
    """Workshops newest first: the user's own (as facilitator), or all of them."""
    query = select(Workshop).order_by(Workshop.created_at.desc(), Workshop.id.desc())
    if own_only:
        query = query.join(WorkshopFacilitator).where(WorkshopFacilitator.user_id == user.id)
    rows = list(db.session.scalars(query))
    ids = [w.id for w in rows]
    participants = _counts(Participant.workshop_id, Participant.removed_at.is_(None), ids)
    proposals = _counts(
        Proposal.workshop_id,
        Proposal.status.in_((ProposalStatus.VISIBLE.value, ProposalStatus.PENDING.value)),
        ids,
    )
    voters = dict(db.session.execute(
        select(DotVote.workshop_id, func.count(func.distinct(DotVote.participant_id)))
        .where(DotVote.workshop_id.in_(ids)).group_by(DotVote.workshop_id)
    ).all()) if ids else {}
    return [
        WorkshopRow(w, participants.get(w.id, 0), proposals.get(w.id, 0), voters.get(w.id, 0))
        for w in rows
    ]


def sees_all_workshops(user: User) -> bool:
    return user.role in (Role.ADMIN.value, Role.REVIEWER.value)


def participants(workshop: Workshop) -> list[Participant]:
    """Everyone who joined, in order; loading them all at once also spares one query per
    author when proposals and comments are shown."""
    return list(db.session.scalars(
        select(Participant).where(Participant.workshop_id == workshop.id).order_by(Participant.id)
    ))


def moderation_log(workshop: Workshop, limit: int = 200) -> list[ModerationAction]:
    return list(db.session.scalars(
        select(ModerationAction).where(ModerationAction.workshop_id == workshop.id)
        .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc()).limit(limit)
    ))


def proposal_titles(workshop: Workshop) -> dict[int, str]:
    return dict(db.session.execute(
        select(Proposal.id, Proposal.title).where(Proposal.workshop_id == workshop.id)
    ).all())


def voting_started(workshop: Workshop) -> bool:
    return workshop.phase_enum.index >= Phase.VOTING.index
