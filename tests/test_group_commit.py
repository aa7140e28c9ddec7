"""Group commit: socket votes that arrive together are written in one transaction
(live/group_commit.GroupCommit, voting.cast_votes), and a batch decides every vote exactly as
the same votes one at a time would, each refusal told in its own voter's language."""

from __future__ import annotations

import threading
import time

import pytest
from flask_babel import force_locale
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.factories import hide, join_as, make_workshop, move_to, propose
from tests.test_live_events import emit, live  # noqa: F401,F811 - fixture
from workshop.domain import voting
from workshop.domain.voting import PlainVote, VoteRefused, VoteResult
from workshop.extensions import db
from workshop.live.group_commit import GroupCommit
from workshop.models import DotVote, Participant, Workshop

pytestmark = pytest.mark.usefixtures("fast_passwords")


# --- GroupCommit, with threads standing in for the connections' greenlets ---------------------


class Desk:
    """A GroupCommit whose first batch is held open until `release()`, so that the votes that
    arrive meanwhile queue up; every batch it writes is kept in `batches`."""

    def __init__(self, limit: int = 100, fail_on: int | None = None):
        self.batches: list[list] = []
        self.holding, self._release = threading.Event(), threading.Event()
        self.fail_on = fail_on
        self.commit = GroupCommit(self._write, pause=lambda: None, limit=limit)
        self.outcomes: dict = {}
        self.threads: list[threading.Thread] = []

    def _write(self, items):
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.holding.set()
            assert self._release.wait(10)
        if self.fail_on is not None and self.fail_on in items:
            raise RuntimeError("the database is down")
        return [f"counted {item}" for item in items]

    def submit(self, item) -> None:
        def run():
            try:
                self.outcomes[item] = self.commit.submit(item)
            except Exception as error:  # noqa: BLE001 - what the caller was told
                self.outcomes[item] = error

        thread = threading.Thread(target=run)
        self.threads.append(thread)
        thread.start()

    def queue_behind_the_first(self, items) -> None:
        self.submit(items[0])
        assert self.holding.wait(10)
        for item in items[1:]:
            self.submit(item)
        deadline = time.monotonic() + 10
        while self.commit.waiting() < len(items) - 1:
            assert time.monotonic() < deadline, "the votes never queued"
            time.sleep(0.001)

    def release(self) -> None:
        self._release.set()
        for thread in self.threads:
            thread.join(10)
            assert not thread.is_alive()


def test_votes_that_arrive_while_a_batch_is_written_go_together_in_the_next():
    desk = Desk()
    desk.queue_behind_the_first([0, 1, 2, 3, 4, 5])
    desk.release()
    assert desk.batches[0] == [0]
    assert sorted(desk.batches[1]) == [1, 2, 3, 4, 5] and len(desk.batches) == 2
    assert desk.outcomes == {i: f"counted {i}" for i in range(6)}  # each its own outcome
    assert (desk.commit.batches, desk.commit.items, desk.commit.waiting()) == (2, 6, 0)


def test_a_batch_that_fails_fails_for_every_vote_in_it_and_the_next_is_written():
    desk = Desk(fail_on=3)
    desk.queue_behind_the_first([0, 1, 2, 3])
    desk.release()
    assert desk.outcomes[0] == "counted 0"
    for item in (1, 2, 3):  # nobody in the failed batch is told it counted
        assert isinstance(desk.outcomes[item], RuntimeError), desk.outcomes
    assert desk.commit.submit(7) == "counted 7"  # the desk is not stuck


def test_a_batch_takes_at_most_its_limit():
    desk = Desk(limit=2)
    desk.queue_behind_the_first([0, 1, 2, 3, 4, 5])
    desk.release()
    assert [len(batch) for batch in desk.batches] == [1, 2, 2, 1]
    assert desk.outcomes == {i: f"counted {i}" for i in range(6)}


def test_a_leader_stopped_before_it_took_its_batch_hands_over_and_nothing_is_stuck():
    class Stop(BaseException):
        """A greenlet being killed."""

    written, first = [], threading.Event()
    commit: GroupCommit

    def pause():
        if not first.is_set():
            first.set()
            deadline = time.monotonic() + 10
            while commit.waiting() < 3:  # the leader's own vote and two more
                assert time.monotonic() < deadline
                time.sleep(0.001)
            raise Stop()

    commit = GroupCommit(lambda items: written.append(list(items)) or list(items), pause=pause)
    outcomes: dict = {}

    def submit(item):
        try:
            outcomes[item] = commit.submit(item)
        except BaseException as error:  # noqa: BLE001 - what the caller was told
            outcomes[item] = error

    leader = threading.Thread(target=submit, args=("leader",))
    leader.start()
    assert first.wait(10)
    followers = [threading.Thread(target=submit, args=(name,)) for name in ("a", "b")]
    for thread in followers:
        thread.start()
    for thread in (leader, *followers):
        thread.join(10)
        assert not thread.is_alive()
    assert isinstance(outcomes["leader"], Stop)
    assert (outcomes["a"], outcomes["b"]) == ("a", "b")  # the next leader wrote them
    assert len(written) == 1 and sorted(written[0]) == ["a", "b"]
    assert commit.submit("later") == "later" and commit.waiting() == 0


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError):
        GroupCommit(lambda items: items, pause=lambda: None, limit=0)


