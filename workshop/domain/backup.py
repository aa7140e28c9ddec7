"""Backup and restore of one workshop, as a JSON document.

The document holds everything a workshop is: settings, elements, participants (with the hash
of their token, so their links work again after a restore), proposals and their authors,
comments, votes, the moderation log and the facilitators (by e-mail). Ids inside the document
are the workshop's own, numbered from 1, so exporting a restored workshop gives the same
document again (`export(import(doc)) == doc`), whatever ids the database hands out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import (
    Comment,
    DotVote,
    ModelElement,
    ModerationAction,
    Participant,
    Proposal,
    ProposalAuthor,
    User,
    Workshop,
    WorkshopFacilitator,
)
from .errors import DomainError, invalid
from .events import unit_of_work
from .workshops import normalise_code

FORMAT = "samskab-workshop-backup"
VERSION = 1

WORKSHOP_FIELDS = (
    "code", "title", "description", "template", "phase", "dots_per_participant",
    "max_dots_per_proposal", "moderation", "max_proposals_per_participant", "show_names",
    "join_locked", "results_revealed", "version", "timer_deadline", "timer_remaining_ms",
    "timer_duration_ms", "presenter_key", "retention_days", "created_at", "closed_at",
)
ELEMENT_FIELDS = ("position", "key", "title", "description", "source")
PARTICIPANT_FIELDS = (
    "display_name", "organisation", "organisation_key", "organisation_type", "token_hash",
    "consented_at", "created_at", "removed_at", "anonymised_at", "vote_seq", "vote_mark",
)
PROPOSAL_FIELDS = ("title", "body", "status", "status_reason", "client_id", "edited_by_staff",
                   "created_at", "updated_at")
COMMENT_FIELDS = ("body", "client_id", "hidden", "created_at")
ACTION_FIELDS = ("action", "reason", "detail", "created_at")


def _value(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _fields(obj, names) -> dict[str, Any]:
    return {name: _value(getattr(obj, name)) for name in names}


class _Numbering:
    """Database id -> the document's own id (1, 2, 3 … in id order)."""

    def __init__(self, ids):
        self.map = {old: new for new, old in enumerate(sorted(ids), start=1)}

    def __call__(self, old):
        return None if old is None else self.map.get(old)


def export_workshop(workshop: Workshop) -> dict[str, Any]:
    wid = workshop.id
    elements = list(db.session.scalars(
        select(ModelElement).where(ModelElement.workshop_id == wid).order_by(ModelElement.id)))
    participants = list(db.session.scalars(
        select(Participant).where(Participant.workshop_id == wid).order_by(Participant.id)))
    proposals = list(db.session.scalars(
        select(Proposal).where(Proposal.workshop_id == wid).order_by(Proposal.id)))
    proposal_ids = [p.id for p in proposals]
    authors = list(db.session.scalars(
        select(ProposalAuthor).where(ProposalAuthor.proposal_id.in_(proposal_ids))))
    comments = list(db.session.scalars(
        select(Comment).where(Comment.proposal_id.in_(proposal_ids)).order_by(Comment.id)))
    votes = list(db.session.scalars(
        select(DotVote).where(DotVote.workshop_id == wid).order_by(DotVote.id)))
    actions = list(db.session.scalars(
        select(ModerationAction).where(ModerationAction.workshop_id == wid)
        .order_by(ModerationAction.id)))
    users = {u.id: u.email for u in db.session.scalars(select(User))}

    element_no = _Numbering(e.id for e in elements)
    participant_no = _Numbering(p.id for p in participants)
    proposal_no = _Numbering(proposal_ids)

    return {
        "format": FORMAT,
        "version": VERSION,
        "workshop": {
            **_fields(workshop, WORKSHOP_FIELDS),
            "spotlight_proposal": proposal_no(workshop.spotlight_proposal_id),
            "created_by": users.get(workshop.created_by_id),
            "facilitators": sorted(u.email for u in workshop.facilitators),
        },
        "elements": [{"id": element_no(e.id), **_fields(e, ELEMENT_FIELDS)} for e in elements],
        "participants": [{"id": participant_no(p.id), **_fields(p, PARTICIPANT_FIELDS)}
                         for p in participants],
        "proposals": [{
            "id": proposal_no(p.id),
            "element": element_no(p.element_id),
            "author": participant_no(p.author_id),
            "merged_into": proposal_no(p.merged_into_id),
            **_fields(p, PROPOSAL_FIELDS),
        } for p in proposals],
        "authors": sorted(([proposal_no(a.proposal_id), participant_no(a.participant_id),
                            proposal_no(a.via_proposal_id)] for a in authors),
                          key=lambda row: (row[0], row[1])),
        "comments": [{
            "proposal": proposal_no(c.proposal_id),
            "participant": participant_no(c.participant_id),
            "user": users.get(c.user_id),
            **_fields(c, COMMENT_FIELDS),
        } for c in comments],
        "votes": [[participant_no(v.participant_id), proposal_no(v.proposal_id), v.dots,
                   _value(v.updated_at)] for v in votes],
        "moderation_log": [{
            "proposal": proposal_no(a.proposal_id),
            "user": users.get(a.user_id),
            **_fields(a, ACTION_FIELDS),
        } for a in actions],
    }


