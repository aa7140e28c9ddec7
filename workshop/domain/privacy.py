"""Personal data: what a participant can see and delete, the retention rule that anonymises
participants of closed workshops, deleting a workshop, and the audit record that outlives both.

Anonymising keeps what the outcome needs: proposals, comments and dot votes stay, tied to a
participant row that no longer says who it was. `organisation_key` is kept for the weighting
by organisation; retention replaces it by a keyed pseudonym, the same for everybody of one
organisation in one workshop, so that the outcome by organisation still computes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select, update

from ..extensions import db
from ..models import (
    AuditEvent,
    Comment,
    DotVote,
    ModerationAction,
    Participant,
    Phase,
    Proposal,
    User,
    Workshop,
    utcnow,
)
from .access import require_facilitator
from .errors import DomainError, invalid
from .events import Event, unit_of_work

ANONYMOUS_NAME = "Anonym deltager"
# organisation_key() case-folds, so a real key never holds capitals: this prefix marks a
# pseudonym and can never be typed.
PSEUDONYM_PREFIX = "ANON-"


# --- Audit ---------------------------------------------------------------------------------------


def audit(action: str, *, user: User | None = None, workshop: Workshop | None = None,
          detail: dict | None = None, now: datetime | None = None) -> AuditEvent:
    """Add an audit record to the current transaction (the caller's unit of work commits it)."""
    event = AuditEvent(
        action=action,
        user_id=user.id if user is not None else None,
        user_email=user.email if user is not None else "",
        workshop_id=workshop.id if workshop is not None else None,
        workshop_code=workshop.code if workshop is not None else "",
        detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str),
        created_at=now or utcnow(),
    )
    db.session.add(event)
    return event


# --- Anonymising -------------------------------------------------------------------------------


def pseudonym(workshop_id: int, key: str, secret: str) -> str:
    """The same organisation in the same workshop gets the same pseudonym; nothing else does.

    Keyed (HMAC), so that a guessable organisation name cannot be found by hashing guesses.
    """
    digest = hmac.new(secret.encode(), f"{workshop_id}:{key}".encode(), hashlib.sha256)
    return PSEUDONYM_PREFIX + digest.hexdigest()[:24]


def _anonymise(participant: Participant, now: datetime) -> None:
    participant.display_name = ANONYMOUS_NAME
    participant.organisation = None
    participant.token_hash = None  # the link and the cookie stop working
    participant.anonymised_at = participant.anonymised_at or now


def _pseudonymise_organisation(participant: Participant, secret: str) -> None:
    key = participant.organisation_key
    if key and not key.startswith(PSEUDONYM_PREFIX):
        participant.organisation_key = pseudonym(participant.workshop_id, key, secret)


def retention_due(workshop: Workshop, now: datetime) -> bool:
    """A workshop's participants are anonymised `retention_days` days after it closed."""
    if workshop.phase != Phase.CLOSED.value or workshop.closed_at is None:
        return False
    return workshop.closed_at + timedelta(days=workshop.retention_days) <= now


@dataclass
class RetentionReport:
    now: datetime
    dry_run: bool
    # workshop code -> participants anonymised (or that would be, in a dry run)
    workshops: dict[str, int] = field(default_factory=dict)

    @property
    def participants(self) -> int:
        return sum(self.workshops.values())


def _needs_work():
    return or_(Participant.anonymised_at.is_(None),
               Participant.token_hash.is_not(None),
               Participant.organisation.is_not(None),
               # substr and != compare case-sensitively on SQLite too (LIKE would not)
               func.substr(Participant.organisation_key, 1, len(PSEUDONYM_PREFIX))
               != PSEUDONYM_PREFIX)


def apply_retention(now: datetime, secret: str, *, dry_run: bool = False) -> RetentionReport:
    """Anonymise the participants of every workshop whose retention period has run out.

    `now` is passed in (tests freeze it). Idempotent: a second run finds nothing to do.
    """
    report = RetentionReport(now=now, dry_run=dry_run)
    closed = db.session.scalars(
        select(Workshop).where(Workshop.phase == Phase.CLOSED.value,
                               Workshop.closed_at.is_not(None)).order_by(Workshop.id)
    ).all()
    for workshop in closed:
        if not retention_due(workshop, now):
            continue
        people = db.session.scalars(
            select(Participant).where(Participant.workshop_id == workshop.id, _needs_work())
            .order_by(Participant.id)
        ).all()
        if not people:
            continue
        report.workshops[workshop.code] = len(people)
        if dry_run:
            continue
        with unit_of_work() as events:
            for participant in people:
                _anonymise(participant, now)
                _pseudonymise_organisation(participant, secret)
            audit("retention", workshop=workshop, now=now,
                  detail={"participants": len(people), "closed_at": workshop.closed_at,
                          "retention_days": workshop.retention_days})
            events.append(Event(workshop.id, "participant", {"change": "anonymised"}))
    return report


