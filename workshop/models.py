"""The tables of Samskab: staff users, workshops and their model elements, participants,
proposals, comments, dot votes and the moderation log."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(db.TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Role(enum.StrEnum):
    FACILITATOR = "facilitator"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class Phase(enum.StrEnum):
    LOBBY = "lobby"
    IDEATION = "ideation"
    REVIEW = "review"
    VOTING = "voting"
    RESULTS = "results"
    CLOSED = "closed"

    @property
    def index(self) -> int:
        return PHASE_ORDER.index(self)


PHASE_ORDER = list(Phase)


class ProposalStatus(enum.StrEnum):
    PENDING = "pending"  # awaiting approval under pre-moderation
    VISIBLE = "visible"
    HIDDEN = "hidden"  # hidden by a facilitator, with a reason
    WITHDRAWN = "withdrawn"  # withdrawn by its author
    MERGED = "merged"  # merged into another proposal


class OrganisationType(enum.StrEnum):
    CITIZEN = "citizen"
    ASSOCIATION = "association"
    VOLUNTEER_CENTRE = "volunteer_centre"
    PATIENT_ORGANISATION = "patient_organisation"
    INTEREST_ORGANISATION = "interest_organisation"
    REGIONAL_STAFF = "regional_staff"
    POLITICIAN = "politician"
    OTHER = "other"


class Moderation(enum.StrEnum):
    POST = "post"  # visible at once, a facilitator can hide
    PRE = "pre"  # pending until a facilitator approves


class User(UserMixin, db.Model):
    """A staff member: facilitator, reviewer (politicians, officials) or admin."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped on logout: every session (cookie) and live connection made before it stops working,
    # although Flask's sessions live in the browser's cookie and cannot be deleted server-side.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        CheckConstraint("role IN ('facilitator', 'reviewer', 'admin')", name="role"),
    )

    def get_id(self) -> str:  # Flask-Login: what the session remembers
        return f"{self.id}:{self.session_generation or 0}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)  # scrypt

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value


