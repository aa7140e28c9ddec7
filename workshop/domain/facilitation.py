"""Running a live session: the phase timer, the spotlight, revealing the tally, locking joins
and removing a disruptive participant. The state lives in the database, so it survives a
restart and every process serves the same."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from ..extensions import db
from ..models import DotVote, Participant, Phase, ProposalStatus, User, Workshop, utcnow
from .access import require_facilitator
from .errors import DomainError, check_text, invalid
from .events import Event, unit_of_work
from .proposals import get_proposal
from .workshops import bump_version, record

TIMER_MAX_S = 6 * 3600
TIMER_ACTIONS = ("start", "pause", "resume", "extend", "stop")


@dataclass(frozen=True)
class TimerState:
    state: str  # idle | running | paused | expired
    deadline: datetime | None
    remaining_ms: int | None
    duration_ms: int | None

    def as_dict(self, now: datetime | None = None) -> dict:
        return {
            "state": self.state,
            "deadline": int(self.deadline.timestamp() * 1000) if self.deadline else None,
            "remaining_ms": self.remaining_ms,
            "duration_ms": self.duration_ms,
            "server_now": int((now or utcnow()).timestamp() * 1000),
        }


def timer_state(workshop: Workshop, now: datetime | None = None) -> TimerState:
    now = now or utcnow()
    if workshop.timer_deadline is not None:
        remaining = int((workshop.timer_deadline - now).total_seconds() * 1000)
        return TimerState("running" if remaining > 0 else "expired", workshop.timer_deadline,
                          max(remaining, 0), workshop.timer_duration_ms)
    if workshop.timer_remaining_ms is not None:
        return TimerState("paused", None, workshop.timer_remaining_ms, workshop.timer_duration_ms)
    return TimerState("idle", None, None, workshop.timer_duration_ms)


def _seconds(value, field: str = "seconds") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(_l("Angiv et helt antal sekunder."), field)
    if not 1 <= value <= TIMER_MAX_S:
        raise invalid(_l("Tiden skal være mellem 1 sekund og 6 timer."), field)
    return value


def control_timer(workshop: Workshop, user: User, action, seconds=None) -> TimerState:
    """start (seconds), pause, resume, extend (seconds, also when paused or expired), stop."""
    require_facilitator(user, workshop)
    if action not in TIMER_ACTIONS:
        raise invalid(_l("Ukendt handling for uret: %(name)s", name=str(action)[:20]), "action")
    if workshop.phase == Phase.CLOSED.value:
        raise DomainError("closed")
    now = utcnow()
    current = timer_state(workshop, now)
    with unit_of_work() as events:
        if action == "start":
            duration = _seconds(seconds)
            workshop.timer_deadline = now + timedelta(seconds=duration)
            workshop.timer_remaining_ms = None
            workshop.timer_duration_ms = duration * 1000
        elif action == "pause":
            if current.state != "running":
                raise DomainError("conflict", _l("Uret kører ikke."))
            workshop.timer_remaining_ms = current.remaining_ms
            workshop.timer_deadline = None
        elif action == "resume":
            if current.state != "paused":
                raise DomainError("conflict", _l("Uret er ikke sat på pause."))
            workshop.timer_deadline = now + timedelta(milliseconds=current.remaining_ms)
            workshop.timer_remaining_ms = None
        elif action == "extend":
            extra = _seconds(seconds)
            if current.state == "paused":
                workshop.timer_remaining_ms = current.remaining_ms + extra * 1000
            elif current.state == "running":
                workshop.timer_deadline = workshop.timer_deadline + timedelta(seconds=extra)
            else:  # idle or expired: extending starts it again with the extra time
                workshop.timer_deadline = now + timedelta(seconds=extra)
                workshop.timer_remaining_ms = None
            workshop.timer_duration_ms = (workshop.timer_duration_ms or 0) + extra * 1000
        else:  # stop
            workshop.timer_deadline = None
            workshop.timer_remaining_ms = None
            workshop.timer_duration_ms = None
        bump_version(workshop)
        state = timer_state(workshop, now)
        record(workshop, user, "timer", detail={"action": action, "seconds": seconds})
        events.append(Event(workshop.id, "timer", state.as_dict(now)))
    return state


def set_spotlight(workshop: Workshop, user: User, proposal_id) -> int | None:
    """Show one proposal on the presenter screen (None clears the spotlight)."""
    require_facilitator(user, workshop)
    if proposal_id is not None:
        proposal = get_proposal(workshop, proposal_id)
        if proposal.status != ProposalStatus.VISIBLE.value:
            raise DomainError("conflict", _l("Kun synlige forslag kan vises på skærmen."))
        proposal_id = proposal.id
    if workshop.spotlight_proposal_id == proposal_id:
        return proposal_id
    with unit_of_work() as events:
        workshop.spotlight_proposal_id = proposal_id
        bump_version(workshop)
        record(workshop, user, "spotlight", proposal_id=proposal_id)
        events.append(Event(workshop.id, "spotlight", {"proposal_id": proposal_id}))
    return proposal_id


def set_revealed(workshop: Workshop, user: User, revealed) -> bool:
    """Show or hide the live tally on participants' phones and the presenter screen."""
    require_facilitator(user, workshop)
    if not isinstance(revealed, bool):
        raise invalid(_l("Angiv sand eller falsk."), "revealed")
    if workshop.results_revealed == revealed:
        return revealed
    with unit_of_work() as events:
        workshop.results_revealed = revealed
        bump_version(workshop)
        record(workshop, user, "reveal" if revealed else "unreveal")
        events.append(Event(workshop.id, "reveal", {"revealed": revealed}))
    return revealed


