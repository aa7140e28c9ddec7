"""Facilitator moderation: approve, hide and unhide with a reason, fix a typo, merge duplicates.

Every action is recorded in the moderation log (who, when, what, why).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..extensions import db
from ..models import (
    Comment,
    DotVote,
    Participant,
    Phase,
    Proposal,
    ProposalAuthor,
    ProposalStatus,
    User,
    Workshop,
    utcnow,
)
from .access import require_facilitator
from .errors import DomainError, check_text, invalid
from .events import Event, unit_of_work
from .proposals import BODY_MAX, GONE, TITLE_MAX, get_proposal
from .workshops import bump_version, get_element, record

REASON_MAX = 500
ACTIONS = ("approve", "hide", "unhide", "merge", "edit")


def moderate(workshop: Workshop, user: User, proposal_id, action, *, reason=None, into=None,
             title=None, body=None, element_id=None) -> Proposal:
    """One entry point for every moderation action, shared by pages, API and sockets."""
    require_facilitator(user, workshop)
    if action not in ACTIONS:
        raise invalid(_l("Ukendt handling: %(name)s", name=str(action)[:40]), "action")
    if workshop.phase == Phase.CLOSED.value:
        raise DomainError("closed")
    proposal = get_proposal(workshop, proposal_id)
    reason = check_text(reason, "reason", max_len=REASON_MAX, required=False,
                        label=_l("Begrundelse"))
    if action == "approve":
        return _approve(workshop, user, proposal, reason)
    if action == "hide":
        return _hide(workshop, user, proposal, reason)
    if action == "unhide":
        return _unhide(workshop, user, proposal, reason)
    if action == "edit":
        return _edit(workshop, user, proposal, reason, title, body, element_id)
    return _merge(workshop, user, proposal, into, reason)


# A repeated action whose outcome already holds changes nothing and is not logged again, so
# that a retried command (a socket ack lost on a reconnect) is applied once.


def _approve(workshop, user, proposal, reason):
    if proposal.status == ProposalStatus.VISIBLE.value:
        return proposal
    if proposal.status != ProposalStatus.PENDING.value:
        raise DomainError("conflict", _l("Kun forslag, der venter på godkendelse, kan godkendes."))
    with unit_of_work() as events:
        proposal.status = ProposalStatus.VISIBLE.value
        proposal.updated_at = utcnow()
        bump_version(workshop)
        record(workshop, user, "approve", proposal_id=proposal.id, reason=reason)
        events.append(Event(workshop.id, "proposal", {"change": "approved", "id": proposal.id}))
    return proposal


def _hide(workshop, user, proposal, reason):
    if not reason:
        raise invalid(_l("Skriv en begrundelse for at skjule forslaget."), "reason")
    if proposal.status == ProposalStatus.HIDDEN.value:
        return proposal
    if proposal.status not in (ProposalStatus.VISIBLE.value, ProposalStatus.PENDING.value):
        raise DomainError("conflict", _l("Forslaget kan ikke skjules i sin nuværende tilstand."))
    with unit_of_work() as events:
        # A hidden proposal is not ranked; its dots go back to the voters to use elsewhere.
        released = _void_votes(proposal)
        proposal.status = ProposalStatus.HIDDEN.value
        proposal.status_reason = reason
        proposal.updated_at = utcnow()
        bump_version(workshop)
        record(workshop, user, "hide", proposal_id=proposal.id, reason=reason,
               detail={"released_dots": released})
        events.append(Event(workshop.id, "proposal", {"change": "hidden", "id": proposal.id}))
        if released:
            events.append(Event(workshop.id, "tally", {"proposal_ids": [proposal.id]}))
    return proposal


def _unhide(workshop, user, proposal, reason):
    if proposal.status == ProposalStatus.VISIBLE.value:
        return proposal
    if proposal.status != ProposalStatus.HIDDEN.value:
        raise DomainError("conflict", _l("Forslaget er ikke skjult."))
    with unit_of_work() as events:
        proposal.status = ProposalStatus.VISIBLE.value
        proposal.status_reason = ""
        proposal.updated_at = utcnow()
        bump_version(workshop)
        record(workshop, user, "unhide", proposal_id=proposal.id, reason=reason)
        events.append(Event(workshop.id, "proposal", {"change": "unhidden", "id": proposal.id}))
    return proposal


def _edit(workshop, user, proposal, reason, title, body, element_id):
    if proposal.status in GONE:
        raise DomainError("conflict", _l("Forslaget er trukket tilbage eller lagt sammen."))
    if title is None and body is None and element_id is None:
        raise invalid(_l("Angiv hvad der skal rettes."), "title")
    before = {"title": proposal.title, "body": proposal.body, "element_id": proposal.element_id}
    after = dict(before)
    if title is not None:
        after["title"] = check_text(title, "title", max_len=TITLE_MAX, label=_l("Titel"))
    if body is not None:
        after["body"] = check_text(body, "body", max_len=BODY_MAX, required=False,
                                   label=_l("Beskrivelse"))
    if element_id is not None:
        if workshop.phase_enum.index >= Phase.VOTING.index:
            raise DomainError("wrong_phase", _l("Elementet kan ikke skiftes under afstemningen."))
        after["element_id"] = get_element(workshop, element_id).id
    with unit_of_work() as events:
        proposal.title, proposal.body = after["title"], after["body"]
        proposal.element_id = after["element_id"]
        proposal.edited_by_staff = True
        proposal.updated_at = utcnow()
        bump_version(workshop)
        record(workshop, user, "edit", proposal_id=proposal.id, reason=reason,
               detail={"before": before, "after": after})
        events.append(Event(workshop.id, "proposal", {"change": "edited", "id": proposal.id}))
    return proposal


def _lock_participants(participant_ids) -> None:
    """Take the same per-participant lock a vote takes, in a fixed order (no deadlocks)."""
    for pid in sorted(set(participant_ids)):
        db.session.execute(
            update(Participant).where(Participant.id == pid)
            .values(vote_seq=Participant.vote_seq + 1)
        )


def _void_votes(proposal: Proposal) -> int:
    votes = list(db.session.scalars(select(DotVote).where(DotVote.proposal_id == proposal.id)))
    _lock_participants(v.participant_id for v in votes)
    released = sum(v.dots for v in votes)
    for vote in votes:
        db.session.delete(vote)
    return released


def _merge(workshop, user, source, into, reason):
    if into is None:
        raise invalid(_l("Vælg det forslag, der skal lægges sammen med."), "into")
    target = get_proposal(workshop, into)
    if target.id == source.id:
        raise invalid(_l("Et forslag kan ikke lægges sammen med sig selv."), "into")
    if source.status == ProposalStatus.MERGED.value and source.merged_into_id == target.id:
        return target
    if source.status in GONE:
        raise DomainError(
            "conflict", _l("Forslaget er allerede trukket tilbage eller lagt sammen."))
    if target.status not in (ProposalStatus.VISIBLE.value, ProposalStatus.PENDING.value):
        raise DomainError("conflict", _l("Der kan kun lægges sammen med et synligt forslag."))
    cap = workshop.max_dots_per_proposal
    with unit_of_work() as events:
        # Authors of the duplicate stand behind the target too.
        existing_authors = set(db.session.scalars(
            select(ProposalAuthor.participant_id).where(ProposalAuthor.proposal_id == target.id)))
        moved_authors = []
        for author in list(source.authors):
            if author.participant_id not in existing_authors:
                db.session.add(ProposalAuthor(proposal_id=target.id,
                                              participant_id=author.participant_id,
                                              via_proposal_id=source.id))
                moved_authors.append(author.participant_id)
        # Votes move to the target; one voter's dots on both are added, up to the cap,
        # and dots over the cap go back to that voter's budget.
        source_votes = list(db.session.scalars(
            select(DotVote).where(DotVote.proposal_id == source.id)))
        _lock_participants(v.participant_id for v in source_votes)
        target_votes = {v.participant_id: v for v in db.session.scalars(
            select(DotVote).where(DotVote.proposal_id == target.id))}
        moved_dots = released_dots = 0
        for vote in source_votes:
            on_target = target_votes.get(vote.participant_id)
            if on_target is None:
                db.session.add(DotVote(workshop_id=workshop.id, participant_id=vote.participant_id,
                                       proposal_id=target.id, dots=min(vote.dots, cap)))
                moved_dots += min(vote.dots, cap)
                released_dots += vote.dots - min(vote.dots, cap)
            else:
                combined = min(on_target.dots + vote.dots, cap)
                moved_dots += combined - on_target.dots
                released_dots += on_target.dots + vote.dots - combined
                on_target.dots = combined
                on_target.updated_at = utcnow()
            db.session.delete(vote)
        db.session.execute(
            update(Comment).where(Comment.proposal_id == source.id).values(proposal_id=target.id))
        source.status = ProposalStatus.MERGED.value
        source.merged_into_id = target.id
        source.status_reason = reason
        source.updated_at = utcnow()
        bump_version(workshop)
        record(workshop, user, "merge", proposal_id=source.id, reason=reason, detail={
            "into": target.id, "moved_authors": moved_authors, "moved_dots": moved_dots,
            "released_dots": released_dots})
        events.append(Event(workshop.id, "proposal", {"change": "merged", "id": source.id,
                                                      "into": target.id}))
        if source_votes:
            events.append(Event(workshop.id, "tally", {"proposal_ids": [source.id, target.id]}))
    return target