class WorkshopFacilitator(db.Model):
    """Several facilitators can run one workshop together."""

    __tablename__ = "workshop_facilitator"

    workshop_id: Mapped[int] = mapped_column(
        ForeignKey("workshop.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Workshop(db.Model):
    __tablename__ = "workshop"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[str] = mapped_column(String(40), default="blank")
    phase: Mapped[str] = mapped_column(String(20), default=Phase.LOBBY.value)
    dots_per_participant: Mapped[int] = mapped_column(Integer, default=5)
    max_dots_per_proposal: Mapped[int] = mapped_column(Integer, default=3)
    moderation: Mapped[str] = mapped_column(String(10), default=Moderation.POST.value)
    max_proposals_per_participant: Mapped[int | None] = mapped_column(Integer, nullable=True)
    show_names: Mapped[bool] = mapped_column(Boolean, default=True)
    join_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    results_revealed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped on every change, so that a live client can tell an old snapshot from a new one.
    version: Mapped[int] = mapped_column(Integer, default=0)
    # The phase timer lives in the database, so that it survives a restart: a running timer
    # has a deadline; a paused one keeps the milliseconds it had left.
    timer_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    timer_remaining_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    timer_duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    spotlight_proposal_id: Mapped[int | None] = mapped_column(
        ForeignKey("proposal.id", ondelete="SET NULL", use_alter=True), nullable=True
    )
    # The secret in the presenter screen's link (a projector has no login).
    presenter_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Participants' personal data is anonymised this many days after the workshop closes.
    retention_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # How participants vote: dots (a budget), approval (yes to any number), score (1-5 each).
    voting_method: Mapped[str] = mapped_column(String(20), default="dots", server_default="dots")
    # When the facilitator published the outcome and the answers to the participants.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The facilitator's short public summary of the outcome, shown with the answers.
    outcome_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    elements: Mapped[list[ModelElement]] = relationship(
        back_populates="workshop",
        order_by="ModelElement.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    facilitators: Mapped[list[User]] = relationship(
        secondary="workshop_facilitator", order_by="User.email"
    )

    __table_args__ = (
        CheckConstraint(
            "phase IN ('lobby', 'ideation', 'review', 'voting', 'results', 'closed')",
            name="phase",
        ),
        CheckConstraint("moderation IN ('post', 'pre')", name="moderation"),
        CheckConstraint("dots_per_participant BETWEEN 1 AND 100", name="dots_budget"),
        CheckConstraint("max_dots_per_proposal BETWEEN 1 AND 100", name="dots_cap"),
    )

    @property
    def phase_enum(self) -> Phase:
        return Phase(self.phase)


class ModelElement(db.Model):
    """One element of the collaboration model that proposals are made to."""

    __tablename__ = "model_element"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(
        ForeignKey("workshop.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    key: Mapped[str | None] = mapped_column(String(60), nullable=True)  # template element key
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(300), default="")  # the seed document it comes from

    workshop: Mapped[Workshop] = relationship(back_populates="elements")


class Participant(db.Model):
    """A person who joined a workshop by its link; no account, known by an opaque token."""

    __tablename__ = "participant"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(
        ForeignKey("workshop.id", ondelete="CASCADE"), index=True
    )
    display_name: Mapped[str] = mapped_column(String(80))
    organisation: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # Case-folded, whitespace-collapsed name: members of one organisation share it.
    organisation_key: Mapped[str | None] = mapped_column(String(120), nullable=True)
    organisation_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # SHA-256 of the token; the token itself lives only in the participant's cookie.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When retention removed the name, the organisation's free text and the token.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Bumped under a row lock by every vote: serialises one participant's parallel votes.
    vote_seq: Mapped[int] = mapped_column(Integer, default=0)
    # The highest vote sequence number this participant's clients have sent and the server
    # applied (domain/voting.py): a vote that arrives with a lower one is older than what is
    # already counted (a resend from a dead connection) and changes nothing.
    vote_mark: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    workshop: Mapped[Workshop] = relationship()


class Proposal(db.Model):
    __tablename__ = "proposal"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(
        ForeignKey("workshop.id", ondelete="CASCADE"), index=True
    )
    element_id: Mapped[int] = mapped_column(
        ForeignKey("model_element.id", ondelete="RESTRICT"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("participant.id", ondelete="SET NULL"), nullable=True, index=True
    )
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=ProposalStatus.VISIBLE.value)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("proposal.id", ondelete="SET NULL"), nullable=True, index=True
    )
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    edited_by_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    element: Mapped[ModelElement] = relationship()
    author: Mapped[Participant | None] = relationship()
    merged_into: Mapped[Proposal | None] = relationship(remote_side=[id])
    authors: Mapped[list[ProposalAuthor]] = relationship(
        back_populates="proposal",
        cascade="all, delete-orphan",
        passive_deletes=True,
        foreign_keys="ProposalAuthor.proposal_id",
    )

    __table_args__ = (
        # A retried submission with the same client id finds the first one.
        UniqueConstraint("author_id", "client_id", name="uq_proposal_author_client"),
        CheckConstraint(
            "status IN ('pending', 'visible', 'hidden', 'withdrawn', 'merged')", name="status"
        ),
    )


class ProposalAuthor(db.Model):
    """Who stands behind a proposal: its author, and the authors of duplicates merged into it."""

    __tablename__ = "proposal_author"

    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposal.id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # The duplicate this authorship came from, when it came by a merge.
    via_proposal_id: Mapped[int | None] = mapped_column(
        ForeignKey("proposal.id", ondelete="SET NULL"), nullable=True
    )

    proposal: Mapped[Proposal] = relationship(back_populates="authors", foreign_keys=[proposal_id])
    participant: Mapped[Participant] = relationship()


class Comment(db.Model):
    __tablename__ = "comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposal.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participant.id", ondelete="SET NULL"), nullable=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    body: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    participant: Mapped[Participant | None] = relationship()
    user: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("participant_id", "client_id", name="uq_comment_participant_client"),
    )


