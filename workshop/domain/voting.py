"""Voting: dots (a budget spread over the proposals), approval (yes to any number) or a score
(1-5 per proposal), chosen per workshop (`Workshop.voting_method`).

Every method goes through `set_dots`, so the API (`PUT /votes/<id> {dots}`), the socket `vote`
event and the page's form need nothing new: `dots` is the number of dots, 1 (yes) or 0 (no)
under approval, or the rating 1-5 (0 removes it) under score. Only dots has a budget.

The budget holds under concurrency: every vote first takes a lock on the participant's row
(an UPDATE, so PostgreSQL row-locks it and SQLite takes its write lock), and only then reads
what the participant has spent. Parallel votes from one participant are therefore serialised,
and the check-then-write can never overspend.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, Connection, bindparam, case, delete, func, insert, select, update
from sqlalchemy.sql.expression import Executable

from ..extensions import db
from ..models import DotVote, Participant, Phase, Proposal, ProposalStatus, User, Workshop, utcnow
from .access import require_facilitator, require_participant
from .errors import DomainError, invalid, require_phase
from .events import Event, unit_of_work, unit_of_work_on_own_connection
from .proposals import check_proposal_id, get_proposal

METHODS = ("dots", "approval", "score")
METHOD_LABELS = {
    "dots": _l("Prikker"),
    "approval": _l("Godkendelse (ja til så mange forslag, man vil)"),
    "score": _l("Karakter (1–5 til hvert forslag)"),
}
SCORE_MAX = 5


@dataclass(frozen=True)
class VoteResult:
    proposal_id: int
    dots: int
    remaining: int | None  # None: the method has no budget
    changed: bool
    # False when the vote carried a sequence number older than one already applied: it was
    # overtaken by a newer vote and changed nothing; `dots` is then what is counted.
    applied: bool = True
    mark: int = 0  # the participant's highest applied sequence number


def vote_cap(workshop: Workshop) -> int:
    """The highest value one participant can give one proposal under the workshop's method."""
    if workshop.voting_method == "approval":
        return 1
    if workshop.voting_method == "score":
        return SCORE_MAX
    return workshop.max_dots_per_proposal


def has_budget(workshop: Workshop) -> bool:
    return _budgeted(workshop.voting_method)


def _budgeted(method: str) -> bool:
    return method not in ("approval", "score")


def _value_problem(method: str, dots):
    """Why `dots` is not a vote under `method` (a message), or None when it is."""
    if isinstance(dots, bool) or not isinstance(dots, int):
        if method == "score":
            return _l("Karakteren skal være et helt tal fra 1 til 5 (0 fjerner den).")
        return _l("Antal prikker skal være et helt tal.")
    if method == "approval" and dots not in (0, 1):
        return _l("Svar 1 (ja) eller 0 (nej) til forslaget.")
    if method == "score" and not 0 <= dots <= SCORE_MAX:
        return _l("Karakteren skal være fra 1 til 5 (0 fjerner den).")
    if dots < 0:
        return _l("Antal prikker kan ikke være negativt.")
    return None


def _check_value(workshop: Workshop, dots) -> None:
    problem = _value_problem(workshop.voting_method, dots)
    if problem is not None:
        raise invalid(problem, "dots")


def allocations(participant: Participant) -> dict[int, int]:
    return {
        proposal_id: dots
        for proposal_id, dots in db.session.execute(
            select(DotVote.proposal_id, DotVote.dots).where(
                DotVote.participant_id == participant.id
            )
        )
    }


def remaining(workshop: Workshop, participant: Participant) -> int:
    spent = db.session.scalar(
        select(func.coalesce(func.sum(DotVote.dots), 0)).where(
            DotVote.participant_id == participant.id
        )
    )
    return workshop.dots_per_participant - spent


SEQ_MAX = 2**62


def check_seq(seq) -> int | None:
    """A vote's optional sequence number: a positive integer, higher for every newer vote."""
    if seq is None:
        return None
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= SEQ_MAX:
        raise invalid(_l("seq skal være et positivt heltal."), "seq")
    return seq