# --- cast_votes: a batch decides like the same votes one at a time ----------------------------

TARGETS = ("first", "second", "hidden", "unknown", "not an id")
DOTS = (0, 1, 2, 3, 4, 1, 2, -1, True, "2")
SEQS = (None, 1, 2, 3, 5, 8, 0)


def twin_board():
    """A workshop in voting with two open proposals, a hidden one and three voters; ids by
    name, so that two such boards can be compared."""
    workshop = make_workshop(phase="ideation")
    author = join_as(workshop, "Forfatter")
    first, second, hidden = (propose(workshop, author, f"Forslag {i}") for i in range(3))
    hide(workshop, hidden)
    move_to(workshop, "voting")
    voters = [join_as(workshop, f"Vælger {i}") for i in range(3)]
    ids = {"first": first.id, "second": second.id, "hidden": hidden.id, "unknown": 10**6,
           "not an id": "1"}
    return workshop.id, [v.id for v in voters], ids, [v.token for v in voters]


def plain(board, voter: int, target: str, dots, seq) -> PlainVote:
    workshop_id, voters, ids, _tokens = board
    return PlainVote(workshop_id, voters[voter], ids[target], dots, seq)


def told(outcome, ids: dict):
    """An outcome with the board's own ids replaced by names."""
    names = {v: k for k, v in ids.items() if isinstance(v, int)}
    if isinstance(outcome, VoteResult):
        return ("counted", names.get(outcome.proposal_id), outcome.dots, outcome.remaining,
                outcome.changed, outcome.applied, outcome.mark)
    if isinstance(outcome, VoteRefused):
        return ("refused", outcome.code, str(outcome.message))
    return outcome


def standing(board):
    """Every voter's dots by proposal name, and their vote marks."""
    workshop_id, voters, ids, _tokens = board
    names = {v: k for k, v in ids.items() if isinstance(v, int)}
    db.session.expire_all()
    dots = {(voters.index(p), names[pr]): d for p, pr, d in db.session.execute(
        select(DotVote.participant_id, DotVote.proposal_id, DotVote.dots)
        .where(DotVote.workshop_id == workshop_id))}
    marks = [db.session.get(Participant, v).vote_mark for v in voters]
    return dots, marks


def one_at_a_time(board, votes) -> list:
    outcomes = []
    for vote in votes:
        outcomes.append(voting.cast_votes([plain(board, *vote)])[0])
    return outcomes


vote_step = st.tuples(st.integers(0, 2), st.sampled_from(TARGETS), st.sampled_from(DOTS),
                      st.sampled_from(SEQS))


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(votes=st.lists(vote_step, min_size=1, max_size=14))
def test_a_batch_decides_every_vote_as_the_same_votes_one_at_a_time(app, votes):
    batched, alone = twin_board(), twin_board()
    together = voting.cast_votes([plain(batched, *vote) for vote in votes])
    apart = one_at_a_time(alone, votes)
    assert [told(o, batched[2]) for o in together] == [told(o, alone[2]) for o in apart]
    assert standing(batched) == standing(alone)


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_a_burst_of_votes_in_one_batch_keeps_every_budget_and_every_order(app):
    """Three voters' dots, resends, an overtaken vote and refusals, all in one transaction, on
    both databases: the same outcomes and the same rows as one at a time."""
    votes = [(0, "first", 2, 1), (1, "first", 3, 1), (0, "second", 3, 2),
             (0, "second", 2, 3), (2, "hidden", 1, 1), (1, "second", 2, 2),
             (1, "second", 3, 3),  # over the budget: 3 + 3 of 5
             (0, "first", 2, 3),  # a resend of a counted vote: nothing changes
             (1, "first", 0, 1),  # older than the voter's mark: overtaken
             (2, "first", 1, 2), (2, "first", 0, 3), (2, "second", 4, 4),  # over the cap
             (0, "unknown", 1, 5), (1, "not an id", 1, 3), (2, "second", True, 5)]
    batched, alone = twin_board(), twin_board()
    together = voting.cast_votes([plain(batched, *vote) for vote in votes])
    apart = one_at_a_time(alone, votes)
    assert [told(o, batched[2]) for o in together] == [told(o, alone[2]) for o in apart]
    assert standing(batched) == standing(alone)
    kinds = [told(o, batched[2])[0] if o is not None else None for o in together]
    assert kinds.count("refused") == 4 and kinds.count(None) == 2  # set_dots explains those
    assert told(together[6], batched[2])[:2] == ("refused", "budget_exceeded")
    assert told(together[8], batched[2])[5] is False  # overtaken, acknowledged
    assert standing(batched) == ({(0, "first"): 2, (0, "second"): 2, (1, "first"): 3,
                                  (1, "second"): 2}, [3, 2, 3])  # refusals raised no mark