class DotVote(db.Model):
    """The dots one participant has placed on one proposal (a row only while dots > 0)."""

    __tablename__ = "dot_vote"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(
        ForeignKey("workshop.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), index=True
    )
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposal.id", ondelete="CASCADE"), index=True
    )
    dots: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("participant_id", "proposal_id", name="uq_dot_vote_participant_proposal"),
        CheckConstraint("dots > 0", name="dots_positive"),
    )


class ModerationAction(db.Model):
    """The record of every moderation and facilitation action: who, when, what, why."""

    __tablename__ = "moderation_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(
        ForeignKey("workshop.id", ondelete="CASCADE"), index=True
    )
    proposal_id: Mapped[int | None] = mapped_column(
        ForeignKey("proposal.id", ondelete="SET NULL"), nullable=True, index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    action: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text, default="")
    # What changed, as JSON text (e.g. the title before and after an edit).
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()


class AnswerStatus(enum.StrEnum):
    UNDER_CONSIDERATION = "under_consideration"
    ADOPTED = "adopted"  # adopted into the model
    PARTLY_ADOPTED = "partly_adopted"
    NOT_ADOPTED = "not_adopted"


class ProposalAnswer(db.Model):
    """The answer to a proposal: one row per decision, never updated, so the history is kept.

    The newest row (highest id) for a proposal is its current answer.
    """

    __tablename__ = "proposal_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(
        ForeignKey("workshop.id", ondelete="CASCADE"), index=True
    )
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposal.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(30))
    reasoning: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint(
            "status IN ('under_consideration', 'adopted', 'partly_adopted', 'not_adopted')",
            name="answer_status",
        ),
    )


class AuditEvent(db.Model):
    """A staff or privacy action that must outlive what it acted on (e.g. a deleted workshop).

    No foreign keys on purpose: the workshop and even the user may be gone; the record stays.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_email: Mapped[str] = mapped_column(String(254), default="")
    workshop_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    workshop_code: Mapped[str] = mapped_column(String(16), default="")
    # What happened, as JSON text: counts, and for a deleted workshop its moderation log.
    detail: Mapped[str] = mapped_column(Text, default="")


class TallyCell(db.Model):
    """The votes of one group on one proposal, summed as they are cast: what the live tally
    reads instead of every vote (`results.summary`). Kept by triggers on `dot_vote` and on a
    participant's organisation (workshop/sums.py), so every write that changes a vote, an
    import, a merge or a cascade included, keeps it in step in the same transaction.

    `group_key` is the organisation key, '' for the participants without one (one cell for all
    of them, as `ranking.Cell` has None). A cell whose votes were all taken back stays, at 0."""

    __tablename__ = "tally_cell"

    workshop_id: Mapped[int] = mapped_column(
        ForeignKey("workshop.id", ondelete="CASCADE"), primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposal.id", ondelete="CASCADE"), primary_key=True, index=True)
    group_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    ballots: Mapped[int] = mapped_column(Integer)  # votes with a value (dots > 0)
    total: Mapped[int] = mapped_column(Integer)  # their values summed
    high: Mapped[int] = mapped_column(Integer)  # of those, values of SUPPORT_SCORE or more


class TallyGroup(db.Model):
    """Per group (as in `TallyCell`), its voters: participants with a vote on any proposal."""

    __tablename__ = "tally_group"

    workshop_id: Mapped[int] = mapped_column(
        ForeignKey("workshop.id", ondelete="CASCADE"), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    voters: Mapped[int] = mapped_column(Integer)


from . import sums  # noqa: E402  (the triggers that keep TallyCell and TallyGroup, above)

sums.install(db.metadata)