def set_dots(workshop: Workshop, participant: Participant | None, proposal_id, dots,
             seq=None) -> VoteResult:
    """Set this participant's dots on one proposal (0 removes them). Resending changes nothing.

    With `seq` (the client numbers its votes, each newer one higher), a vote that arrives after
    a newer one of the same participant has been applied — a resend still queued on a dead
    connection, say — is acknowledged but changes nothing (`applied=False`), so the newest vote
    always wins whatever the order of arrival. A resend of the vote last applied (the same
    `seq`) sets the same value again: nothing changes.

    The hot path of a voting burst, in three statements and a commit (a resend: two): the
    participant's lock, one read of the proposal and of what the participant has spent, and
    the write. Nothing is read back after the commit.
    """
    require_participant(participant, workshop)
    _check_value(workshop, dots)
    seq = check_seq(seq)
    if workshop.phase != Phase.VOTING.value:
        get_proposal(workshop, proposal_id)  # an unknown proposal is "not found" in any phase
        require_phase(workshop, (Phase.VOTING.value,),
                      _l("Der kan kun stemmes i afstemningsfasen."))
    proposal_id = check_proposal_id(proposal_id)
    rules = _Rules(workshop.id, has_budget(workshop), workshop.dots_per_participant,
                   workshop.max_dots_per_proposal)
    params = {"me": participant.id, "proposal": proposal_id, "workshop": workshop.id,
              "seq": seq}
    with unit_of_work() as events:
        # Core statements on the session's connection: nothing in the session to flush or
        # synchronise (through the session a vote took about a tenth more CPU).
        connection = db.session.connection()
        # The lock also raises the mark to this vote's seq (a rollback undoes it).
        connection.execute(_LOCK if seq is None else _LOCK_SEQ, params)
        # Read only after the lock: a parallel vote of the same participant has committed.
        status, before, spent_elsewhere, mark = connection.execute(_READ, params).one()
        return _apply(connection.execute, events, rules, params, dots, status, before,
                      spent_elsewhere, mark)


def cast_vote(workshop_id: int, participant_id: int, proposal_id, dots,
              seq=None) -> VoteResult | None:
    """`set_dots` for a socket vote, from ids alone: the workshop's rules and the participant's
    standing are read in the statement that reads the proposal and the dots, so a vote costs
    the lock, one read and the write, with no ORM objects loaded (re-reading the workshop and
    the participant for every event was 18 % of the server's time in a voting burst).

    Only for the plain case: a well-formed vote by a participant in good standing in the
    voting phase. Anything else returns None, with nothing changed, and the caller takes
    `set_dots`, whose checks give the exact refusal in their order. From the read on, both
    paths share `_apply`, so budgets, caps, hidden proposals and vote order are refused alike.
    """
    try:  # they go into the statements: checked first
        proposal_id, seq = check_proposal_id(proposal_id), check_seq(seq)
    except DomainError:
        return None
    params = {"me": participant_id, "proposal": proposal_id, "workshop": workshop_id,
              "seq": seq}
    try:
        # Outside the session, on a connection of its own, with the statements compiled once:
        # the session's bookkeeping and each statement's cache key and compilation cost more
        # than the vote's SQL itself (bench/vote_cost.py).
        with unit_of_work_on_own_connection() as (connection, events):
            def run(statement, values):
                return _PREPARED[statement].run(connection, values)

            if run(_LOCK if seq is None else _LOCK_SEQ, params).rowcount != 1:
                raise _NotPlain  # the participant is gone
            row = run(_READ_ALL, params).first()
            if (row is None or row.phase != Phase.VOTING.value or row.removed_at is not None
                    or row.anonymised_at is not None
                    or _value_problem(row.voting_method, dots) is not None):
                raise _NotPlain
            rules = _Rules(workshop_id, _budgeted(row.voting_method),
                           row.dots_per_participant, row.max_dots_per_proposal)
            return _apply(run, events, rules, params, dots, row.status, row.before,
                          row.spent_elsewhere, row.vote_mark)
    except _NotPlain:
        return None