def test_a_batch_is_one_lock_and_at_most_three_statements_a_vote(app, count_queries):
    board = twin_board()
    votes = [(0, "first", 1, 1), (1, "first", 2, 1), (2, "second", 1, 1),
             (0, "second", 1, 2), (1, "first", 1, 2)]
    with count_queries() as q:
        outcomes = voting.cast_votes([plain(board, *vote) for vote in votes])
    assert all(isinstance(o, VoteResult) for o in outcomes)
    # The lock, then per vote the read, the mark and the write: 1 + 3 * 5 (one at a time:
    # 4 * 5, each with its own commit).
    assert q.count == 16


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_two_processes_batches_in_opposite_orders_never_deadlock(app):
    """Two batches at once (two processes' group commits) whose votes came in opposite
    proposal orders: side by side, each would hold one proposal's tally row and wait for the
    other's (PostgreSQL breaks such a deadlock by failing one batch). The workshop's vote lock
    makes them take turns."""
    board = twin_board()
    workshop = db.session.get(Workshop, board[0])
    more = [join_as(workshop, f"Vælger {i}").id for i in (3, 4)]
    voters = board[1] + more
    first, second = board[2]["first"], board[2]["second"]
    rounds, start = 25, threading.Barrier(2)
    failures: list[BaseException] = []

    def process(batch_of):
        with app.app_context():
            try:
                for n in range(rounds):
                    start.wait(10)
                    voting.cast_votes(batch_of(n % 2 + 1, n + 1))
            except BaseException as error:  # noqa: BLE001 - the test reports it
                failures.append(error)
                start.abort()

    one = threading.Thread(target=process, args=(lambda dots, seq: [
        PlainVote(board[0], voters[0], first, dots, seq),
        PlainVote(board[0], voters[1], second, dots, seq)],))
    other = threading.Thread(target=process, args=(lambda dots, seq: [
        PlainVote(board[0], voters[3], second, dots, seq),
        PlainVote(board[0], voters[4], first, dots, seq)],))
    one.start(), other.start()
    one.join(60), other.join(60)
    assert not failures, failures
    db.session.expire_all()
    assert {v: db.session.get(Participant, v).vote_mark for v in (voters[0], voters[4])} == {
        voters[0]: rounds, voters[4]: rounds}


def test_a_refusal_decided_in_a_batch_is_told_in_each_voters_language(app):
    board = twin_board()
    over = voting.cast_votes([plain(board, 0, "first", 3, 1), plain(board, 0, "second", 3, 2)])
    refusal = over[1]
    assert isinstance(refusal, VoteRefused) and refusal.code == "budget_exceeded"
    with app.test_request_context("/"):
        with force_locale("da"):
            assert refusal.error().message == "Du har kun 2 prikker tilbage."
        with force_locale("en"):
            assert refusal.error().message == "You only have 2 dots left."


# --- The socket's door ------------------------------------------------------------------------


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_socket_votes_share_their_commits_on_both_databases(app, live):  # noqa: F811
    import workshop.live as live_module

    board = twin_board()
    code = db.session.get(Workshop, board[0]).code
    phones = [live.connect(code, cookies={f"samskab_p_{code}": token}) for token in board[3]]
    for phone, dots in zip(phones, (1, 2, 3), strict=True):
        ack = emit(phone, "vote", {"proposal_id": board[2]["first"], "dots": dots, "seq": 1})
        assert ack["ok"] and ack["dots"] == dots, ack
    # A refusal decided in the shared path still reaches the voter as its ack.
    ack = emit(phones[0], "vote", {"proposal_id": board[2]["second"], "dots": 5, "seq": 2})
    assert ack["error"]["code"] == "budget_exceeded"
    assert standing(board) == ({(0, "first"): 1, (1, "first"): 2, (2, "first"): 3}, [1, 1, 1])
    assert (live_module.votes.batches, live_module.votes.items) == (4, 4)
