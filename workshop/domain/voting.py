"""Voting: dots (a budget spread over the proposals), approval (yes to any number) or a score
(1-5 per proposal), chosen per workshop (`Workshop.voting_method`).

Every method goes through `set_dots`, so the API (`PUT /votes/<id> {dots}`), the socket `vote`
event and the page's form need nothing new: `dots` is the number of dots, 1 (yes) or 0 (no)
under approval, or the rating 1-5 (0 removes it) under score. Only dots has a budget.

The budget holds under concurrency: every vote first takes a lock on the participant's row
(an UPDATE, so PostgreSQL row-locks it and SQLite takes its write lock; the socket's
`cast_votes` locks all its voters at once), and only then reads what the participant has
spent. Parallel votes from one participant are therefore serialised, and the check-then-write
can never overspend.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    Connection,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
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
        try:
            result, write = _decide(rules, params, dots, status, before, spent_elsewhere, mark)
        except VoteRefused as refusal:
            raise refusal.error() from None
        _write(connection.execute, events, write, params, dots)
        return result


@dataclass(frozen=True)
class PlainVote:
    """A socket vote as it arrives: ids and values only (see `cast_votes`)."""

    workshop_id: int
    participant_id: int
    proposal_id: Any
    dots: Any
    seq: Any = None


class VoteRefused(Exception):
    """A vote the rules refuse, with its message still untranslated: `cast_votes` decides
    other people's votes too, and each refusal must reach its voter in the voter's language
    (`error()` builds the DomainError in the caller's request)."""

    def __init__(self, code: str, message):
        super().__init__(code)
        self.code, self.message = code, message

    def error(self) -> DomainError:
        return DomainError(self.code, self.message)


VoteOutcome = VoteResult | VoteRefused | None


def cast_vote(workshop_id: int, participant_id: int, proposal_id, dots,
              seq=None) -> VoteResult | None:
    """One socket vote (`cast_votes` with one vote): its result, None when it is not the
    plain case (the caller then takes `set_dots`); a refusal is raised as a DomainError."""
    outcome = cast_votes([PlainVote(workshop_id, participant_id, proposal_id, dots, seq)])[0]
    if isinstance(outcome, VoteRefused):
        raise outcome.error()
    return outcome


def cast_votes(votes: list[PlainVote]) -> list[VoteOutcome]:
    """Socket votes, several participants' at once, written in one transaction: `set_dots`
    for each, from ids alone, with one commit for all of them (group commit: in a voting
    burst a vote's own transaction and SQLAlchemy's execution around its statements were
    most of its cost; docs/performance.md, the eleventh round).

    Each vote's outcome, in order: its VoteResult, a VoteRefused (nothing of it written), or
    None when it is not the plain case (a malformed value, a participant not in good standing,
    a workshop not voting, another workshop's participant): nothing of it is written and the
    caller takes `set_dots`, whose checks give the exact refusal in their order. Nothing is
    acknowledged before the commit: if the transaction fails, the error is raised and none of
    the votes counts (each caller answers "unavailable" and its client resends).

    The statements, on the driver's own cursor (`_Driver`): first the batch's lock (SQLite:
    BEGIN IMMEDIATE, the database's write lock; PostgreSQL: the workshop's vote lock, so that
    two processes' batches on one workshop take turns instead of deadlocking on the tally's
    rows, then every voter's row FOR UPDATE in id order), then per vote one
    read of the workshop's rules, the participant's standing, the proposal and the dots (after
    the lock: the dots a parallel vote committed are seen), and only for a vote that counts,
    the participant's mark (when its seq raises it) and the write. A refused vote writes
    nothing, so it needs no savepoint.
    """
    outcomes: list[VoteOutcome] = [None] * len(votes)
    checked = []
    for index, vote in enumerate(votes):
        try:  # they go into the statements: checked first
            params = {"me": vote.participant_id, "proposal": check_proposal_id(vote.proposal_id),
                      "workshop": vote.workshop_id, "seq": check_seq(vote.seq)}
        except DomainError:
            continue
        checked.append((index, vote, params))
    if not checked:
        return outcomes
    with unit_of_work_on_own_connection() as (connection, events):
        driver = _Driver(connection)
        try:
            _cast_checked(driver, events, checked, outcomes)
        finally:
            driver.close()
    return outcomes


def _cast_checked(driver: _Driver, events: list[Event], checked: list,
                  outcomes: list[VoteOutcome]) -> None:
    """`cast_votes` inside its transaction: the lock, then each vote read, decided, written."""
    driver.lock(sorted({params["me"] for _, _, params in checked}),
                sorted({params["workshop"] for _, _, params in checked}))
    for index, vote, params in checked:
        row = driver.run(_READ_ALL, params).fetchone()
        if row is None:
            continue  # the participant is not in that workshop, or gone
        (phase, method, per_participant, per_proposal, removed_at, anonymised_at, mark,
         status, before, spent_elsewhere) = row
        if (phase != Phase.VOTING.value or removed_at is not None or anonymised_at is not None
                or _value_problem(method, vote.dots) is not None):
            continue
        rules = _Rules(vote.workshop_id, _budgeted(method), per_participant, per_proposal)
        try:
            result, write = _decide(rules, params, vote.dots, status, before, spent_elsewhere,
                                    mark)
        except VoteRefused as refusal:
            outcomes[index] = refusal
            continue
        if result.applied and params["seq"] is not None and params["seq"] > mark:
            driver.run(_MARK, params)
        _write(driver.run, events, write, params, vote.dots)
        outcomes[index] = result


def _write(run: Callable[[Executable, dict], Any], events: list[Event],
           write: Executable | None, params: dict, dots: int) -> None:
    """Run a decided vote's write (if it has one) and note the tally it changes."""
    if write is not None:
        run(write, {**params, "dots": dots, "at": utcnow()})
        events.append(Event(params["workshop"], "tally", {"proposal_ids": [params["proposal"]]}))


@dataclass(frozen=True)
class _Rules:
    """The workshop's voting rules, as plain values (the commit expires ORM objects)."""

    workshop_id: int
    budget: bool
    per_participant: int
    per_proposal: int


def _decide(rules: _Rules, params: dict, dots: int, status, before, spent_elsewhere: int,
            mark: int) -> tuple[VoteResult, Executable | None]:
    """Decide one vote, from what was read after the participant's lock: its result and the
    statement that writes it (None: nothing to write), or VoteRefused."""
    proposal_id, seq = params["proposal"], params["seq"]
    if status is None:
        raise VoteRefused("not_found", _l("Forslaget findes ikke."))
    before = before or 0
    if seq is not None and mark > seq:
        # Overtaken: a newer vote was applied before this one arrived.
        return VoteResult(
            proposal_id=proposal_id, dots=before,
            remaining=(rules.per_participant - spent_elsewhere - before if rules.budget
                       else None),
            changed=False, applied=False, mark=mark), None
    if rules.budget and dots > rules.per_proposal:
        raise VoteRefused("budget_exceeded",
                          _l("Du kan højst give %(n)d prikker til ét forslag.",
                             n=rules.per_proposal))
    if status != ProposalStatus.VISIBLE.value:
        raise VoteRefused("not_found", _l("Forslaget kan ikke stemmes på."))
    if rules.budget and spent_elsewhere + dots > rules.per_participant:
        raise VoteRefused("budget_exceeded",
                          _l("Du har kun %(n)d prikker tilbage.",
                             n=rules.per_participant - spent_elsewhere))
    write = None
    if before != dots:
        write = _REMOVE if dots == 0 else (_ADD if before == 0 else _CHANGE)
    return VoteResult(
        proposal_id=proposal_id,
        dots=dots,
        remaining=rules.per_participant - spent_elsewhere - dots if rules.budget else None,
        changed=before != dots,
        mark=max(mark, seq or 0),
    ), write


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
# The same for `cast_votes`, with the workshop's rules and the participant's standing: no row
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


# A counted vote's seq, raised into the participant's mark (the batch checked it is higher).
_MARK = (update(_participants).where(_participants.c.id == bindparam("me"))
         .values(vote_mark=bindparam("seq", type_=BigInteger)))
# One batch of socket votes at a time per workshop, across processes (PostgreSQL): a batch's
# writes take the tally's rows (workshop/sums.py: one per proposal and group, one per group) in
# the order its votes came, so two processes' batches on one workshop, side by side, could each
# hold a row the other waits for; PostgreSQL would break that deadlock after a second by failing
# one batch. A transaction-scoped advisory lock, in its own key space, keyed by the workshop.
_VOTE_LOCK_SPACE = 0x5AB
_LOCK_WORKSHOP_VOTES = text("SELECT pg_advisory_xact_lock(:space, :workshop)")
# Then a batch's lock on PostgreSQL: every voter's row, in id order (SQLite: BEGIN IMMEDIATE).
_LOCK_VOTERS = (select(_participants.c.id)
                .where(_participants.c.id.in_(bindparam("ids", expanding=True)))
                .order_by(_participants.c.id).with_for_update())


class _Prepared:
    """One of the vote's statements, compiled once per database dialect into the driver's own
    SQL and its arguments: a vote costs no cache key and no compilation per statement. Bound
    values go through their types' processors, as in a compiled execution (UTC timestamps on
    SQLite); literal values in the statement keep theirs."""

    def __init__(self, statement: Executable):
        self.statement = statement
        self._by_dialect: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _compiled(self, dialect):
        found = self._by_dialect.get(dialect)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            fixed, wanted, processors = {}, {}, {}
            for name, bind in compiled.binds.items():
                if bind.required:
                    wanted[name] = bind.key
                else:
                    fixed[name] = bind.effective_value
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processors[name] = process
            names = tuple(compiled.positiontup) if compiled.positional else None
            found = self._by_dialect[dialect] = (compiled.string, fixed, wanted, processors,
                                                 names)
        return found

    def bind(self, dialect, params: dict) -> tuple[str, tuple | dict]:
        """The SQL and the driver's arguments for `params` (KeyError: one is missing)."""
        sql, fixed, wanted, processors, names = self._compiled(dialect)
        values = dict(fixed)
        for name, key in wanted.items():
            values[name] = params[key]
        for name, process in processors.items():
            values[name] = process(values[name])
        return sql, values if names is None else tuple(values[n] for n in names)


_PREPARED = {statement: _Prepared(statement)
             for statement in (_READ_ALL, _MARK, _ADD, _CHANGE, _REMOVE)}


class _Driver:
    """The statements of `cast_votes` on the driver's own cursor, inside the connection's
    transaction: SQLAlchemy's execution (its context, result object and row processing) cost
    more per vote than SQLite's work itself (bench/vote_cost.py). What the engine's users
    rely on stays: its cursor events fire for every statement (the tests count statements
    with them), a driver error is raised as SQLAlchemy's (OperationalError for a database
    that is down, as the callers expect), and a lost connection is invalidated in the pool."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.dialect = connection.dialect
        connection.begin()  # the transaction connection.commit() ends; no SQL is sent yet
        self.cursor = connection.connection.cursor()
        dispatch = connection.dispatch
        self.listened = bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)

    def lock(self, participant_ids: list[int], workshop_ids: list[int]) -> None:
        """The batch's lock, before anything is read: SQLite's write lock for the whole
        database; on PostgreSQL the workshops' vote lock (`_LOCK_WORKSHOP_VOTES`, in id order),
        then the voters' rows in id order."""
        if self.dialect.name == "sqlite":
            self.execute("BEGIN IMMEDIATE", ())
        else:
            for workshop_id in workshop_ids:
                self.connection.execute(_LOCK_WORKSHOP_VOTES, {"space": _VOTE_LOCK_SPACE,
                                                               "workshop": workshop_id})
            self.connection.execute(_LOCK_VOTERS, {"ids": participant_ids}).all()

    def run(self, statement: Executable, params: dict):
        return self.execute(*_PREPARED[statement].bind(self.dialect, params))

    def execute(self, sql: str, args):
        connection, cursor = self.connection, self.cursor
        if self.listened:
            for listen in connection.dispatch.before_cursor_execute:
                listen(connection, cursor, sql, args, None, False)
        try:
            cursor.execute(sql, args)
        except self.dialect.loaded_dbapi.Error as error:
            raise self._translated(error, sql, args) from error
        if self.listened:
            for listen in connection.dispatch.after_cursor_execute:
                listen(connection, cursor, sql, args, None, False)
        return cursor

    def _translated(self, error: Exception, sql: str, args) -> DBAPIError:
        lost = self.dialect.is_disconnect(error, self.connection.connection.dbapi_connection,
                                          self.cursor)
        if lost:
            self.connection.invalidate(error)
        return DBAPIError.instance(sql, args, error, self.dialect.loaded_dbapi.Error,
                                   connection_invalidated=lost, dialect=self.dialect)

    def close(self) -> None:
        try:
            self.cursor.close()
        except self.dialect.loaded_dbapi.Error:  # its connection is already gone
            pass


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