class _NotPlain(Exception):
    """The fast vote path met something only `set_dots` explains (rolled back, then retried)."""


@dataclass(frozen=True)
class _Rules:
    """The workshop's voting rules, as plain values (the commit expires ORM objects)."""

    workshop_id: int
    budget: bool
    per_participant: int
    per_proposal: int


def _apply(run: Callable[[Executable, dict], Any], events: list[Event], rules: _Rules,
           params: dict, dots: int, status, before, spent_elsewhere: int,
           mark: int) -> VoteResult:
    """Decide and write one vote, after the lock and the read, inside the unit of work; `run`
    executes one of the statements below on the unit's connection."""
    proposal_id, seq = params["proposal"], params["seq"]
    if status is None:
        raise DomainError("not_found", _l("Forslaget findes ikke."))
    before = before or 0
    if seq is not None and mark > seq:
        # Overtaken: a newer vote was applied before this one arrived.
        return VoteResult(
            proposal_id=proposal_id, dots=before,
            remaining=(rules.per_participant - spent_elsewhere - before if rules.budget
                       else None),
            changed=False, applied=False, mark=mark)
    if rules.budget and dots > rules.per_proposal:
        raise DomainError(
            "budget_exceeded",
            _l("Du kan højst give %(n)d prikker til ét forslag.", n=rules.per_proposal),
        )
    if status != ProposalStatus.VISIBLE.value:
        raise DomainError("not_found", _l("Forslaget kan ikke stemmes på."))
    if rules.budget and spent_elsewhere + dots > rules.per_participant:
        raise DomainError(
            "budget_exceeded",
            _l("Du har kun %(n)d prikker tilbage.", n=rules.per_participant - spent_elsewhere),
        )
    if before != dots:
        if dots == 0:
            run(_REMOVE, params)
        else:
            run(_ADD if before == 0 else _CHANGE, {**params, "dots": dots, "at": utcnow()})
        events.append(Event(rules.workshop_id, "tally", {"proposal_ids": [proposal_id]}))
    return VoteResult(
        proposal_id=proposal_id,
        dots=dots,
        remaining=rules.per_participant - spent_elsewhere - dots if rules.budget else None,
        changed=before != dots,
        mark=mark,
    )


# The vote's statements, built once: on the tables (no ORM bookkeeping, nothing in the session
# to synchronise) with bound parameters, so a vote costs no expression building.
_participants, _votes, _proposals = Participant.__table__, DotVote.__table__, Proposal.__table__
_this_vote = (_votes.c.participant_id == bindparam("me"),
              _votes.c.proposal_id == bindparam("proposal"))
# The participant's vote lock: an UPDATE of its row, so PostgreSQL row-locks it (until the
# commit) and SQLite takes its write lock; one participant's votes are serialised.
_LOCK = (update(_participants).where(_participants.c.id == bindparam("me"))
         .values(vote_seq=_participants.c.vote_seq + 1))
# The same, raising the participant's mark to the vote's seq when that is higher.
_LOCK_SEQ = _LOCK.values(vote_mark=case(
    (_participants.c.vote_mark < bindparam("seq", type_=BigInteger), bindparam("seq")),
    else_=_participants.c.vote_mark))
# The proposal's status (None: not in this workshop), this vote's dots (None: no vote yet) and
# the dots the participant has placed on every other proposal.
_STATUS = (select(_proposals.c.status)
           .where(_proposals.c.id == bindparam("proposal"),
                  _proposals.c.workshop_id == bindparam("workshop"))
           .scalar_subquery())
_BEFORE = select(_votes.c.dots).where(*_this_vote).scalar_subquery()
_SPENT_ELSEWHERE = (select(func.coalesce(func.sum(_votes.c.dots), 0))
                    .where(_votes.c.participant_id == bindparam("me"),
                           _votes.c.proposal_id != bindparam("proposal"))
                    .scalar_subquery())
