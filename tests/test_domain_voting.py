"""Dot voting in the domain: the cap per proposal, the budget, moving dots, idempotency."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.factories import hide, join_as, make_workshop, move_to, propose, vote
from workshop.domain import moderation, voting
from workshop.domain.errors import DomainError
from workshop.extensions import db
from workshop.models import DotVote

pytestmark = pytest.mark.usefixtures("fast_passwords")


def rows() -> list[tuple[int, int, int]]:
    return list(db.session.execute(
        select(DotVote.participant_id, DotVote.proposal_id, DotVote.dots).order_by(DotVote.id)))


def refused(code: str, call, *args, **kwargs) -> DomainError:
    before = rows()
    with pytest.raises(DomainError) as info:
        call(*args, **kwargs)
    assert info.value.code == code, info.value
    db.session.rollback()
    assert rows() == before
    return info.value


@pytest.fixture
def board(app):
    """A workshop in voting (budget 5, cap 3) with four visible proposals and a voter."""
    workshop = make_workshop(phase="ideation")
    author = join_as(workshop, "Forfatter")
    made = [propose(workshop, author, f"Forslag {i}") for i in range(4)]
    move_to(workshop, "voting")
    return workshop, join_as(workshop, "Vælger"), made


def test_dots_are_placed_and_the_rest_is_reported(board):
    workshop, voter, (a, b, *_rest) = board
    result = vote(workshop, voter, a, 3)
    assert (result.proposal_id, result.dots, result.remaining, result.changed) == (a.id, 3, 2,
                                                                                  True)
    assert vote(workshop, voter, b, 2).remaining == 0
    assert voting.allocations(voter) == {a.id: 3, b.id: 2}
    assert voting.remaining(workshop, voter) == 0


def test_at_most_the_cap_on_one_proposal(board):
    workshop, voter, (a, *_rest) = board
    error = refused("budget_exceeded", vote, workshop, voter, a, 4)
    assert "3" in error.message


def test_never_more_than_the_budget(board):
    workshop, voter, (a, b, c, _d) = board
    vote(workshop, voter, a, 3)
    vote(workshop, voter, b, 1)
    refused("budget_exceeded", vote, workshop, voter, c, 2)
    refused("budget_exceeded", vote, workshop, voter, b, 3)
    assert voting.remaining(workshop, voter) == 1


def test_dots_can_be_moved_and_zero_removes(board):
    workshop, voter, (a, b, *_rest) = board
    vote(workshop, voter, a, 3)
    vote(workshop, voter, b, 2)
    assert vote(workshop, voter, a, 1).remaining == 2
    assert vote(workshop, voter, b, 3).remaining == 1
    assert voting.allocations(voter) == {a.id: 1, b.id: 3}
    result = vote(workshop, voter, a, 0)
    assert (result.dots, result.remaining, result.changed) == (0, 2, True)
    assert [r[1:] for r in rows()] == [(b.id, 3)]
    # Removing what is not there changes nothing.
    assert vote(workshop, voter, a, 0).changed is False


def test_resending_the_same_vote_changes_nothing(board):
    workshop, voter, (a, *_rest) = board
    first = vote(workshop, voter, a, 2)
    before = rows()
    again = vote(workshop, voter, a, 2)
    assert (again.remaining, again.changed) == (first.remaining, False)
    assert rows() == before


def test_dots_must_be_a_whole_non_negative_number(board):
    workshop, voter, (a, *_rest) = board
    for dots in (-1, "2", 1.5, 2.0, True, None, [1]):
        refused("invalid", voting.set_dots, workshop, voter, a.id, dots)


def test_only_voting_participants_of_this_workshop_vote(board):
    workshop, voter, (a, *_rest) = board
    refused("unauthenticated", voting.set_dots, workshop, None, a.id, 1)
    other = make_workshop(phase="voting")
    refused("forbidden", voting.set_dots, workshop, join_as(other), a.id, 1)
    voter.removed_at = voter.created_at
    db.session.commit()
    refused("forbidden", voting.set_dots, workshop, voter, a.id, 1)


def test_only_visible_proposals_of_this_workshop_take_dots(board):
    workshop, voter, (a, b, *_rest) = board
    hide(workshop, a)
    refused("not_found", voting.set_dots, workshop, voter, a.id, 1)
    refused("not_found", voting.set_dots, workshop, voter, 10**6, 1)
    other = make_workshop(phase="ideation")
    foreign = propose(other, join_as(other))
    refused("not_found", voting.set_dots, workshop, voter, foreign.id, 1)
    moderation.moderate(workshop, workshop.facilitators[0], a.id, "unhide")
    assert vote(workshop, voter, a, 1).remaining == 4


def test_pending_proposals_take_no_dots(app):
    workshop = make_workshop(phase="ideation", moderation="pre")
    pending = propose(workshop, join_as(workshop))
    move_to(workshop, "voting")
    refused("not_found", vote, workshop, join_as(workshop), pending, 1)


def test_votes_stay_when_voting_closes_but_cannot_change(board):
    workshop, voter, (a, *_rest) = board
    vote(workshop, voter, a, 2)
    move_to(workshop, "results")
    refused("wrong_phase", vote, workshop, voter, a, 1)
    assert voting.allocations(voter) == {a.id: 2}


def test_every_participant_has_their_own_budget(board):
    workshop, voter, (a, b, c, d) = board
    other = join_as(workshop, "Anden")
    for person in (voter, other):
        vote(workshop, person, a, 3)
        vote(workshop, person, b, 2)
    assert db.session.scalar(select(func.sum(DotVote.dots))) == 10
    refused("budget_exceeded", vote, workshop, other, c, 1)


def test_a_bigger_budget_is_respected(app):
    workshop = make_workshop(phase="ideation", dots_per_participant=10, max_dots_per_proposal=10)
    author = join_as(workshop)
    a, b = propose(workshop, author, "A"), propose(workshop, author, "B")
    move_to(workshop, "voting")
    voter = join_as(workshop)
    assert vote(workshop, voter, a, 10).remaining == 0
    refused("budget_exceeded", vote, workshop, voter, b, 1)
