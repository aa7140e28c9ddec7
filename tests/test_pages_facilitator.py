"""The facilitator's pages: my workshops, creating one, and every action of the console."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from tests.factories import (
    PASSWORD,
    element,
    hide,
    join_as,
    make_user,
    make_workshop,
    move_to,
    propose,
    refresh,
    vote,
)
from workshop.extensions import db
from workshop.models import DotVote, ModelElement, ModerationAction, Workshop

HOSTILE = "<script>alert(1)</script>"


def text(response) -> str:
    return response.get_data(as_text=True)


def login(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, text(response)
    return client


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def facilitator():
    return make_user("facilitator", name="Fie Facilitator")


@pytest.fixture
def workshop(facilitator):
    return make_workshop(facilitator)


@pytest.fixture
def console(client, facilitator, workshop):
    """A logged-in facilitator's client and the console's base URL."""
    login(client, facilitator)
    return client, f"/facilitate/{workshop.code}"


# --- Rights ---------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, workshop):
    for url in ("/facilitate/", f"/facilitate/{workshop.code}",
                f"/facilitate/{workshop.code}/qr.svg"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    posted = client.post(f"/facilitate/{workshop.code}/phase", data={"phase": "ideation"})
    assert posted.status_code == 302
    assert refresh(workshop).phase == "lobby"


def test_a_reviewer_is_forbidden(client, workshop):
    login(client, make_user("reviewer"))
    assert client.get("/facilitate/").status_code == 403
    assert client.get(f"/facilitate/{workshop.code}").status_code == 403
    response = client.post(f"/facilitate/{workshop.code}/phase", data={"phase": "ideation"})
    assert response.status_code == 403
    assert refresh(workshop).phase == "lobby"


def test_a_facilitator_of_another_workshop_is_forbidden(client, workshop):
    login(client, make_user("facilitator"))
    assert client.get(f"/facilitate/{workshop.code}").status_code == 403
    assert client.get(f"/facilitate/{workshop.code}/qr.svg").status_code == 403
    assert client.post(f"/facilitate/{workshop.code}/phase",
                       data={"phase": "ideation"}).status_code == 403
    assert client.post(f"/facilitate/{workshop.code}/elements",
                       data={"new-element-title": "Ind ad bagdøren"}).status_code == 403
    assert refresh(workshop).phase == "lobby"
    assert count(ModelElement, ModelElement.title == "Ind ad bagdøren") == 0


def test_a_participant_cookie_does_not_open_the_console(client, workshop):
    participant = join_as(workshop)
    client.set_cookie(f"samskab_p_{workshop.code}", participant.token)
    assert client.get(f"/facilitate/{workshop.code}").status_code == 302


def test_an_unknown_workshop_is_not_found(console):
    client, _url = console
    assert client.get("/facilitate/ZZZZZZ").status_code == 404


# --- My workshops and creating one ----------------------------------------------------------------


def test_index_lists_my_workshops_with_phase_and_counts(console, workshop, facilitator):
    client, _url = console
    make_workshop(title="En andens workshop")
    anna = join_as(workshop, "Anna")
    move_to(workshop, "ideation")
    propose(workshop, anna)
    page = text(client.get("/facilitate/"))
    assert workshop.title in page and workshop.code in page
    assert "Idéfase" in page
    assert "En andens workshop" not in page
    assert '<td class="num">1</td>' in page


def test_an_admin_sees_every_workshop(client, workshop):
    login(client, make_user("admin"))
    page = text(client.get("/facilitate/"))
    assert workshop.code in page
    assert client.get(f"/facilitate/{workshop.code}").status_code == 200


def test_create_a_workshop_from_the_default_template(client, facilitator):
    login(client, facilitator)
    form = text(client.get("/facilitate/"))
    assert "Generisk model for samarbejde med civilsamfundet" in form
    assert 'value="5"' in form and 'value="3"' in form
    response = client.post("/facilitate/", data={
        "title": "Workshop i Viborg", "description": "", "template": "generic-model",
        "dots_per_participant": "6", "max_dots_per_proposal": "2", "moderation": "pre",
        "max_proposals_per_participant": "", "show_names": "y"})
    assert response.status_code == 302
    workshop = db.session.scalar(select(Workshop).where(Workshop.title == "Workshop i Viborg"))
    assert response.headers["Location"] == f"/facilitate/{workshop.code}"
    assert (workshop.dots_per_participant, workshop.max_dots_per_proposal) == (6, 2)
    assert workshop.moderation == "pre" and workshop.show_names is True
    assert workshop.max_proposals_per_participant is None
    assert len(workshop.elements) >= 8
    assert facilitator in workshop.facilitators


def test_create_a_blank_workshop_without_names(client, facilitator):
    login(client, facilitator)
    client.post("/facilitate/", data={
        "title": "Tom", "template": "blank", "dots_per_participant": "5",
        "max_dots_per_proposal": "3", "moderation": "post",
        "max_proposals_per_participant": "2"})
    workshop = db.session.scalar(select(Workshop).where(Workshop.title == "Tom"))
    assert workshop.elements == []
    assert workshop.show_names is False
    assert workshop.max_proposals_per_participant == 2


@pytest.mark.parametrize("data, message", [
    ({"title": ""}, "Titel skal udfyldes."),
    ({"dots_per_participant": "mange"}, "Skriv et helt tal."),
    ({"dots_per_participant": "2"}, "kan ikke være flere end prikker pr. deltager"),
    ({"template": "nope"}, "Ukendt skabelon"),
    ({"moderation": "later"}, "Moderation skal være"),
])
def test_creating_with_bad_input_shows_a_clear_error(client, facilitator, data, message):
    login(client, facilitator)
    form = {"title": "Ok", "template": "generic-model", "dots_per_participant": "5",
            "max_dots_per_proposal": "3", "moderation": "post"}
    form.update(data)
    response = client.post("/facilitate/", data=form)
    assert response.status_code == 400
    assert message in text(response)
    assert count(Workshop) == 0


# --- The console ----------------------------------------------------------------------------------


def test_console_shows_code_link_qr_and_the_next_step(console, workshop):
    client, url = console
    page = text(client.get(url))
    assert f'<p class="big-code">{workshop.code}</p>' in page
    assert f"http://localhost/j/{workshop.code}" in page
    assert f'src="/facilitate/{workshop.code}/qr.svg" alt="QR-kode til' in page
    assert "Næste:" in page and "Start idéfasen" in page
    assert 'href="/review/' + workshop.code + '"' in page


def test_qr_code_is_an_svg_of_the_join_link(console):
    client, url = console
    response = client.get(url + "/qr.svg")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("image/svg+xml")
    assert text(response).lstrip().startswith(("<?xml", "<svg"))


def test_phase_moves_forward_and_back_one_step(console, workshop):
    client, url = console
    response = client.post(url + "/phase", data={"phase": "ideation"})
    assert response.status_code == 302
    assert response.headers["Location"] == url + "#fase"
    assert refresh(workshop).phase == "ideation"
    client.post(url + "/phase", data={"phase": "review"})
    page = text(client.get(url))
    assert "Start afstemningen" in page and "Tilbage til Idéfase" in page
    assert client.post(url + "/phase", data={"phase": "ideation"}).status_code == 302
    assert refresh(workshop).phase == "ideation"


def test_moving_back_more_than_one_step_is_refused(console, workshop):
    client, url = console
    move_to(workshop, "voting")
    response = client.post(url + "/phase", data={"phase": "ideation"})
    assert response.status_code == 409
    assert "ét trin tilbage" in text(response)
    assert refresh(workshop).phase == "voting"


def test_an_unknown_phase_is_a_clear_400(console, workshop):
    client, url = console
    response = client.post(url + "/phase", data={"phase": "party"})
    assert response.status_code == 400
    assert "Ukendt fase" in text(response)


def test_closing_needs_a_confirmation(console, workshop):
    client, url = console
    move_to(workshop, "results")
    refused = client.post(url + "/phase", data={"phase": "closed"})
    assert refused.status_code == 400
    assert "bekræfte" in text(refused)
    assert refresh(workshop).phase == "results"
    client.post(url + "/phase", data={"phase": "closed", "confirm_close": "y"})
    assert refresh(workshop).phase == "closed"
    assert "kan ikke åbnes igen" in text(client.get(url))


def test_joining_can_be_locked_and_opened_from_the_console(console, workshop, app):
    client, url = console
    assert client.post(url + "/join-lock", data={"locked": "1"}).status_code == 302
    assert refresh(workshop).join_locked is True
    page = text(app.test_client().get(f"/j/{workshop.code}"))
    assert "lukket for nye deltagere" in page and 'name="display_name"' not in page
    client.post(url + "/join-lock", data={"locked": "0"})
    assert refresh(workshop).join_locked is False


def test_participants_are_listed_with_organisation_and_type(console, workshop):
    client, url = console
    join_as(workshop, "Karen", organisation="Ældre Sagen", organisation_type="association")
    join_as(workshop, "Lars", organisation_type="citizen")
    page = text(client.get(url))
    assert "Deltagere (2)" in page
    assert "Karen" in page and "Ældre Sagen" in page and "Forening" in page
    assert "Lars" in page and "Borger" in page


def test_settings_are_edited_from_the_console(console, workshop):
    client, url = console
    response = client.post(url + "/settings", data={
        "title": "Nyt navn", "description": "Ny beskrivelse", "dots_per_participant": "8",
        "max_dots_per_proposal": "4", "moderation": "pre",
        "max_proposals_per_participant": "3"})
    assert response.status_code == 302
    refresh(workshop)
    assert workshop.title == "Nyt navn" and workshop.description == "Ny beskrivelse"
    assert (workshop.dots_per_participant, workshop.max_dots_per_proposal) == (8, 4)
    assert workshop.moderation == "pre" and workshop.max_proposals_per_participant == 3
    assert workshop.show_names is False


def test_dots_cannot_change_once_voting_started(console, workshop):
    client, url = console
    move_to(workshop, "voting")
    response = client.post(url + "/settings", data={
        "title": workshop.title, "dots_per_participant": "9", "max_dots_per_proposal": "3",
        "moderation": "post"})
    assert response.status_code == 409
    assert "Prikkerne kan ikke ændres" in text(response)
    assert refresh(workshop).dots_per_participant == 5


# --- Model elements -------------------------------------------------------------------------------


def test_elements_are_added_edited_moved_and_removed(console, workshop):
    client, url = console
    before = len(workshop.elements)
    response = client.post(url + "/elements", data={
        "new-element-title": "Økonomi", "new-element-description": "Hvem betaler?"})
    assert response.status_code == 302
    added = db.session.scalar(select(ModelElement).where(ModelElement.title == "Økonomi"))
    assert response.headers["Location"] == f"{url}#element-{added.id}"
    assert added.position == before

    client.post(f"{url}/elements/{added.id}/edit", data={
        f"element-{added.id}-title": "Økonomi og ressourcer",
        f"element-{added.id}-description": "Hvem betaler hvad?"})
    refresh(added)
    assert (added.title, added.description) == ("Økonomi og ressourcer", "Hvem betaler hvad?")

    client.post(f"{url}/elements/{added.id}/move", data={"direction": "up"})
    assert refresh(added).position == before - 1
    client.post(f"{url}/elements/{added.id}/move", data={"direction": "down"})
    assert refresh(added).position == before

    added_id = added.id
    client.post(f"{url}/elements/{added_id}/remove")
    assert count(ModelElement, ModelElement.id == added_id) == 0
    assert len(refresh(workshop).elements) == before


def test_an_element_without_a_title_is_refused(console, workshop):
    client, url = console
    response = client.post(url + "/elements", data={"new-element-title": " "})
    assert response.status_code == 400
    assert "Titel skal udfyldes." in text(response)
    assert 'aria-describedby="new-element-title-error' in text(response)


def test_an_element_with_proposals_cannot_be_removed(console, workshop):
    client, url = console
    move_to(workshop, "ideation")
    propose(workshop, join_as(workshop))
    response = client.post(f"{url}/elements/{element(workshop).id}/remove")
    assert response.status_code == 409
    assert "har forslag" in text(response)
    assert count(ModelElement, ModelElement.id == element(workshop).id) == 1


def test_elements_cannot_change_once_voting_started(console, workshop):
    client, url = console
    move_to(workshop, "voting")
    first = element(workshop)
    response = client.post(f"{url}/elements/{first.id}/edit",
                           data={f"element-{first.id}-title": "For sent"})
    assert response.status_code == 409
    assert refresh(first).title != "For sent"
    assert client.post(url + "/elements", data={"new-element-title": "X"}).status_code == 409
    assert "Elementerne kan ikke ændres" in text(client.get(url))


# --- Moderation -----------------------------------------------------------------------------------


@pytest.fixture
def with_proposals(console, workshop):
    client, url = console
    move_to(workshop, "ideation")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    return client, url, anna, bo


def test_approve_a_pending_proposal(with_proposals, workshop):
    client, url, anna, _bo = with_proposals
    workshop.moderation = "pre"
    db.session.commit()
    proposal = propose(workshop, anna, "Venter")
    page = text(client.get(url))
    assert "Venter på godkendelse" in page and "Godkend forslaget" in page
    response = client.post(f"{url}/proposals/{proposal.id}/approve")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{url}#forslag-{proposal.id}"
    assert refresh(proposal).status == "visible"


def test_pending_proposals_come_first(with_proposals, workshop):
    client, url, anna, _bo = with_proposals
    propose(workshop, anna, "Synligt først oprettet")
    workshop.moderation = "pre"
    db.session.commit()
    propose(workshop, anna, "Venter senere oprettet")
    page = text(client.get(url))
    assert page.index("Venter senere oprettet") < page.index("Synligt først oprettet")


def test_hide_needs_a_reason_and_unhide_brings_it_back(with_proposals, workshop):
    client, url, anna, _bo = with_proposals
    proposal = propose(workshop, anna, "Skjul mig")
    refused = client.post(f"{url}/proposals/{proposal.id}/hide",
                          data={f"hide-{proposal.id}-reason": ""})
    assert refused.status_code == 400
    assert "Skriv en begrundelse" in text(refused)
    assert refresh(proposal).status == "visible"
    client.post(f"{url}/proposals/{proposal.id}/hide",
                data={f"hide-{proposal.id}-reason": "Personangreb"})
    assert refresh(proposal).status == "hidden"
    assert proposal.status_reason == "Personangreb"
    client.post(f"{url}/proposals/{proposal.id}/unhide")
    assert refresh(proposal).status == "visible"


def test_edit_a_proposal_is_recorded(with_proposals, workshop, facilitator):
    client, url, anna, _bo = with_proposals
    proposal = propose(workshop, anna, "Stavefjel")
    response = client.post(f"{url}/proposals/{proposal.id}/edit", data={
        f"medit-{proposal.id}-title": "Stavefejl",
        f"medit-{proposal.id}-body": "",
        f"medit-{proposal.id}-element_id": str(proposal.element_id),
        f"medit-{proposal.id}-reason": "Tastefejl"})
    assert response.status_code == 302
    assert refresh(proposal).title == "Stavefejl"
    assert proposal.edited_by_staff is True
    entry = db.session.scalar(select(ModerationAction).where(ModerationAction.action == "edit"))
    assert entry.user_id == facilitator.id and entry.reason == "Tastefejl"
    assert json.loads(entry.detail)["before"]["title"] == "Stavefjel"


def test_merge_a_duplicate_into_another_proposal(with_proposals, workshop):
    client, url, anna, bo = with_proposals
    target = propose(workshop, anna, "Originalen")
    duplicate = propose(workshop, bo, "Dubletten")
    move_to(workshop, "voting")
    vote(workshop, bo, duplicate, 2)
    page = text(client.get(url))
    assert f'<option value="#{target.id} Originalen">' in page
    # What the shared list fills in: the number and the title.
    response = client.post(f"{url}/proposals/{duplicate.id}/merge", data={
        f"merge-{duplicate.id}-into": f"#{target.id} Originalen",
        f"merge-{duplicate.id}-reason": "Samme idé"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"{url}#forslag-{target.id}"
    assert refresh(duplicate).status == "merged"
    assert db.session.scalar(select(DotVote.proposal_id)) == target.id
    page = text(client.get(url))
    assert "Lagt sammen med dette forslag:" in page


def test_merge_without_a_target_is_refused(with_proposals, workshop):
    client, url, anna, _bo = with_proposals
    proposal = propose(workshop, anna)
    propose(workshop, anna, "Et andet")
    response = client.post(f"{url}/proposals/{proposal.id}/merge",
                           data={f"merge-{proposal.id}-into": ""})
    assert response.status_code == 400
    assert "Vælg det forslag" in text(response)
    assert refresh(proposal).status == "visible"


@pytest.mark.parametrize("typed", ["nummer 2", "#", "-3", "99999999999999999999999"])
def test_merge_into_something_that_is_not_a_proposal_number_is_refused(with_proposals, workshop,
                                                                        typed):
    client, url, anna, _bo = with_proposals
    proposal = propose(workshop, anna)
    propose(workshop, anna, "Et andet")
    response = client.post(f"{url}/proposals/{proposal.id}/merge",
                           data={f"merge-{proposal.id}-into": typed})
    assert response.status_code in (400, 404)
    assert refresh(proposal).status == "visible"


def test_the_console_lists_merge_targets_once_not_once_per_proposal(with_proposals, workshop):
    """A <select> of every other proposal in every proposal's merge form grew with the square
    of the proposals; one shared list grows with them."""
    client, url, anna, _bo = with_proposals
    made = [propose(workshop, anna, f"Forslag nummer {i}") for i in range(30)]
    page = text(client.get(url))
    assert page.count('<datalist id="merge-targets">') == 1
    assert page.count("<option value=\"#") == len(made)
    assert page.count('list="merge-targets"') == len(made)
    assert not re.search(r'<select[^>]*name="merge-', page)


def test_approving_a_hidden_proposal_is_a_clear_409(with_proposals, workshop):
    client, url, anna, _bo = with_proposals
    proposal = propose(workshop, anna)
    hide(workshop, proposal)
    response = client.post(f"{url}/proposals/{proposal.id}/approve")
    assert response.status_code == 409
    assert "Kun forslag, der venter" in text(response)
    assert refresh(proposal).status == "hidden"


def test_approving_again_changes_nothing(with_proposals, workshop):
    client, url, anna, _bo = with_proposals
    proposal = propose(workshop, anna)
    response = client.post(f"{url}/proposals/{proposal.id}/approve")
    assert response.status_code in (302, 303)
    assert refresh(proposal).status == "visible"


def test_moderating_a_proposal_of_another_workshop_is_not_found(with_proposals):
    client, url, _anna, _bo = with_proposals
    elsewhere = make_workshop(phase="ideation")
    proposal = propose(elsewhere, join_as(elsewhere))
    response = client.post(f"{url}/proposals/{proposal.id}/hide",
                           data={f"hide-{proposal.id}-reason": "Nej"})
    assert response.status_code == 404
    assert refresh(proposal).status == "visible"


def test_the_moderation_log_shows_who_what_and_why(with_proposals, workshop):
    client, url, anna, _bo = with_proposals
    proposal = propose(workshop, anna, "Logget")
    client.post(f"{url}/proposals/{proposal.id}/hide",
                data={f"hide-{proposal.id}-reason": "Uden for emnet"})
    page = text(client.get(url))
    log = page[page.index('id="log"'):]
    assert "Fie Facilitator" in log
    assert "Skjulte forslag" in log and "Logget" in log
    assert "Uden for emnet" in log
    assert "Skiftede fase" in log and "Idéfase" in log


def test_a_facilitator_can_add_a_co_facilitator(console, workshop):
    client, url = console
    colleague = make_user("facilitator", "kollega@region.dk")
    response = client.post(url + "/facilitators", data={"facilitator-email": "kollega@region.dk"})
    assert response.status_code == 302
    assert colleague in refresh(workshop).facilitators
    unknown = client.post(url + "/facilitators", data={"facilitator-email": "nobody@x.dk"})
    assert unknown.status_code == 400


# --- Safety ---------------------------------------------------------------------------------------


def test_hostile_text_is_escaped_on_the_facilitator_pages(client, facilitator):
    workshop = make_workshop(facilitator, title=HOSTILE, phase="ideation")
    anna = join_as(workshop, HOSTILE, organisation=HOSTILE)
    proposal = propose(workshop, anna, HOSTILE, body=HOSTILE)
    login(client, facilitator)
    client.post(f"/facilitate/{workshop.code}/proposals/{proposal.id}/hide",
                data={f"hide-{proposal.id}-reason": HOSTILE})
    client.post(f"/facilitate/{workshop.code}/elements",
                data={"new-element-title": HOSTILE, "new-element-description": HOSTILE})
    for url in ("/facilitate/", f"/facilitate/{workshop.code}"):
        page = text(client.get(url))
        assert "<script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- Live controls without JavaScript (the console's forms post to the server) --------------------


def test_timer_reveal_spotlight_and_removal_from_the_console(with_proposals, workshop):
    client, url, anna, bo = with_proposals
    proposal = propose(workshop, anna, "På skærmen")
    assert client.post(url + "/timer", data={"action": "start", "minutes": "2,5"}) \
        .status_code == 302
    assert refresh(workshop).timer_duration_ms == 150_000
    refused_timer = client.post(url + "/timer", data={"action": "start", "minutes": "nul"})
    assert refused_timer.status_code == 400 and "sekunder" in text(refused_timer)
    assert client.post(url + "/reveal", data={"revealed": "1"}).status_code == 302
    assert refresh(workshop).results_revealed is True
    assert client.post(url + "/spotlight", data={"proposal_id": str(proposal.id)}) \
        .headers["Location"].endswith(f"#forslag-{proposal.id}")
    assert refresh(workshop).spotlight_proposal_id == proposal.id
    client.post(url + "/spotlight", data={"proposal_id": ""})
    assert refresh(workshop).spotlight_proposal_id is None
    assert client.post(f"{url}/participants/{bo.id}/remove",
                       data={"void_votes": "y", "reason": "Trolling"}).status_code == 302
    assert refresh(bo).removed_at is not None
    missing = client.post(f"{url}/participants/{10**6}/remove")
    assert missing.status_code == 404
