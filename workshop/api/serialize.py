"""Turning domain objects into the API's JSON shapes (one place, so pages and API agree)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..domain.participants import public_name, shown_name
from ..domain.workshops import Settings
from ..models import Comment, Participant, Proposal, User, Workshop


def iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def join_url(workshop: Workshop) -> str:
    return f"{current_app.config['PUBLIC_URL']}/j/{workshop.code}"


def user_json(user: User) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role}


def workshop_json(workshop: Workshop, *, staff: bool = False, brief: bool = False) -> dict:
    data = {
        "code": workshop.code,
        "join_url": join_url(workshop),
        "title": workshop.title,
        "description": workshop.description,
        "template": workshop.template,
        "phase": workshop.phase,
        "settings": Settings.of(workshop).as_dict(),
        "voting_method": workshop.voting_method,
        "published_at": iso(workshop.published_at),
    }
    if not brief:
        data["elements"] = [
            {"id": e.id, "title": e.title, "description": e.description,
             "position": e.position, "source": e.source}
            for e in workshop.elements
        ]
    if staff:
        data["join_locked"] = workshop.join_locked
        data["results_revealed"] = workshop.results_revealed
        data["created_at"] = iso(workshop.created_at)
        data["closed_at"] = iso(workshop.closed_at)
        data["facilitators"] = [u.email for u in workshop.facilitators]
    return data


def participant_json(participant: Participant, *, staff: bool = False) -> dict:
    data = {
        "id": participant.id,
        "display_name": participant.display_name,
        "organisation": participant.organisation,
        "organisation_type": participant.organisation_type,
    }
    if staff:
        data["joined_at"] = iso(participant.created_at)
        data["removed"] = participant.removed_at is not None
    return data


def proposal_json(proposal: Proposal, workshop: Workshop, *, staff: bool = False,
                  viewer: Participant | None = None, merged_from=()) -> dict:
    own = viewer is not None and proposal.author_id == viewer.id
    data = {
        "id": proposal.id,
        "title": proposal.title,
        "body": proposal.body,
        "element_id": proposal.element_id,
        "status": proposal.status,
        "own": own,
        "author": (proposal.author.display_name if proposal.author is not None else None)
        if staff or own else public_name(proposal.author, workshop),
        "edited_by_facilitator": proposal.edited_by_staff,
        "merged_into": proposal.merged_into_id,
        "merged_from": [{"id": m.id, "title": m.title, "body": m.body} for m in merged_from],
        "created_at": iso(proposal.created_at),
    }
    if staff or own:
        data["status_reason"] = proposal.status_reason
    if staff:
        data["author_id"] = proposal.author_id
    return data


def comment_json(comment: Comment, workshop: Workshop) -> dict:
    return CommentRow(
        comment.id, comment.proposal_id, comment.body, comment.created_at, comment.user_id,
        comment.user.name if comment.user is not None else None,
        comment.participant.display_name if comment.participant is not None else None,
    ).json(workshop)


class CommentRow(NamedTuple):
    """A comment as its JSON needs it: a row of `domain.proposals.comment_rows`, read in one
    statement without loading each comment, its author and its participant as objects."""

    id: int
    proposal_id: int
    body: str
    created_at: datetime | None
    user_id: int | None
    user_name: str | None
    participant_name: str | None

    def json(self, workshop: Workshop) -> dict:
        if self.user_id is not None:
            author = self.user_name or str(_l("Facilitator"))  # never a staff e-mail
        else:
            author = shown_name(self.participant_name, workshop)
        return {
            "id": self.id,
            "proposal_id": self.proposal_id,
            "body": self.body,
            "author": author,
            "by_facilitator": self.user_id is not None,
            "created_at": iso(self.created_at),
        }
