"""Answers and accountability: what became of each proposal, with a public reasoning.

Reviewers, admins and the workshop's facilitators answer; every answer is a new row, so the
history of a proposal's status is kept. Participants see the answers once a facilitator has
published the workshop's outcome.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import (
    AnswerStatus,
    Participant,
    Phase,
    Proposal,
    ProposalAnswer,
    ProposalAuthor,
    ProposalStatus,
    User,
    Workshop,
    utcnow,
)
from .access import require_facilitator, require_reviewer
from .errors import DomainError, check_text, invalid
from .events import Event, unit_of_work

REASONING_MAX = 4000
NOTE_MAX = 4000
STATUSES = tuple(s.value for s in AnswerStatus)
STATUS_LABELS = {
    AnswerStatus.UNDER_CONSIDERATION.value: _l("Under overvejelse"),
    AnswerStatus.ADOPTED.value: _l("Indarbejdet i modellen"),
    AnswerStatus.PARTLY_ADOPTED.value: _l("Delvist indarbejdet"),
    AnswerStatus.NOT_ADOPTED.value: _l("Ikke indarbejdet"),
}
ADOPTED = (AnswerStatus.ADOPTED.value, AnswerStatus.PARTLY_ADOPTED.value)


@dataclass(frozen=True)
class Answer:
    proposal_id: int
    status: str
    reasoning: str
    answered_at: object
    answered_by: str  # the answerer's name, never an e-mail; "" when unknown

    def as_dict(self) -> dict:
        return {"proposal_id": self.proposal_id, "status": self.status,
                "reasoning": self.reasoning,
                "answered_at": self.answered_at.isoformat() if self.answered_at else None}


def _answer(row: ProposalAnswer) -> Answer:
    name = row.user.name if row.user is not None else ""
    return Answer(row.proposal_id, row.status, row.reasoning, row.created_at, name or "")


def set_answer(workshop: Workshop, user: User, proposal_id, status, reasoning) -> Answer:
    """Give a proposal a status with a public reasoning; resending the same answer is a no-op."""
    require_reviewer(user, workshop)
    if status not in STATUSES:
        raise invalid(_l("Vælg en status for forslaget."), "status")
    reasoning = check_text(reasoning, "reasoning", max_len=REASONING_MAX,
                           required=status != AnswerStatus.UNDER_CONSIDERATION.value,
                           label=_l("Begrundelse"))
    if workshop.phase_enum.index < Phase.RESULTS.index:
        raise DomainError("wrong_phase",
                          _l("Forslag kan besvares, når afstemningen er slut."))
    from .proposals import get_proposal

    proposal = get_proposal(workshop, proposal_id)
    if proposal.status != ProposalStatus.VISIBLE.value:
        raise DomainError("conflict", _l("Kun synlige forslag kan besvares."))
    current = current_answers(workshop, [proposal.id]).get(proposal.id)
    if current is not None and (current.status, current.reasoning) == (status, reasoning):
        return current
    with unit_of_work() as events:
        row = ProposalAnswer(workshop_id=workshop.id, proposal_id=proposal.id, status=status,
                             reasoning=reasoning, user_id=user.id, created_at=utcnow())
        db.session.add(row)
        db.session.flush()
        if workshop.published_at is not None:
            events.append(Event(workshop.id, "workshop", {"change": "answer",
                                                          "proposal_id": proposal.id}))
    return _answer(row)


def current_answers(workshop: Workshop, proposal_ids=None) -> dict[int, Answer]:
    """Each answered proposal's newest answer (one query)."""
    newest = (
        select(func.max(ProposalAnswer.id))
        .where(ProposalAnswer.workshop_id == workshop.id)
        .group_by(ProposalAnswer.proposal_id)
    )
    query = (select(ProposalAnswer).options(joinedload(ProposalAnswer.user))
             .where(ProposalAnswer.id.in_(newest)))
    if proposal_ids is not None:
        query = query.where(ProposalAnswer.proposal_id.in_(list(proposal_ids)))
    return {row.proposal_id: _answer(row) for row in db.session.scalars(query)}


def history(workshop: Workshop) -> dict[int, list[Answer]]:
    """Every answer given in the workshop, oldest first, per proposal."""
    out: dict[int, list[Answer]] = defaultdict(list)
    for row in db.session.scalars(
        select(ProposalAnswer).options(joinedload(ProposalAnswer.user))
        .where(ProposalAnswer.workshop_id == workshop.id).order_by(ProposalAnswer.id)
    ):
        out[row.proposal_id].append(_answer(row))
    return out


def publish(workshop: Workshop, user: User, published, note=None) -> Workshop:
    """Publish (or withdraw) the outcome and the answers to the participants."""
    require_facilitator(user, workshop)
    if not isinstance(published, bool):
        raise invalid(_l("Angiv om udfaldet skal offentliggøres (sand/falsk)."), "published")
    note = check_text(note, "note", max_len=NOTE_MAX, required=False,
                      label=_l("Opsummering")) if note is not None else None
    if published and workshop.phase_enum.index < Phase.RESULTS.index:
        raise DomainError("wrong_phase",
                          _l("Udfaldet kan offentliggøres, når afstemningen er slut."))
    from .workshops import bump_version, record

    changed_note = note is not None and note != (workshop.outcome_note or "")
    if (workshop.published_at is not None) == published and not changed_note:
        return workshop
    with unit_of_work() as events:
        if (workshop.published_at is not None) != published:
            workshop.published_at = utcnow() if published else None
        if changed_note:
            workshop.outcome_note = note
        bump_version(workshop)
        record(workshop, user, "publish" if published else "unpublish")
        events.append(Event(workshop.id, "workshop", {"change": "published"}))
    return workshop


def require_published_for(workshop: Workshop, participant: Participant | None) -> None:
    from .access import require_participant

    require_participant(participant, workshop)
    if workshop.published_at is None:
        raise DomainError("wrong_phase", _l("Udfaldet er ikke offentliggjort endnu."))


def own_proposal_ids(workshop: Workshop, participant: Participant) -> set[int]:
    """The proposals this participant stands behind: their own and those theirs were merged
    into (merged-away and hidden ones included, so that they learn what became of them)."""
    own = set(db.session.scalars(select(Proposal.id).where(
        Proposal.workshop_id == workshop.id, Proposal.author_id == participant.id)))
    own |= set(db.session.scalars(select(ProposalAuthor.proposal_id).where(
        ProposalAuthor.participant_id == participant.id)))
    return own
