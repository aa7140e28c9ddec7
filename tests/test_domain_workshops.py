"""Workshops in the domain: templates, settings, join codes, phases and what each phase allows,
model elements, and joining by link."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from sqlalchemy import select

from tests.factories import (
    count,
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
from workshop.domain import proposals, results, voting, workshops
from workshop.domain.participants import join, participant_for_token
from workshop.extensions import db
from workshop.models import (
    PHASE_ORDER,
    ModelElement,
    ModerationAction,
    Participant,
    Phase,
    Proposal,
    Workshop,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")




# --- Creating workshops -------------------------------------------------------------------------


def test_default_template_holds_the_models_elements_with_description_and_seed(app):
    workshop = workshops.create_workshop(make_user(), "Workshop", None, None, None)
    assert workshop.template == "generic-model"
    assert workshop.phase == "lobby"
    assert len(workshop.elements) >= 8
    for position, element in enumerate(workshop.elements):
        assert element.position == position
        assert element.title and element.description and "seed" in element.source


def test_blank_template_has_no_elements(app):
    workshop = workshops.create_workshop(make_user(), "Tom", None, "blank", None)
    assert workshop.elements == []


def test_unknown_template_is_invalid_and_creates_nothing(app):
    user = make_user()
    refused("invalid", workshops.create_workshop, user, "W", None, "other", None)
    assert count(Workshop) == 0


@pytest.mark.parametrize("role", ["reviewer"])
def test_only_facilitators_and_admins_create_workshops(app, role):
    refused("forbidden", workshops.create_workshop, make_user(role), "W", None, None, None)
    assert workshops.create_workshop(make_user("admin"), "W", None, None, None).id
    assert count(Workshop) == 1


def test_the_creator_is_facilitator_and_creation_is_recorded(app):
    user = make_user()
    workshop = workshops.create_workshop(user, "W", None, "blank", None)
    assert workshop.facilitators == [user]
    entry = db.session.scalar(select(ModerationAction))
    assert (entry.action, entry.user_id, entry.workshop_id) == ("create", user.id, workshop.id)


def test_join_codes_are_long_enough_and_avoid_look_alikes(app):
    user = make_user()
    codes = {workshops.create_workshop(user, "W", None, "blank", None).code for _ in range(20)}
    assert len(codes) == 20
    for code in codes:
        assert len(code) >= 6
        assert not set(code) & set("0O1IL")
        assert set(code) <= set(workshops.CODE_ALPHABET)


def test_a_code_is_found_whatever_the_case_spaces_and_dashes(app):
    workshop = make_workshop()
    code = workshop.code
    messy = f" {code[:3].lower()}-{code[3:]} "
    assert workshops.get_workshop(messy).id == workshop.id
    refused("not_found", workshops.get_workshop, "ZZZZZZZZ")


# --- Settings -----------------------------------------------------------------------------------


def test_default_settings(app):
    assert workshops.Settings.of(make_workshop()).as_dict() == {
        "dots_per_participant": 5, "max_dots_per_proposal": 3, "moderation": "post",
        "max_proposals_per_participant": None, "show_names": True}


BAD_SETTINGS = [
    {"dots_per_participant": 0},
    {"dots_per_participant": 101},
    {"dots_per_participant": "5"},
    {"dots_per_participant": True},
    {"dots_per_participant": 2.0},
    {"max_dots_per_proposal": 0},
    {"max_dots_per_proposal": 6},  # more than the default budget of 5
    {"dots_per_participant": 2, "max_dots_per_proposal": 3},
    {"moderation": "later"},
    {"moderation": ["pre"]},
    {"max_proposals_per_participant": 0},
    {"max_proposals_per_participant": "3"},
    {"show_names": "yes"},
    {"colour": "red"},
]


def test_bad_settings_are_invalid(app):
    user = make_user()
    for settings in BAD_SETTINGS:
        refused("invalid", workshops.create_workshop, user, "W", None, "blank", settings)
    assert count(Workshop) == 0


def test_good_settings_are_kept(app):
    settings = {"dots_per_participant": 10, "max_dots_per_proposal": 10, "moderation": "pre",
                "max_proposals_per_participant": 2, "show_names": False}
    workshop = make_workshop(**settings)
    assert workshops.Settings.of(workshop).as_dict() == settings


def test_dot_settings_are_fixed_once_voting_starts(app):
    workshop = make_workshop()
    user = workshop.facilitators[0]
    workshops.update_workshop(workshop, user, {"dots_per_participant": 8, "title": "Ny titel"})
    assert (workshop.dots_per_participant, workshop.title) == (8, "Ny titel")
    move_to(workshop, "voting")
    refused("wrong_phase", workshops.update_workshop, workshop, user, {"dots_per_participant": 9})
    assert refresh(workshop).dots_per_participant == 8
    workshops.update_workshop(workshop, user, {"show_names": False})
    assert workshop.show_names is False


# --- Phases -------------------------------------------------------------------------------------


def test_a_facilitator_may_move_forward_to_any_later_phase(app):
    user = make_user()
    for target in [p.value for p in PHASE_ORDER[1:]]:
        workshop = make_workshop(user)
        workshops.set_phase(workshop, user, target)
        assert refresh(workshop).phase == target


def test_back_only_one_step(app):
    workshop = make_workshop(phase="voting")
    user = workshop.facilitators[0]
    refused("wrong_phase", workshops.set_phase, workshop, user, "ideation")
    refused("wrong_phase", workshops.set_phase, workshop, user, "lobby")
    assert refresh(workshop).phase == "voting"
    workshops.set_phase(workshop, user, "review")
    assert refresh(workshop).phase == "review"


def test_never_out_of_closed(app):
    workshop = make_workshop(phase="closed")
    assert workshop.closed_at is not None
    user = workshop.facilitators[0]
    for phase in ("results", "lobby", "voting"):
        refused("closed", workshops.set_phase, workshop, user, phase)
    assert refresh(workshop).phase == "closed"


def test_moving_to_the_current_phase_changes_nothing(app):
    workshop = make_workshop(phase="ideation")
    before = count(ModerationAction)
    workshops.set_phase(workshop, workshop.facilitators[0], "ideation")
    assert count(ModerationAction) == before


def test_an_unknown_phase_is_invalid(app):
    workshop = make_workshop()
    for phase in ("finished", "", None, 3, ["voting"], "VOTING"):
        refused("invalid", workshops.set_phase, workshop, workshop.facilitators[0], phase)
    assert refresh(workshop).phase == "lobby"


def test_only_this_workshops_facilitators_move_phases(app):
    workshop = make_workshop()
    refused("forbidden", workshops.set_phase, workshop, make_user("facilitator"), "ideation")
    refused("forbidden", workshops.set_phase, workshop, make_user("reviewer"), "ideation")
    refused("unauthenticated", workshops.set_phase, workshop, None, "ideation")
    assert refresh(workshop).phase == "lobby"
    workshops.set_phase(workshop, make_user("admin"), "ideation")
    assert refresh(workshop).phase == "ideation"


def test_each_phase_move_is_recorded(app):
    make_workshop(phase="review")
    moves = [json.loads(a.detail) for a in db.session.scalars(
        select(ModerationAction).where(ModerationAction.action == "phase")
        .order_by(ModerationAction.id))]
    assert moves == [{"from": "lobby", "to": "ideation"}, {"from": "ideation", "to": "review"}]


PHASES = [p.value for p in PHASE_ORDER]


@pytest.fixture
def stage(app):
    """A workshop with a visible proposal made in ideation, and a second participant."""
    workshop = make_workshop(phase="ideation")
    author = join_as(workshop, "Anna")
    proposal = propose(workshop, author, "Fast kontaktperson")
    other = join_as(workshop, "Bo")
    return workshop, author, proposal, other


def _at(workshop, phase):
    """Put the workshop in a phase directly (tests of what a phase allows, not of moving)."""
    workshop.phase = phase
    db.session.commit()


@pytest.mark.parametrize("phase", PHASES)
def test_what_each_phase_allows(stage, phase):
    """Proposals only in ideation, comments in ideation and review, votes only in voting,
    results for participants from results on, joining until closed."""
    workshop, author, proposal, other = stage
    _at(workshop, phase)
    # Outside its phases an action is refused as wrong_phase; once closed, as closed.
    wrong = "closed" if phase == "closed" else "wrong_phase"

    before = count(Proposal)
    if phase == "ideation":
        propose(workshop, author, "Endnu et")
        assert count(Proposal) == before + 1
    else:
        refused(wrong, propose, workshop, author, "Endnu et")
        assert count(Proposal) == before

    if phase in ("ideation", "review"):
        comment, created = proposals.add_comment(workshop, proposal.id, "Godt", participant=other)
        assert created and comment.id
    else:
        refused(wrong, proposals.add_comment, workshop, proposal.id, "Godt",
                participant=other)

    if phase == "voting":
        assert vote(workshop, other, proposal, 2).remaining == 3
    else:
        refused(wrong, vote, workshop, other, proposal, 2)
        assert voting.allocations(other) == {}

    if PHASE_ORDER.index(Phase(phase)) >= Phase.RESULTS.index:
        results.require_results_visible(workshop, None, other)
    else:
        refused("wrong_phase", results.require_results_visible, workshop, None, other)
    # Reviewers see them at any time; a stranger never.
    results.require_results_visible(workshop, make_user("reviewer"), None)
    refused("unauthenticated", results.require_results_visible, workshop, None, None)

    before = count(Participant)
    if phase == "closed":
        refused("closed", join, workshop, "Cecilie", None, None, True)
        assert count(Participant) == before
    else:
        join(workshop, "Cecilie", None, None, True)
        assert count(Participant) == before + 1


def test_a_locked_workshop_takes_no_new_participants(app):
    workshop = make_workshop(phase="ideation")
    workshop.join_locked = True
    db.session.commit()
    refused("closed", join, workshop, "Cecilie", None, None, True)
    assert count(Participant) == 0


# --- Model elements -----------------------------------------------------------------------------


def test_elements_are_added_edited_reordered_and_removed_before_voting(app):
    workshop = make_workshop(template="blank", phase="ideation")
    user = workshop.facilitators[0]
    a = workshops.add_element(workshop, user, "A", "Første")
    b = workshops.add_element(workshop, user, "B")
    c = workshops.add_element(workshop, user, "C")
    assert [e.title for e in refresh(workshop).elements] == ["A", "B", "C"]
    workshops.edit_element(workshop, user, b.id, title="B2", description="Anden")
    workshops.move_element(workshop, user, c.id, -1)
    assert [(e.title, e.position) for e in refresh(workshop).elements] == [
        ("A", 0), ("C", 1), ("B2", 2)]
    workshops.move_element(workshop, user, a.id, -1)  # already first: nothing moves
    workshops.remove_element(workshop, user, c.id)
    assert [(e.title, e.position) for e in refresh(workshop).elements] == [("A", 0), ("B2", 1)]
    edit = db.session.scalar(select(ModerationAction).where(
        ModerationAction.action == "edit_element"))
    assert json.loads(edit.detail)["before"]["title"] == "B"
    assert json.loads(edit.detail)["after"] == {"title": "B2", "description": "Anden"}


@pytest.mark.parametrize("phase", ["voting", "results", "closed"])
def test_elements_are_fixed_from_voting_on(app, phase):
    workshop = make_workshop(phase="ideation")
    user = workshop.facilitators[0]
    first, second = workshop.elements[0].id, workshop.elements[1].id
    move_to(workshop, phase)
    refused("wrong_phase", workshops.add_element, workshop, user, "Nyt")
    refused("wrong_phase", workshops.edit_element, workshop, user, first, title="Nyt")
    refused("wrong_phase", workshops.move_element, workshop, user, second, -1)
    refused("wrong_phase", workshops.remove_element, workshop, user, first)
    assert [e.id for e in refresh(workshop).elements][:2] == [first, second]
    assert db.session.get(ModelElement, first).title != "Nyt"


def test_an_element_with_proposals_is_not_removed(app):
    workshop = make_workshop(phase="ideation")
    propose(workshop, join_as(workshop), element_index=0)
    element_id = workshop.elements[0].id
    refused("conflict", workshops.remove_element, workshop, workshop.facilitators[0], element_id)
    assert db.session.get(ModelElement, element_id) is not None


def test_withdrawn_and_merged_proposals_do_not_keep_an_element(app):
    workshop = make_workshop(phase="ideation")
    user = workshop.facilitators[0]
    anna = join_as(workshop)
    withdrawn = propose(workshop, anna, "Trukket", element_index=0)
    duplicate = propose(workshop, anna, "Dublet", element_index=0)
    target = propose(workshop, anna, "Mål", element_index=1)
    proposals.withdraw_proposal(workshop, anna, withdrawn.id)
    merge(workshop, duplicate, target)
    element_id = workshop.elements[0].id
    workshops.remove_element(workshop, user, element_id)
    assert db.session.get(ModelElement, element_id) is None
    assert db.session.get(Proposal, withdrawn.id) is None
    # The merged duplicate stays with its target, shown under it.
    assert refresh(duplicate).element_id == target.element_id


def test_saving_unchanged_settings_changes_and_logs_nothing(app):
    workshop = make_workshop()
    user = workshop.facilitators[0]
    version = refresh(workshop).version
    before = count(ModerationAction)
    workshops.update_workshop(workshop, user, {"title": workshop.title, "moderation": "post"})
    assert count(ModerationAction) == before and refresh(workshop).version == version
    workshops.update_workshop(workshop, user, {"moderation": "pre"})
    assert count(ModerationAction) == before + 1


def test_an_element_moves_one_step_only(app):
    workshop = make_workshop()
    user = workshop.facilitators[0]
    first = workshop.elements[1].id
    for offset in (2, 0, "1", True, 1.0, None, [1]):
        refused("invalid", workshops.move_element, workshop, user, first, offset)
    assert refresh(workshop).elements[1].id == first


def test_elements_of_another_workshop_are_not_found_here(app):
    workshop, other = make_workshop(), make_workshop()
    refused("invalid", workshops.edit_element, workshop, workshop.facilitators[0],
            other.elements[0].id, title="X")
    assert other.elements[0].title != "X"


def test_an_element_title_is_required_and_limited(app):
    workshop = make_workshop(template="blank")
    user = workshop.facilitators[0]
    refused("invalid", workshops.add_element, workshop, user, "  ")
    refused("invalid", workshops.add_element, workshop, user, "x" * 121)
    assert workshops.add_element(workshop, user, "x" * 120).id


# --- Joining ------------------------------------------------------------------------------------


def test_joining_needs_consent(app):
    workshop = make_workshop()
    for consent in (False, None, "yes", 1, "true"):
        refused("invalid", join, workshop, "Anna", None, None, consent)
    assert count(Participant) == 0


def test_organisation_type_is_one_of_the_list(app):
    workshop = make_workshop()
    for kind in ("company", "Citizen", 3, ["citizen"], {"a": 1}):
        refused("invalid", join, workshop, "Anna", "Forening", kind, True)
    assert count(Participant) == 0


def test_every_listed_organisation_type_may_join(app):
    workshop = make_workshop()
    for kind in ("citizen", "association", "volunteer_centre", "patient_organisation",
                 "interest_organisation", "regional_staff", "politician", "other", None, ""):
        participant = join(workshop, "Anna", None, kind, True).participant
        assert participant.organisation_type == (kind or None)


def test_a_display_name_is_required_and_limited(app):
    workshop = make_workshop()
    for name in ("", "   ", "x" * 81, 5, None):
        refused("invalid", join, workshop, name, None, None, True)
    assert count(Participant) == 0
    assert join(workshop, "x" * 80, None, None, True).participant.display_name == "x" * 80


def test_the_token_is_long_and_only_its_hash_is_stored(app):
    workshop = make_workshop()
    joined = join(workshop, "Anna", "  Ældre   Sagen ", "association", True)
    raw = base64.urlsafe_b64decode(joined.token + "=" * (-len(joined.token) % 4))
    assert len(raw) * 8 >= 128
    participant = refresh(joined.participant)
    assert participant.token_hash == hashlib.sha256(joined.token.encode()).hexdigest()
    row = db.session.execute(select(Participant.__table__)).one()
    assert joined.token not in json.dumps([str(v) for v in row])
    assert participant_for_token(joined.token).id == participant.id
    assert participant_for_token(joined.token + "x") is None
    assert participant_for_token(None) is None
    assert (participant.organisation, participant.organisation_key) == (
        "Ældre   Sagen", "ældre sagen")


def test_every_join_gets_its_own_token(app):
    workshop = make_workshop()
    tokens = {join(workshop, "Anna", None, None, True).token for _ in range(5)}
    assert len(tokens) == 5