def _when(value, field: str):
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise invalid(_l("Ugyldigt tidspunkt i sikkerhedskopien: %(field)s", field=field)) \
            from None


def _set(obj, names, data: dict, dates=()) -> None:
    for name in names:
        if name in data:
            setattr(obj, name, _when(data[name], name) if name in dates else data[name])


WORKSHOP_DATES = ("timer_deadline", "created_at", "closed_at")
PARTICIPANT_DATES = ("consented_at", "created_at", "removed_at", "anonymised_at")


def import_workshop(data: Any) -> Workshop:
    """Restore a workshop from its backup document, in one transaction (all or nothing)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise invalid(_l("Filen er ikke en sikkerhedskopi af en Samskab-workshop."))
    if data.get("version") != VERSION:
        raise invalid(_l("Sikkerhedskopien har en version, der ikke kan læses."))
    try:
        source = data["workshop"]
        code = normalise_code(source["code"])
    except (KeyError, TypeError, AttributeError):
        raise invalid(_l("Sikkerhedskopien mangler workshoppens oplysninger.")) from None
    if db.session.scalar(select(Workshop.id).where(Workshop.code == code)) is not None:
        raise DomainError("conflict", _l("Der findes allerede en workshop med koden %(code)s.",
                                         code=code))
    tokens = [row.get("token_hash") for row in data.get("participants", [])
              if isinstance(row, dict) and row.get("token_hash")]
    if tokens and db.session.scalar(
            select(Participant.id).where(Participant.token_hash.in_(tokens)).limit(1)):
        raise DomainError("conflict", _l(
            "Sikkerhedskopiens deltagere findes allerede i databasen (er workshoppen "
            "allerede gendannet?)."))
    users = {u.email: u for u in db.session.scalars(select(User))}
    try:
        with unit_of_work():
            workshop = Workshop()
            _set(workshop, WORKSHOP_FIELDS, source, WORKSHOP_DATES)
            workshop.code = code
            creator = users.get(source.get("created_by"))
            workshop.created_by_id = creator.id if creator else None
            db.session.add(workshop)
            db.session.flush()
            for email in source.get("facilitators", []):
                if email in users:
                    db.session.add(WorkshopFacilitator(workshop_id=workshop.id,
                                                       user_id=users[email].id))
            elements = {}
            for row in data.get("elements", []):
                element = ModelElement(workshop_id=workshop.id)
                _set(element, ELEMENT_FIELDS, row)
                db.session.add(element)
                elements[row["id"]] = element
            participants = {}
            for row in data.get("participants", []):
                participant = Participant(workshop_id=workshop.id)
                _set(participant, PARTICIPANT_FIELDS, row, PARTICIPANT_DATES)
                db.session.add(participant)
                participants[row["id"]] = participant
            db.session.flush()
            proposals = {}
            for row in data.get("proposals", []):
                proposal = Proposal(workshop_id=workshop.id,
                                    element_id=elements[row["element"]].id)
                author = participants.get(row.get("author"))
                proposal.author_id = author.id if author else None
                _set(proposal, PROPOSAL_FIELDS, row, ("created_at", "updated_at"))
                db.session.add(proposal)
                proposals[row["id"]] = proposal
            db.session.flush()
            for row in data.get("proposals", []):
                if row.get("merged_into") is not None:
                    proposals[row["id"]].merged_into_id = proposals[row["merged_into"]].id
            workshop.spotlight_proposal_id = (
                proposals[source["spotlight_proposal"]].id
                if source.get("spotlight_proposal") is not None else None)
            for proposal_no, participant_no, via_no in data.get("authors", []):
                db.session.add(ProposalAuthor(
                    proposal_id=proposals[proposal_no].id,
                    participant_id=participants[participant_no].id,
                    via_proposal_id=proposals[via_no].id if via_no is not None else None))
            for row in data.get("comments", []):
                comment = Comment(proposal_id=proposals[row["proposal"]].id)
                who = participants.get(row.get("participant"))
                comment.participant_id = who.id if who else None
                user = users.get(row.get("user"))
                comment.user_id = user.id if user else None
                _set(comment, COMMENT_FIELDS, row, ("created_at",))
                db.session.add(comment)
            for participant_no, proposal_no, dots, updated_at in data.get("votes", []):
                db.session.add(DotVote(workshop_id=workshop.id,
                                       participant_id=participants[participant_no].id,
                                       proposal_id=proposals[proposal_no].id, dots=dots,
                                       updated_at=_when(updated_at, "updated_at")))
            for row in data.get("moderation_log", []):
                entry = ModerationAction(workshop_id=workshop.id)
                target = proposals.get(row.get("proposal"))
                entry.proposal_id = target.id if target else None
                user = users.get(row.get("user"))
                entry.user_id = user.id if user else None
                _set(entry, ACTION_FIELDS, row, ("created_at",))
                db.session.add(entry)
    except (KeyError, TypeError, ValueError, AttributeError, SQLAlchemyError):
        # A missing field, a dangling reference or a value the schema refuses.
        raise invalid(_l("Sikkerhedskopien er ufuldstændig eller beskadiget.")) from None
    return workshop
