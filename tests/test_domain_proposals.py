"""Proposals, comments and facilitator moderation in the domain."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.factories import (
    count,
    hide,
    join_as,
    make_user,
    make_workshop,
    merge,
    move_to,
    propose,
    refresh,
    refused,
    vote,
)
from workshop.domain import moderation, proposals, voting
from workshop.extensions import db
from workshop.models import (
    Comment,
    DotVote,
    ModerationAction,
    Proposal,
    ProposalAuthor,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")




def log(action: str | None = None) -> list[ModerationAction]:
    query = select(ModerationAction).order_by(ModerationAction.id)
    if action:
        query = query.where(ModerationAction.action == action)
    return list(db.session.scalars(query))


@pytest.fixture
def workshop(app):
    return make_workshop(phase="ideation")


# --- Submitting ---------------------------------------------------------------------------------


def test_a_proposal_is_visible_at_once_under_post_moderation(workshop):
    anna = join_as(workshop, "Anna")
    proposal = propose(workshop, anna, "Fast kontaktperson", "En indgang")
    assert (proposal.status, proposal.author_id, proposal.title) == (
        "visible", anna.id, "Fast kontaktperson")
    assert [a.participant_id for a in proposal.authors] == [anna.id]
    bo = join_as(workshop, "Bo")
    assert [p.id for p in proposals.proposals_for_participant(workshop, bo)] == [proposal.id]


LIMIT_CASES = [
    ("x" * 120, "y" * 2000, True),
    ("x" * 121, "", False),
    ("Titel", "y" * 2001, False),
    ("", "", False),
    ("   ", "", False),
    (5, "", False),
    ("Titel", ["body"], False),
    ("Ti\x00tel", "", False),
]


def test_title_and_body_limits(workshop):
    anna = join_as(workshop)
    for title, body, ok in LIMIT_CASES:
        before = count(Proposal)
        if ok:
            assert propose(workshop, anna, title, body).id
            assert count(Proposal) == before + 1
        else:
            refused("invalid", propose, workshop, anna, title, body)
            assert count(Proposal) == before


@pytest.mark.parametrize("element_id", ["1", None, True, 10**6])
def test_a_proposal_needs_an_element_of_this_workshop(workshop, element_id):
    anna = join_as(workshop)
    refused("invalid", proposals.submit_proposal, workshop, anna, "T", "", element_id)
    other = make_workshop()
    refused("invalid", proposals.submit_proposal, workshop, anna, "T", "", other.elements[0].id)
    assert count(Proposal) == 0


def test_a_resent_client_id_returns_the_first_proposal(workshop):
    anna = join_as(workshop)
    first, created = proposals.submit_proposal(workshop, anna, "T", "", workshop.elements[0].id,
                                               "abc")
    again, created_again = proposals.submit_proposal(workshop, anna, "T", "",
                                                     workshop.elements[0].id, "abc")
    assert (created, created_again, again.id) == (True, False, first.id)
    assert count(Proposal) == 1
    # The same client id from another participant is another proposal.
    bo = join_as(workshop)
    other, created = proposals.submit_proposal(workshop, bo, "T", "", workshop.elements[0].id,
                                               "abc")
    assert created and other.id != first.id


@pytest.mark.parametrize("client_id", ["", "x" * 65, 5, ["a"]])
def test_a_bad_client_id_is_invalid(workshop, client_id):
    refused("invalid", proposals.submit_proposal, workshop, join_as(workshop), "T", "",
            workshop.elements[0].id, client_id)


def test_someone_who_has_not_joined_cannot_propose(workshop):
    refused("unauthenticated", proposals.submit_proposal, workshop, None, "T", "",
            workshop.elements[0].id)
    elsewhere = join_as(make_workshop(phase="ideation"))
    refused("forbidden", proposals.submit_proposal, workshop, elsewhere, "T", "",
            workshop.elements[0].id)
    assert count(Proposal) == 0


def test_a_removed_participant_cannot_propose(workshop):
    anna = join_as(workshop)
    anna.removed_at = anna.created_at
    db.session.commit()
    refused("forbidden", propose, workshop, anna)


def test_max_proposals_per_participant(app):
    workshop = make_workshop(phase="ideation", max_proposals_per_participant=2)
    anna = join_as(workshop)
    first = propose(workshop, anna, "1")
    propose(workshop, anna, "2")
    refused("conflict", propose, workshop, anna, "3")
    assert count(Proposal) == 2
    # Withdrawing one makes room; the limit is per participant.
    proposals.withdraw_proposal(workshop, anna, first.id)
    third = propose(workshop, anna, "3")
    propose(workshop, join_as(workshop), "Bo's")
    # A duplicate merged into someone else's proposal makes room too; a hidden one does not.
    refused("conflict", propose, workshop, anna, "4")
    merge(workshop, third, propose(workshop, join_as(workshop), "Cecilies"))
    fourth = propose(workshop, anna, "4")
    hide(workshop, fourth)
    refused("conflict", propose, workshop, anna, "5")


def test_pre_moderation_keeps_a_proposal_pending_until_approved(app):
    workshop = make_workshop(phase="ideation", moderation="pre")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    proposal = propose(workshop, anna)
    assert proposal.status == "pending"
    assert [p.id for p in proposals.proposals_for_participant(workshop, anna)] == [proposal.id]
    assert proposals.proposals_for_participant(workshop, bo) == []
    refused("not_found", proposals.add_comment, workshop, proposal.id, "Hm", participant=bo)
    moderation.moderate(workshop, workshop.facilitators[0], proposal.id, "approve")
    assert refresh(proposal).status == "visible"
    assert [p.id for p in proposals.proposals_for_participant(workshop, bo)] == [proposal.id]
    # Approving again (a retried command) changes nothing and is not logged twice.
    moderation.moderate(workshop, workshop.facilitators[0], proposal.id, "approve")
    [entry] = log("approve")
    assert (entry.proposal_id, entry.user_id) == (proposal.id, workshop.facilitators[0].id)


# --- Editing and withdrawing one's own ----------------------------------------------------------


def test_an_author_edits_and_withdraws_their_own_until_voting(workshop):
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    proposal = propose(workshop, anna, "Tastefejl")
    proposals.edit_own_proposal(workshop, anna, proposal.id, title="Rettet", body="Mere",
                                element_id=workshop.elements[1].id)
    assert (refresh(proposal).title, proposal.body, proposal.element_id) == (
        "Rettet", "Mere", workshop.elements[1].id)
    refused("forbidden", proposals.edit_own_proposal, workshop, bo, proposal.id, title="Mit")
    refused("forbidden", proposals.withdraw_proposal, workshop, bo, proposal.id)
    refused("invalid", proposals.edit_own_proposal, workshop, anna, proposal.id, title="x" * 121)
    assert refresh(proposal).title == "Rettet"
    proposals.withdraw_proposal(workshop, anna, proposal.id)
    assert refresh(proposal).status == "withdrawn"
    assert proposals.proposals_for_participant(workshop, bo) == []
    assert proposals.proposals_for_participant(workshop, anna) == []
    refused("conflict", proposals.withdraw_proposal, workshop, anna, proposal.id)


@pytest.mark.parametrize("phase", ["voting", "results", "closed"])
def test_no_editing_or_withdrawing_from_voting_on(workshop, phase):
    anna = join_as(workshop)
    proposal = propose(workshop, anna, "Titel")
    move_to(workshop, phase)
    wrong = "closed" if phase == "closed" else "wrong_phase"
    refused(wrong, proposals.edit_own_proposal, workshop, anna, proposal.id, title="Ny")
    refused(wrong, proposals.withdraw_proposal, workshop, anna, proposal.id)
    assert (refresh(proposal).title, proposal.status) == ("Titel", "visible")


def test_review_still_allows_editing_ones_own(workshop):
    anna = join_as(workshop)
    proposal = propose(workshop, anna, "Titel")
    move_to(workshop, "review")
    proposals.edit_own_proposal(workshop, anna, proposal.id, title="Ny")
    assert refresh(proposal).title == "Ny"


# --- Comments -----------------------------------------------------------------------------------


def test_comment_limits_and_idempotency(workshop):
    anna = join_as(workshop)
    proposal = propose(workshop, anna)
    comment, created = proposals.add_comment(workshop, proposal.id, "x" * 1000, participant=anna,
                                             client_id="k1")
    assert created
    again, created = proposals.add_comment(workshop, proposal.id, "x" * 1000, participant=anna,
                                           client_id="k1")
    assert (created, again.id) == (False, comment.id)
    for body in ("x" * 1001, "", "  ", 7, None):
        refused("invalid", proposals.add_comment, workshop, proposal.id, body, participant=anna)
    assert count(Comment) == 1


def test_comments_need_a_participant_or_this_workshops_facilitator(workshop):
    proposal = propose(workshop, join_as(workshop))
    refused("unauthenticated", proposals.add_comment, workshop, proposal.id, "Hej")
    refused("forbidden", proposals.add_comment, workshop, proposal.id, "Hej",
            user=make_user("facilitator"))
    refused("forbidden", proposals.add_comment, workshop, proposal.id, "Hej",
            user=make_user("reviewer"))
    comment, _ = proposals.add_comment(workshop, proposal.id, "Fra facilitator",
                                       user=workshop.facilitators[0])
    assert (comment.user_id, comment.participant_id) == (workshop.facilitators[0].id, None)
    assert count(Comment) == 1


def test_hidden_proposals_take_no_comments(workshop):
    anna, bo = join_as(workshop), join_as(workshop)
    proposal = propose(workshop, anna)
    hide(workshop, proposal)
    refused("not_found", proposals.add_comment, workshop, proposal.id, "Hm", participant=bo)
    # Not even by its author: a hidden proposal's discussion is closed.
    refused("not_found", proposals.add_comment, workshop, proposal.id, "Hm", participant=anna)
    assert count(Comment) == 0


# --- Moderation ---------------------------------------------------------------------------------


def test_hiding_needs_a_reason_and_is_recorded(workshop):
    proposal = propose(workshop, join_as(workshop))
    user = workshop.facilitators[0]
    for reason in (None, "", "   "):
        refused("invalid", moderation.moderate, workshop, user, proposal.id, "hide", reason=reason)
    refused("invalid", moderation.moderate, workshop, user, proposal.id, "hide",
            reason="x" * 501)
    assert refresh(proposal).status == "visible"
    assert log("hide") == []
    moderation.moderate(workshop, user, proposal.id, "hide", reason="Personfølsomt")
    assert (refresh(proposal).status, proposal.status_reason) == ("hidden", "Personfølsomt")
    [entry] = log("hide")
    assert (entry.user_id, entry.proposal_id, entry.reason) == (user.id, proposal.id,
                                                                "Personfølsomt")
    assert entry.created_at is not None and entry.created_at.tzinfo is not None
    moderation.moderate(workshop, user, proposal.id, "hide", reason="Igen")  # a retry: no-op
    assert len(log("hide")) == 1 and refresh(proposal).status_reason == "Personfølsomt"


def test_unhide_brings_a_proposal_back_and_is_recorded(workshop):
    proposal = propose(workshop, join_as(workshop))
    user = workshop.facilitators[0]
    moderation.moderate(workshop, user, proposal.id, "unhide")  # already visible: a no-op
    assert log("unhide") == []
    hide(workshop, proposal)
    moderation.moderate(workshop, user, proposal.id, "unhide", reason="Fejl")
    assert (refresh(proposal).status, proposal.status_reason) == ("visible", "")
    [entry] = log("unhide")
    assert (entry.reason, entry.user_id) == ("Fejl", user.id)


def test_a_facilitators_edit_is_recorded_before_and_after(workshop):
    proposal = propose(workshop, join_as(workshop), "Tastefjel", "Krop")
    user = workshop.facilitators[0]
    refused("invalid", moderation.moderate, workshop, user, proposal.id, "edit")
    moderation.moderate(workshop, user, proposal.id, "edit", title="Tastefejl",
                        reason="Stavefejl")
    assert (refresh(proposal).title, proposal.edited_by_staff) == ("Tastefejl", True)
    [entry] = log("edit")
    detail = json.loads(entry.detail)
    assert detail["before"]["title"] == "Tastefjel"
    assert detail["after"]["title"] == "Tastefejl"
    assert detail["before"]["body"] == detail["after"]["body"] == "Krop"
    assert (entry.reason, entry.user_id, entry.proposal_id) == ("Stavefejl", user.id, proposal.id)


def test_unknown_actions_are_invalid(workshop):
    proposal = propose(workshop, join_as(workshop))
    for action in ("delete", None, ["hide"], 3):
        refused("invalid", moderation.moderate, workshop, workshop.facilitators[0], proposal.id,
                action, reason="x")
    assert log("hide") == []


@pytest.mark.parametrize("action", ["approve", "hide", "unhide", "merge", "edit"])
def test_only_this_workshops_facilitators_moderate(workshop, action):
    anna = join_as(workshop)
    proposal, target = propose(workshop, anna, "A"), propose(workshop, anna, "B")
    before = (count(ModerationAction), count(ProposalAuthor))
    kwargs = {"reason": "Grund", "into": target.id, "title": "Ny"}
    refused("forbidden", moderation.moderate, workshop, make_user("facilitator"), proposal.id,
            action, **kwargs)
    refused("forbidden", moderation.moderate, workshop, make_user("reviewer"), proposal.id,
            action, **kwargs)
    refused("unauthenticated", moderation.moderate, workshop, None, proposal.id, action,
            **kwargs)
    assert (refresh(proposal).status, proposal.title) == ("visible", "A")
    assert (count(ModerationAction), count(ProposalAuthor)) == before


def test_no_moderation_once_closed(workshop):
    proposal = propose(workshop, join_as(workshop))
    move_to(workshop, "closed")
    refused("closed", moderation.moderate, workshop, workshop.facilitators[0], proposal.id,
            "hide", reason="x")


def test_a_proposal_of_another_workshop_is_not_found(workshop):
    other = make_workshop(phase="ideation")
    foreign = propose(other, join_as(other))
    refused("not_found", moderation.moderate, workshop, workshop.facilitators[0], foreign.id,
            "hide", reason="x")


def test_merge_moves_authors_votes_and_comments_and_the_target_lists_it(workshop):
    anna, bo, cille, dan = (join_as(workshop, n) for n in ("Anna", "Bo", "Cille", "Dan"))
    target = propose(workshop, anna, "Fast kontaktperson")
    duplicate = propose(workshop, bo, "En fast kontakt")
    proposals.add_comment(workshop, duplicate.id, "Enig", participant=cille)
    move_to(workshop, "voting")
    vote(workshop, cille, duplicate, 2)
    vote(workshop, cille, target, 2)  # cap 3: 2 + 2 -> 3, one dot goes back to Cille
    vote(workshop, dan, duplicate, 3)
    vote(workshop, anna, target, 1)
    user = workshop.facilitators[0]
    result = merge(workshop, duplicate, target, reason="Samme idé")
    assert result.id == target.id
    assert (refresh(duplicate).status, duplicate.merged_into_id) == ("merged", target.id)
    authors = {a.participant_id: a.via_proposal_id for a in refresh(target).authors}
    assert authors == {anna.id: None, bo.id: duplicate.id}
    assert voting.allocations(cille) == {target.id: 3}
    assert voting.allocations(dan) == {target.id: 3}
    assert voting.allocations(anna) == {target.id: 1}
    assert voting.remaining(workshop, cille) == 2
    assert db.session.scalar(select(func.count()).select_from(DotVote)
                             .where(DotVote.proposal_id == duplicate.id)) == 0
    assert [c.body for c in proposals.comments_by_proposal(workshop)[target.id]] == ["Enig"]
    assert [p.id for p in proposals.merged_into_map(workshop)[target.id]] == [duplicate.id]
    assert bo.id in {a.participant_id for a in target.authors}
    assert target.id in proposals.authored_ids(bo)
    [entry] = log("merge")
    detail = json.loads(entry.detail)
    assert (entry.user_id, entry.proposal_id, entry.reason) == (user.id, duplicate.id,
                                                                "Samme idé")
    assert detail == {"into": target.id, "moved_authors": [bo.id], "moved_dots": 1 + 3,
                      "released_dots": 1}
    # The merged duplicate is gone for everyone, its author included.
    assert duplicate.id not in {p.id for p in proposals.proposals_for_participant(workshop, bo)}


@pytest.mark.parametrize("into", [None, "x", True])
def test_merge_needs_a_target(workshop, into):
    proposal = propose(workshop, join_as(workshop))
    refused("invalid", moderation.moderate, workshop, workshop.facilitators[0], proposal.id,
            "merge", into=into)
    assert refresh(proposal).status == "visible"


def test_merge_refuses_itself_gone_and_hidden_targets(workshop):
    anna = join_as(workshop)
    a, b, c = propose(workshop, anna, "A"), propose(workshop, anna, "B"), propose(workshop, anna)
    user = workshop.facilitators[0]
    refused("invalid", moderation.moderate, workshop, user, a.id, "merge", into=a.id)
    hide(workshop, c)
    refused("conflict", moderation.moderate, workshop, user, a.id, "merge", into=c.id)
    merge(workshop, a, b)
    moderation.moderate(workshop, user, a.id, "merge", into=b.id)  # a retry: no-op
    refused("conflict", moderation.moderate, workshop, user, a.id, "merge", into=c.id)
    refused("conflict", moderation.moderate, workshop, user, b.id, "merge", into=a.id)
    assert len(log("merge")) == 1


def test_hiding_during_voting_gives_the_dots_back(workshop):
    anna = join_as(workshop)
    proposal = propose(workshop, anna)
    move_to(workshop, "voting")
    vote(workshop, anna, proposal, 3)
    hide(workshop, proposal)
    assert voting.allocations(anna) == {}
    assert voting.remaining(workshop, anna) == 5
    assert json.loads(log("hide")[0].detail) == {"released_dots": 3}
