"""A socket vote takes a fast path (voting.cast_vote: ids only, the workshop's rules read with
the dots) and falls back on set_dots for anything but the plain case. Two voters in the same
state, one voting the socket's way and one through set_dots, must always end alike: the same
answer or refusal, the same dots, the same vote mark."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.factories import hide, join_as, make_workshop, move_to, propose
from workshop.domain import voting
from workshop.domain.errors import DomainError
from workshop.extensions import db
from workshop.models import DotVote, Participant, Workshop

pytestmark = pytest.mark.usefixtures("fast_passwords")

TARGETS = ("first", "second", "hidden", "foreign", "unknown", "not an id")
# The changes between votes that the fast path must notice (it reads them with the dots).
TURNS = ("results", "voting", "remove")

DOTS = (-1, 0, 1, 2, 3, 4, 5, 6, 0, True, 1.5, None, "2")
SEQS = (None, 5, 3, 5, 8, 0, 2**62 + 1, True, "3")

step = st.one_of(
    st.tuples(st.just("vote"), st.sampled_from(TARGETS), st.sampled_from(DOTS),
              st.sampled_from(SEQS)),
    st.tuples(st.just("turn"), st.sampled_from(TURNS)),
)


def outcome(call):
    """What a voter is told: the result's fields, or the refusal's code and words."""
    try:
        result = call()
    except DomainError as error:
        db.session.rollback()
        return ("refused", error.code, str(error.message), error.field)
    return ("done", result.proposal_id, result.dots, result.remaining, result.changed,
            result.applied, result.mark)


def standing(participant_id: int):
    db.session.expire_all()
    participant = db.session.get(Participant, participant_id)
    dots = dict(db.session.execute(select(DotVote.proposal_id, DotVote.dots)
                                   .where(DotVote.participant_id == participant_id)).all())
    return dots, participant.vote_mark


def socket_way(workshop_id: int, participant_id: int, proposal_id, dots, seq):
    result = voting.cast_vote(workshop_id, participant_id, proposal_id, dots, seq)
    if result is None:
        db.session.expire_all()
        result = voting.set_dots(db.session.get(Workshop, workshop_id),
                                 db.session.get(Participant, participant_id),
                                 proposal_id, dots, seq)
    return result


def domain_way(workshop_id: int, participant_id: int, proposal_id, dots, seq):
    db.session.expire_all()
    return voting.set_dots(db.session.get(Workshop, workshop_id),
                           db.session.get(Participant, participant_id), proposal_id, dots, seq)


def board(method: str):
    """A workshop in voting under `method`: two open proposals, a hidden one, one of another
    workshop's, and the twins (the socket's voter and set_dots' voter)."""
    workshop = make_workshop(phase="ideation")
    voting.set_voting_method(workshop, workshop.facilitators[0], method)
    author = join_as(workshop, "Forfatter")
    first, second, hidden = (propose(workshop, author, f"Forslag {i}") for i in range(3))
    hide(workshop, hidden)
    other = make_workshop(phase="ideation")
    foreign = propose(other, join_as(other))
    move_to(workshop, "voting")
    twins = [join_as(workshop, "Socket"), join_as(workshop, "Domæne")]
    ids = {"first": first.id, "second": second.id, "hidden": hidden.id, "foreign": foreign.id,
           "unknown": 10**6, "not an id": "1"}
    return workshop.id, twins[0].id, twins[1].id, ids


def both_vote(workshop_id, socket_id, domain_id, proposal_id, dots, seq):
    told = outcome(lambda: socket_way(workshop_id, socket_id, proposal_id, dots, seq))
    expected = outcome(lambda: domain_way(workshop_id, domain_id, proposal_id, dots, seq))
    assert told == expected, (proposal_id, dots, seq)
    assert standing(socket_id) == standing(domain_id)


@pytest.mark.parametrize("method", voting.METHODS)
def test_every_vote_value_on_every_target_is_answered_alike(app, method):
    workshop_id, socket_id, domain_id, ids = board(method)
    for target in TARGETS:
        for dots in DOTS:
            both_vote(workshop_id, socket_id, domain_id, ids[target], dots, None)
    for seq in SEQS:  # each newer or older than the mark, or not a sequence number
        both_vote(workshop_id, socket_id, domain_id, ids["first"], 1, seq)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from(voting.METHODS), steps=st.lists(step, min_size=1, max_size=12))
def test_any_sequence_of_votes_and_turns_is_answered_alike(app, method, steps):
    workshop_id, socket_id, domain_id, ids = board(method)
    for kind, *args in steps:
        if kind == "vote":
            target, dots, seq = args
            both_vote(workshop_id, socket_id, domain_id, ids[target], dots, seq)
            continue
        db.session.expire_all()
        if args[0] == "remove":
            for participant_id in (socket_id, domain_id):
                participant = db.session.get(Participant, participant_id)
                participant.removed_at = participant.created_at
            db.session.commit()
        elif db.session.get(Workshop, workshop_id).phase != args[0]:
            move_to(db.session.get(Workshop, workshop_id), args[0])