# Those three and the participant's vote mark, in one row.
_READ = select(_STATUS, _BEFORE, _SPENT_ELSEWHERE,
               select(_participants.c.vote_mark).where(_participants.c.id == bindparam("me"))
               .scalar_subquery())
# The same for `cast_vote`, with the workshop's rules and the participant's standing: no row
# when the participant is not in that workshop.
_workshops = Workshop.__table__
_READ_ALL = (
    select(_workshops.c.phase, _workshops.c.voting_method, _workshops.c.dots_per_participant,
           _workshops.c.max_dots_per_proposal, _participants.c.removed_at,
           _participants.c.anonymised_at, _participants.c.vote_mark,
           _STATUS.label("status"), _BEFORE.label("before"),
           _SPENT_ELSEWHERE.label("spent_elsewhere"))
    .select_from(_participants.join(_workshops, _workshops.c.id == _participants.c.workshop_id))
    .where(_participants.c.id == bindparam("me"), _workshops.c.id == bindparam("workshop"))
)
_ADD = insert(_votes).values(workshop_id=bindparam("workshop"), participant_id=bindparam("me"),
                             proposal_id=bindparam("proposal"), dots=bindparam("dots"),
                             updated_at=bindparam("at"))
_CHANGE = update(_votes).where(*_this_vote).values(dots=bindparam("dots"),
                                                   updated_at=bindparam("at"))
_REMOVE = delete(_votes).where(*_this_vote)


class _Prepared:
    """One of the vote's statements, compiled once per database dialect and run as the
    driver's own SQL (`exec_driver_sql`): a vote then costs no cache key and no compilation
    per statement, while SQLAlchemy's events (the tests count statements with them), its
    error translation and its pool's handling of broken connections all stay. Bound values go
    through their types' processors, as in a compiled execution (UTC timestamps on SQLite)."""

    def __init__(self, statement: Executable):
        self.statement = statement
        self._by_dialect: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _compiled(self, dialect):
        found = self._by_dialect.get(dialect)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            processors = {}
            for name, bind in compiled.binds.items():
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processors[name] = process
            names = tuple(compiled.positiontup) if compiled.positional else None
            found = self._by_dialect[dialect] = (compiled, processors, names)
        return found

    def run(self, connection: Connection, params: dict):
        compiled, processors, names = self._compiled(connection.dialect)
        values = compiled.construct_params(params)
        for name, process in processors.items():
            values[name] = process(values[name])
        return connection.exec_driver_sql(
            compiled.string, values if names is None else tuple(values[n] for n in names))


_PREPARED = {statement: _Prepared(statement)
             for statement in (_LOCK, _LOCK_SEQ, _READ_ALL, _ADD, _CHANGE, _REMOVE)}


def set_voting_method(workshop: Workshop, user: User, method) -> Workshop:
    """Choose how participants vote; only before voting starts. The per-proposal cap follows
    the method (1 for approval, 5 for score), so that every screen shows the right limit."""
    require_facilitator(user, workshop)
    if method not in METHODS:
        raise invalid(_l("Afstemningsformen skal være 'dots', 'approval' eller 'score'."),
                      "voting_method")
    if workshop.voting_method == method:
        return workshop
    require_phase(workshop, (Phase.LOBBY.value, Phase.IDEATION.value, Phase.REVIEW.value),
                  _l("Afstemningsformen kan ikke ændres, når afstemningen er begyndt."))
    from .workshops import bump_version, record

    previous = workshop.voting_method
    with unit_of_work() as events:
        workshop.voting_method = method
        if method == "approval":
            workshop.max_dots_per_proposal = 1
        elif method == "score":
            workshop.dots_per_participant = max(workshop.dots_per_participant, SCORE_MAX)
            workshop.max_dots_per_proposal = SCORE_MAX
        else:
            workshop.max_dots_per_proposal = min(3, workshop.dots_per_participant)
        bump_version(workshop)
        record(workshop, user, "voting_method", detail={"from": previous, "to": method})
        events.append(Event(workshop.id, "workshop", {"change": "settings"}))
    return workshop