def set_join_locked(workshop: Workshop, user: User, locked) -> bool:
    require_facilitator(user, workshop)
    if not isinstance(locked, bool):
        raise invalid(_l("Angiv sand eller falsk."), "locked")
    if workshop.join_locked == locked:
        return locked
    with unit_of_work() as events:
        workshop.join_locked = locked
        bump_version(workshop)
        record(workshop, user, "lock" if locked else "unlock")
        events.append(Event(workshop.id, "workshop", {"change": "lock", "join_locked": locked}))
    return locked


def remove_participant(workshop: Workshop, user: User, participant_id, *, void_votes=False,
                       reason: str = "") -> Participant:
    """Remove a disruptive participant: their link stops working; optionally void their votes."""
    require_facilitator(user, workshop)
    if isinstance(participant_id, bool) or not isinstance(participant_id, int):
        raise invalid(_l("Ugyldig deltager."), "participant_id")
    if not isinstance(void_votes, bool):
        raise invalid(_l("Angiv sand eller falsk."), "void_votes")
    reason = check_text(reason, "reason", max_len=500, required=False, label=_l("Begrundelse"))
    participant = db.session.get(Participant, participant_id)
    if participant is None or participant.workshop_id != workshop.id:
        raise DomainError("not_found", _l("Deltageren findes ikke."))
    if participant.removed_at is not None and not void_votes:
        return participant
    with unit_of_work() as events:
        voided = 0
        if void_votes:
            voided = db.session.scalar(
                select(db.func.coalesce(db.func.sum(DotVote.dots), 0))
                .where(DotVote.participant_id == participant.id)
            )
            db.session.execute(delete(DotVote).where(DotVote.participant_id == participant.id))
        participant.removed_at = participant.removed_at or utcnow()
        bump_version(workshop)
        record(workshop, user, "remove_participant", reason=reason or "",
               detail={"participant_id": participant.id, "voided_dots": voided})
        events.append(Event(workshop.id, "participant",
                            {"change": "removed", "id": participant.id}))
        if voided:
            events.append(Event(workshop.id, "tally", {}))
    return participant