# --- A participant's own data ------------------------------------------------------------------


@dataclass(frozen=True)
class OwnVote:
    proposal_id: int
    title: str
    dots: int


@dataclass(frozen=True)
class OwnData:
    """Everything stored about one participant, as they may see it."""

    participant: Participant
    proposals: list[Proposal]
    comments: list[Comment]
    votes: list[OwnVote]


def _require_own(workshop: Workshop, participant: Participant | None) -> Participant:
    # A removed participant may still see and delete their data: only the link is checked.
    if participant is None or participant.anonymised_at is not None:
        raise DomainError("unauthenticated", _l("Deltag i workshoppen først."))
    if participant.workshop_id != workshop.id:
        raise DomainError("forbidden", _l("Du deltager ikke i denne workshop."))
    return participant


def own_data(workshop: Workshop, participant: Participant | None) -> OwnData:
    participant = _require_own(workshop, participant)
    proposals = db.session.scalars(
        select(Proposal).where(Proposal.author_id == participant.id).order_by(Proposal.id)
    ).all()
    comments = db.session.scalars(
        select(Comment).where(Comment.participant_id == participant.id).order_by(Comment.id)
    ).all()
    votes = [OwnVote(pid, title, dots) for pid, title, dots in db.session.execute(
        select(Proposal.id, Proposal.title, DotVote.dots)
        .join(Proposal, Proposal.id == DotVote.proposal_id)
        .where(DotVote.participant_id == participant.id).order_by(Proposal.id)
    )]
    return OwnData(participant, list(proposals), list(comments), votes)


def forget_participant(workshop: Workshop, participant: Participant | None,
                       now: datetime | None = None) -> Participant:
    """"Slet mine data": the participant's name, organisation and link are removed at once.

    Their proposals, comments and dots stay, under "Anonym deltager", as part of the shared
    outcome; the organisation key stays (pseudonymised by retention) for the weighting.
    """
    participant = _require_own(workshop, participant)
    now = now or utcnow()
    with unit_of_work() as events:
        _anonymise(participant, now)
        audit("participant_deleted_data", workshop=workshop, now=now,
              detail={"participant_id": participant.id})
        db.session.execute(update(Workshop).where(Workshop.id == workshop.id)
                           .values(version=Workshop.version + 1)
                           .execution_options(synchronize_session=False))
        events.append(Event(workshop.id, "participant",
                            {"change": "forgotten", "id": participant.id}))
    return participant


# --- Deleting a workshop -----------------------------------------------------------------------


def delete_workshop(workshop: Workshop, user, confirm, now: datetime | None = None) -> AuditEvent:
    """Delete a workshop and everything in it; an audit record (with its staff log) stays.

    The facilitator confirms by typing the workshop's code.
    """
    require_facilitator(user, workshop)
    if not isinstance(confirm, str) or confirm.strip().upper() != workshop.code.upper():
        raise invalid(_l("Skriv workshoppens kode for at bekræfte, at den skal slettes."),
                      "confirm")
    now = now or utcnow()
    wid = workshop.id
    counts = {
        "participants": db.session.scalar(
            select(func.count()).select_from(Participant).where(Participant.workshop_id == wid)),
        "proposals": db.session.scalar(
            select(func.count()).select_from(Proposal).where(Proposal.workshop_id == wid)),
        "votes": db.session.scalar(
            select(func.count()).select_from(DotVote).where(DotVote.workshop_id == wid)),
    }
    log = [
        {"at": entry.created_at, "action": entry.action, "user_id": entry.user_id,
         "user_email": entry.user.email if entry.user else "", "proposal_id": entry.proposal_id,
         "reason": entry.reason, "detail": entry.detail}
        for entry in db.session.scalars(
            select(ModerationAction).where(ModerationAction.workshop_id == wid)
            .order_by(ModerationAction.id))
    ]
    with unit_of_work() as events:
        record = audit("delete_workshop", user=user, workshop=workshop, now=now, detail={
            "title": workshop.title, "created_at": workshop.created_at,
            "closed_at": workshop.closed_at, "phase": workshop.phase, **counts,
            "moderation_log": log,
        })
        # Proposals first (model elements may not go while proposals point at them); the
        # database's cascades remove comments, votes, authorships, participants and the log.
        db.session.execute(update(Workshop).where(Workshop.id == wid)
                           .values(spotlight_proposal_id=None)
                           .execution_options(synchronize_session=False))
        db.session.execute(update(Proposal).where(Proposal.workshop_id == wid)
                           .values(merged_into_id=None)
                           .execution_options(synchronize_session=False))
        db.session.execute(delete(Proposal).where(Proposal.workshop_id == wid)
                           .execution_options(synchronize_session=False))
        db.session.expunge(workshop)
        db.session.execute(delete(Workshop).where(Workshop.id == wid)
                           .execution_options(synchronize_session=False))
        events.append(Event(wid, "workshop_deleted", {}))
    return record