def test_anything_but_the_plain_case_leaves_the_fast_path_with_nothing_changed(app):
    workshop = make_workshop(phase="ideation")
    author = join_as(workshop, "Forfatter")
    open_one, hidden = propose(workshop, author), propose(workshop, author, "Skjult")
    hide(workshop, hidden)
    voter = join_as(workshop, "Vælger")
    workshop_id, voter_id = workshop.id, voter.id

    def unchanged(*args, phase="voting"):
        db.session.expire_all()
        if db.session.get(Workshop, workshop_id).phase != phase:
            move_to(db.session.get(Workshop, workshop_id), phase)
        before = db.session.get(Participant, voter_id)
        seq_before, mark_before = before.vote_seq, before.vote_mark
        assert voting.cast_vote(*args) is None, args
        db.session.expire_all()
        after = db.session.get(Participant, voter_id)
        assert (after.vote_seq, after.vote_mark) == (seq_before, mark_before)
        assert db.session.scalar(select(DotVote.id)) is None

    unchanged(workshop_id, voter_id, open_one.id, 1, 7, phase="ideation")  # not voting yet
    unchanged(workshop_id, voter_id, open_one.id, True, 7)  # not a number of dots
    unchanged(workshop_id, voter_id, open_one.id, -1, 7)
    unchanged(workshop_id, voter_id, "1", 1, 7)  # not an id
    unchanged(workshop_id, voter_id, open_one.id, 1, 0)  # not a sequence number
    unchanged(workshop_id + 1, voter_id, open_one.id, 1, 7)  # another workshop's participant
    unchanged(workshop_id, 10**6, open_one.id, 1, 7)  # nobody
    db.session.get(Participant, voter_id).removed_at = voter.created_at
    db.session.commit()
    unchanged(workshop_id, voter_id, open_one.id, 1, 7)  # removed by the facilitator


def test_the_plain_case_is_four_statements_and_refusals_after_the_read_are_exact(
        app, count_queries):
    workshop = make_workshop(phase="ideation")
    author = join_as(workshop, "Forfatter")
    a, b, hidden = (propose(workshop, author, f"Forslag {i}") for i in range(3))
    hide(workshop, hidden)
    move_to(workshop, "voting")
    voter = join_as(workshop, "Vælger")
    workshop_id, voter_id = workshop.id, voter.id
    a, b, hidden = a.id, b.id, hidden.id  # plain ids: reading an expired object is a query
    with count_queries() as q:
        result = voting.cast_vote(workshop_id, voter_id, a, 3, 1)
    assert (result.dots, result.remaining, result.applied, result.mark) == (3, 2, True, 1)
    assert q.count == 4  # the batch's lock, the read with the rules, the mark, the write
    with count_queries() as q:
        assert voting.cast_vote(workshop_id, voter_id, a, 3, 2).changed is False
    assert q.count == 3  # nothing to write but the mark
    overtaken = voting.cast_vote(workshop_id, voter_id, b, 1, 1)
    assert (overtaken.applied, overtaken.dots, overtaken.mark) == (False, 0, 2)
    for proposal_id, dots, code in ((b, 3, "budget_exceeded"), (b, 4, "budget_exceeded"),
                                    (hidden, 1, "not_found"), (10**6, 1, "not_found")):
        with pytest.raises(DomainError) as refusal:
            voting.cast_vote(workshop_id, voter_id, proposal_id, dots, 9)
        assert refusal.value.code == code
        db.session.rollback()
    assert voting.allocations(db.session.get(Participant, voter_id)) == {a: 3}
    assert db.session.get(Participant, voter_id).vote_mark == 2  # refusals raised nothing


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_the_fast_path_writes_what_set_dots_writes_timestamps_included(app):
    """cast_vote runs its statements as driver SQL, outside the session: the values still go
    through their types (a UTC timestamp stored as the session stores it), on both databases."""
    workshop_id, socket_id, domain_id, ids = board("dots")
    for dots in (2, 3):  # a new vote, then a changed one
        both_vote(workshop_id, socket_id, domain_id, ids["first"], dots, None)
    if db.engine.dialect.name == "sqlite":  # stored as text: the session's format, no zone
        stored = dict(db.session.connection().exec_driver_sql(
            "SELECT participant_id, updated_at FROM dot_vote").all())
        for participant_id in (socket_id, domain_id):
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}",
                                stored[participant_id]), stored
    db.session.expire_all()
    votes = {v.participant_id: v for v in db.session.scalars(select(DotVote))}
    socket_at, domain_at = votes[socket_id].updated_at, votes[domain_id].updated_at
    assert socket_at.utcoffset() is not None and abs(socket_at - domain_at).total_seconds() < 5
