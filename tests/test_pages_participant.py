"""The participant's pages: landing, joining by link, and every action of the workshop page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.factories import (
    element,
    facilitator_of,
    hide,
    join_as,
    make_user,
    make_workshop,
    merge,
    move_to,
    propose,
    refresh,
    vote,
)
from workshop.extensions import db
from workshop.identity import cookie_name
from workshop.models import Comment, DotVote, Participant, Proposal

HOSTILE = "<script>alert(1)</script>"


def text(response) -> str:
    return response.get_data(as_text=True)


def as_participant(client, workshop, participant):
    client.set_cookie(cookie_name(workshop), participant.token)
    return client


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- Landing page ---------------------------------------------------------------------------------


def test_home_offers_a_code_form_and_a_staff_login(client):
    response = client.get("/")
    assert response.status_code == 200
    page = text(response)
    assert 'name="code"' in page
    assert 'href="/login"' in page
    assert '<html lang="da">' in page


def test_home_code_is_normalised_and_leads_to_the_join_page(client):
    workshop = make_workshop()
    messy = " " + "-".join(workshop.code.lower()[i:i + 3] for i in (0, 3)) + " "
    response = client.get("/", query_string={"code": messy})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/j/{workshop.code}")


def test_home_unknown_code_shows_a_danish_error_on_the_same_page(client):
    response = client.get("/?code=ZZZZZZ")
    assert response.status_code == 404
    page = text(response)
    assert "Vi kender ikke koden ZZZZZZ" in page
    assert 'aria-describedby="code-error' in page


# --- Joining --------------------------------------------------------------------------------------


def test_join_by_link_sets_an_httponly_cookie_and_the_token_never_appears(client):
    workshop = make_workshop(phase="ideation")
    form = client.get(f"/j/{workshop.code}")
    assert form.status_code == 200
    assert "privatliv" in text(form).lower() or "Dine oplysninger" in text(form)
    response = client.post(f"/j/{workshop.code}", data={
        "display_name": "Anna", "organisation": "Ældre Sagen",
        "organisation_type": "association", "consent": "y"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/w/{workshop.code}"
    cookie_header = response.headers["Set-Cookie"]
    assert cookie_header.startswith(cookie_name(workshop) + "=")
    assert "HttpOnly" in cookie_header
    assert "SameSite=Lax" in cookie_header
    token = client.get_cookie(cookie_name(workshop)).value
    assert len(token) >= 22  # at least 128 bits, url-safe
    assert token not in response.headers["Location"]
    for url in ("/", f"/j/{workshop.code}", f"/w/{workshop.code}"):
        page = client.get(url, follow_redirects=True)
        assert token not in text(page)
        assert all(token not in h.location for h in page.history)
    participant = db.session.scalar(select(Participant).where(Participant.display_name == "Anna"))
    assert participant.organisation == "Ældre Sagen"
    assert participant.organisation_type == "association"
    assert participant.token_hash != token


def test_returning_participant_is_restored_without_joining_again(client):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    as_participant(client, workshop, anna)
    response = client.get(f"/j/{workshop.code}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/w/{workshop.code}"
    page = client.get(f"/w/{workshop.code}")
    assert page.status_code == 200
    assert "Du deltager som" in text(page) and "Anna" in text(page)
    assert count(Participant) == 1


def test_join_without_consent_is_refused_and_nothing_is_written(client):
    workshop = make_workshop()
    response = client.post(f"/j/{workshop.code}", data={"display_name": "Anna"})
    assert response.status_code == 400
    page = text(response)
    assert "privatlivserklæringen" in page
    assert 'aria-describedby="consent-error"' in page
    assert count(Participant) == 0
    assert "Set-Cookie" not in response.headers


def test_join_with_a_name_too_long_or_a_made_up_type_is_refused(client):
    workshop = make_workshop()
    too_long = client.post(f"/j/{workshop.code}", data={"display_name": "x" * 81, "consent": "y"})
    assert too_long.status_code == 400
    assert "højst være 80 tegn" in text(too_long)
    made_up = client.post(f"/j/{workshop.code}", data={
        "display_name": "Anna", "organisation_type": "pirate", "consent": "y"})
    assert made_up.status_code == 400
    assert "organisationstype" in text(made_up)
    assert count(Participant) == 0


def test_join_a_closed_workshop_shows_a_message_and_no_form(client):
    workshop = make_workshop(phase="closed")
    response = client.get(f"/j/{workshop.code}")
    assert response.status_code == 200
    page = text(response)
    assert "lukket for nye deltagere" in page
    assert 'name="display_name"' not in page
    posted = client.post(f"/j/{workshop.code}", data={"display_name": "Anna", "consent": "y"})
    assert posted.status_code == 409
    assert count(Participant) == 0


def test_join_an_unknown_workshop_is_not_found(client):
    assert client.get("/j/ZZZZZZ").status_code == 404


def test_workshop_page_without_a_cookie_sends_you_to_join(client):
    workshop = make_workshop(phase="ideation")
    response = client.get(f"/w/{workshop.code}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/j/{workshop.code}"


def test_participant_of_another_workshop_cannot_act_here(client):
    mine = make_workshop(phase="ideation")
    other = make_workshop(phase="ideation")
    anna = join_as(mine, "Anna")
    as_participant(client, mine, anna)
    assert client.get(f"/w/{other.code}").headers["Location"] == f"/j/{other.code}"
    response = client.post(f"/w/{other.code}/proposals", data={
        "title": "Snyd", "element_id": element(other).id})
    assert response.status_code == 403
    assert "deltager ikke i denne workshop" in text(response)
    assert count(Proposal) == 0


def test_writing_without_having_joined_is_refused_with_401(client):
    workshop = make_workshop(phase="ideation")
    response = client.post(f"/w/{workshop.code}/proposals", data={
        "title": "Anonym", "element_id": element(workshop).id})
    assert response.status_code == 401
    assert count(Proposal) == 0


# --- Phases ---------------------------------------------------------------------------------------


def test_lobby_shows_a_wait_message_and_the_model_but_no_propose_form(client):
    workshop = make_workshop()
    as_participant(client, workshop, join_as(workshop))
    page = text(client.get(f"/w/{workshop.code}"))
    assert "vi er ikke begyndt endnu" in page
    assert element(workshop).title in page
    assert element(workshop).description in page
    assert 'action="/w/' + workshop.code + '/proposals"' not in page


def test_ideation_page_has_a_propose_form_with_a_fresh_client_id(client):
    workshop = make_workshop(phase="ideation")
    as_participant(client, workshop, join_as(workshop))
    first = text(client.get(f"/w/{workshop.code}"))
    second = text(client.get(f"/w/{workshop.code}"))
    ids = [re.search(r'name="client_id" type="hidden" value="([0-9a-f]{32})"', page).group(1)
           for page in (first, second)]
    assert ids[0] != ids[1]
    assert 'for="element_id"' in first and 'for="title"' in first and 'for="body"' in first


# --- Proposals ------------------------------------------------------------------------------------


def test_propose_from_the_page(client):
    workshop = make_workshop(phase="ideation")
    as_participant(client, workshop, join_as(workshop, "Anna"))
    response = client.post(f"/w/{workshop.code}/proposals", data={
        "title": "Fast kontaktperson", "body": "Én indgang", "element_id": element(workshop, 1).id,
        "client_id": "form-1"})
    assert response.status_code == 302
    proposal = db.session.scalar(select(Proposal))
    assert response.headers["Location"] == f"/w/{workshop.code}#mit-p-{proposal.id}"
    assert proposal.element_id == element(workshop, 1).id
    page = text(client.get(f"/w/{workshop.code}"))
    assert "Tak! Dit forslag er tilføjet." in page
    assert f'id="p-{proposal.id}"' in page
    assert "Fast kontaktperson" in page


def test_a_double_submitted_proposal_form_creates_one_proposal(client):
    workshop = make_workshop(phase="ideation")
    as_participant(client, workshop, join_as(workshop))
    data = {"title": "To gange", "element_id": element(workshop).id, "client_id": "abc123"}
    assert client.post(f"/w/{workshop.code}/proposals", data=data).status_code == 302
    again = client.post(f"/w/{workshop.code}/proposals", data=data)
    assert again.status_code == 302
    assert count(Proposal) == 1


def test_a_too_long_title_is_refused_with_the_text_kept(client):
    workshop = make_workshop(phase="ideation")
    as_participant(client, workshop, join_as(workshop))
    response = client.post(f"/w/{workshop.code}/proposals", data={
        "title": "x" * 121, "body": "Min tekst", "element_id": element(workshop).id})
    assert response.status_code == 400
    page = text(response)
    assert "Titel må højst være 120 tegn." in page
    assert 'aria-describedby="title-error' in page
    assert "Min tekst" in page  # nothing the participant typed is lost
    assert count(Proposal) == 0


def test_a_proposal_without_element_or_with_a_bogus_one_is_refused(client):
    workshop = make_workshop(phase="ideation")
    as_participant(client, workshop, join_as(workshop))
    for value in ("", "abc", "999999"):
        response = client.post(f"/w/{workshop.code}/proposals", data={
            "title": "Uden element", "element_id": value})
        assert response.status_code == 400, value
        assert "element" in text(response).lower()
    assert count(Proposal) == 0


def test_proposing_outside_ideation_is_refused(client):
    workshop = make_workshop(phase="review")
    as_participant(client, workshop, join_as(workshop))
    response = client.post(f"/w/{workshop.code}/proposals", data={
        "title": "For sent", "element_id": element(workshop).id})
    assert response.status_code == 409
    assert "kun stilles forslag i idéfasen" in text(response)
    assert count(Proposal) == 0


def test_a_pre_moderated_proposal_is_shown_as_pending_to_its_author_only(client, app):
    workshop = make_workshop(phase="ideation", moderation="pre")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    proposal = propose(workshop, anna, "Venter")
    page = text(as_participant(client, workshop, anna).get(f"/w/{workshop.code}"))
    assert "Venter på godkendelse" in page
    other = app.test_client()
    assert proposal.title not in text(as_participant(other, workshop, bo)
                                      .get(f"/w/{workshop.code}"))


def test_edit_own_proposal_from_the_page(client):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop)
    proposal = propose(workshop, anna, "Stavefjl")
    as_participant(client, workshop, anna)
    response = client.post(f"/w/{workshop.code}/proposals/{proposal.id}/edit", data={
        f"edit-{proposal.id}-title": "Stavefejl rettet",
        f"edit-{proposal.id}-body": "Ny tekst",
        f"edit-{proposal.id}-element_id": element(workshop, 2).id})
    assert response.status_code == 302
    refresh(proposal)
    assert (proposal.title, proposal.body) == ("Stavefejl rettet", "Ny tekst")
    assert proposal.element_id == element(workshop, 2).id


def test_editing_someone_elses_proposal_is_forbidden(client):
    workshop = make_workshop(phase="ideation")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    proposal = propose(workshop, anna, "Annas")
    as_participant(client, workshop, bo)
    response = client.post(f"/w/{workshop.code}/proposals/{proposal.id}/edit", data={
        f"edit-{proposal.id}-title": "Kapret"})
    assert response.status_code == 403
    assert refresh(proposal).title == "Annas"
    withdraw = client.post(f"/w/{workshop.code}/proposals/{proposal.id}/withdraw")
    assert withdraw.status_code == 403
    assert refresh(proposal).status == "visible"


def test_withdraw_own_proposal_from_the_page(client):
    workshop = make_workshop(phase="review")
    anna = join_as(workshop)
    move_to(workshop, "ideation")
    proposal = propose(workshop, anna, "Trækkes")
    move_to(workshop, "review")
    as_participant(client, workshop, anna)
    response = client.post(f"/w/{workshop.code}/proposals/{proposal.id}/withdraw")
    assert response.status_code == 302
    assert refresh(proposal).status == "withdrawn"
    assert "Trækkes" not in text(client.get(f"/w/{workshop.code}"))


def test_own_proposals_cannot_be_changed_once_voting_started(client):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop)
    proposal = propose(workshop, anna, "Låst")
    move_to(workshop, "voting")
    as_participant(client, workshop, anna)
    response = client.post(f"/w/{workshop.code}/proposals/{proposal.id}/withdraw")
    assert response.status_code == 409
    assert "før afstemningen" in text(response)
    assert refresh(proposal).status == "visible"


def test_a_hidden_proposal_shows_its_reason_to_its_author(client):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop)
    proposal = propose(workshop, anna, "Skjult")
    hide(workshop, proposal, reason="Uden for emnet")
    page = text(as_participant(client, workshop, anna).get(f"/w/{workshop.code}"))
    assert "Skjult" in page and "Uden for emnet" in page


def test_author_names_are_shown_only_when_the_workshop_shows_names(client, app):
    for show_names in (True, False):
        workshop = make_workshop(phase="ideation", show_names=show_names)
        anna, bo = join_as(workshop, "Annabella"), join_as(workshop, "Bo")
        propose(workshop, anna, "Et navn?")
        page = text(as_participant(app.test_client(), workshop, bo).get(f"/w/{workshop.code}"))
        assert ("Af Annabella" in page) is show_names


def test_a_merged_duplicate_is_shown_under_its_target(client):
    workshop = make_workshop(phase="ideation")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    target = propose(workshop, anna, "Originalen")
    duplicate = propose(workshop, bo, "Dubletten")
    merge(workshop, duplicate, target)
    page = text(as_participant(client, workshop, bo).get(f"/w/{workshop.code}"))
    assert "Lagt sammen med dette forslag:" in page
    assert "Dubletten" in page
    assert "Du står bag dette forslag" in page


# --- Comments -------------------------------------------------------------------------------------


def test_comment_from_the_page_and_twice_sent_is_stored_once(client):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop)
    proposal = propose(workshop, anna, "Kommentér mig")
    as_participant(client, workshop, anna)
    data = {f"comment-{proposal.id}-body": "Godt tænkt",
            f"comment-{proposal.id}-client_id": "c-1"}
    response = client.post(f"/w/{workshop.code}/proposals/{proposal.id}/comments", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#p-{proposal.id}")
    client.post(f"/w/{workshop.code}/proposals/{proposal.id}/comments", data=data)
    assert count(Comment) == 1
    assert "Godt tænkt" in text(client.get(f"/w/{workshop.code}"))


def test_comments_on_the_page_name_their_authors_as_the_live_client_does(app, client):
    """The page and the live client (the API's JSON) follow one rule: a facilitator by name
    (or "Facilitator"), never an e-mail; a participant by name unless the workshop hides
    names."""
    from workshop.domain import workshops
    from workshop.domain.proposals import add_comment

    workshop = make_workshop(phase="ideation")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    proposal = propose(workshop, anna, "Fast kontaktperson")
    staff = facilitator_of(workshop)  # without a name
    mette = make_user("facilitator", name="Mette Hansen")
    workshops.add_facilitator(workshop, staff, mette.email)
    add_comment(workshop, proposal.id, "Godt forslag", participant=bo)
    add_comment(workshop, proposal.id, "Tak for forslaget", user=staff)
    add_comment(workshop, proposal.id, "Vi tager det med", user=mette)
    as_participant(client, workshop, anna)

    def shown() -> list[tuple[str, str | None]]:
        page = text(client.get(f"/w/{workshop.code}"))
        return [(body, meta or None) for body, meta in re.findall(
            r'<li class="comment" data-comment="\d+"><p class="body">([^<]*)</p>'
            r'(?:<p class="meta">([^<]*)</p>)?</li>', page)]

    api = client.get(f"/api/v1/proposals/{proposal.id}/comments").get_json()["comments"]
    assert shown() == [(c["body"], c["author"]) for c in api] == [
        ("Godt forslag", "Bo"), ("Tak for forslaget", "Facilitator"),
        ("Vi tager det med", "Mette Hansen")]
    assert staff.email not in text(client.get(f"/w/{workshop.code}"))

    workshops.update_workshop(workshop, staff, {"show_names": False})
    api = client.get(f"/api/v1/proposals/{proposal.id}/comments").get_json()["comments"]
    assert shown() == [(c["body"], c["author"]) for c in api] == [
        ("Godt forslag", None), ("Tak for forslaget", "Facilitator"),
        ("Vi tager det med", "Mette Hansen")]


def test_an_empty_comment_is_refused_next_to_its_proposal(client):
    workshop = make_workshop(phase="review")
    anna = join_as(workshop)
    move_to(workshop, "ideation")
    proposal = propose(workshop, anna)
    move_to(workshop, "review")
    as_participant(client, workshop, anna)
    response = client.post(f"/w/{workshop.code}/proposals/{proposal.id}/comments",
                           data={f"comment-{proposal.id}-body": "  "})
    assert response.status_code == 400
    assert "Kommentar skal udfyldes." in text(response)
    assert f'href="#p-{proposal.id}"' in text(response)
    assert count(Comment) == 0


def test_commenting_in_voting_is_refused(client):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop)
    proposal = propose(workshop, anna)
    move_to(workshop, "voting")
    as_participant(client, workshop, anna)
    response = client.post(f"/w/{workshop.code}/proposals/{proposal.id}/comments",
                           data={f"comment-{proposal.id}-body": "Sent"})
    assert response.status_code == 409
    assert count(Comment) == 0


# --- Voting ---------------------------------------------------------------------------------------


@pytest.fixture
def voting_workshop():
    workshop = make_workshop(phase="ideation", dots_per_participant=5, max_dots_per_proposal=3)
    anna = join_as(workshop, "Anna")
    first = propose(workshop, anna, "Første")
    second = propose(workshop, anna, "Andet", element_index=1)
    move_to(workshop, "voting")
    return workshop, anna, first, second


def test_voting_page_shows_the_budget_and_the_cap(client, voting_workshop):
    workshop, anna, first, _second = voting_workshop
    vote(workshop, anna, first, 2)
    page = text(as_participant(client, workshop, anna).get(f"/w/{workshop.code}"))
    assert re.search(r"<strong[^>]*>3</strong>\s*af 5 prikker tilbage", page)
    assert "højst give 3 prikker til ét forslag" in page
    assert "Giv prik" in page and "Fjern prik" in page


def test_vote_plus_and_minus_from_the_page(client, voting_workshop):
    workshop, anna, first, _second = voting_workshop
    as_participant(client, workshop, anna)
    url = f"/w/{workshop.code}/proposals/{first.id}/dots"
    assert client.post(url, data={"dots": "1"}).status_code == 302
    assert client.post(url, data={"dots": "2"}).status_code == 302
    assert db.session.scalar(select(DotVote.dots)) == 2
    response = client.post(url, data={"dots": "1"})
    assert response.headers["Location"] == f"/w/{workshop.code}#p-{first.id}"
    assert db.session.scalar(select(DotVote.dots)) == 1
    client.post(url, data={"dots": "0"})
    assert count(DotVote) == 0


def test_vote_over_budget_is_refused(client, voting_workshop):
    workshop, anna, first, second = voting_workshop
    vote(workshop, anna, first, 3)
    as_participant(client, workshop, anna)
    response = client.post(f"/w/{workshop.code}/proposals/{second.id}/dots", data={"dots": "3"})
    assert response.status_code == 409
    assert "Du har kun 2 prikker tilbage." in text(response)
    assert db.session.scalar(select(func.sum(DotVote.dots))) == 3
    assert count(DotVote, DotVote.proposal_id == second.id) == 0


def test_vote_over_the_per_proposal_cap_is_refused(client, voting_workshop):
    workshop, anna, first, _second = voting_workshop
    as_participant(client, workshop, anna)
    response = client.post(f"/w/{workshop.code}/proposals/{first.id}/dots", data={"dots": "4"})
    assert response.status_code == 409
    assert "højst give 3 prikker til ét forslag" in text(response)
    assert count(DotVote) == 0


@pytest.mark.parametrize("value", ["", "tre", "1.5", "-1"])
def test_a_vote_that_is_not_a_whole_number_is_refused(client, voting_workshop, value):
    workshop, anna, first, _second = voting_workshop
    as_participant(client, workshop, anna)
    response = client.post(f"/w/{workshop.code}/proposals/{first.id}/dots", data={"dots": value})
    assert response.status_code == 400
    assert "prikker" in text(response).lower()
    assert count(DotVote) == 0


def test_voting_before_the_voting_phase_is_refused(client):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop)
    proposal = propose(workshop, anna)
    as_participant(client, workshop, anna)
    response = client.post(f"/w/{workshop.code}/proposals/{proposal.id}/dots", data={"dots": "1"})
    assert response.status_code == 409
    assert count(DotVote) == 0


def test_voting_on_an_unknown_proposal_is_a_clear_404(client, voting_workshop):
    workshop, anna, _first, _second = voting_workshop
    as_participant(client, workshop, anna)
    response = client.post(f"/w/{workshop.code}/proposals/999999/dots", data={"dots": "1"})
    assert response.status_code == 404
    assert "Forslaget findes ikke." in text(response)


# --- Results --------------------------------------------------------------------------------------


def test_results_show_the_ranking_with_ties_in_both_weightings(client):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna", organisation="Foreningen")
    bo = join_as(workshop, "Bo", organisation="foreningen ")
    cy = join_as(workshop, "Cy")
    first = propose(workshop, anna, "Første")
    second = propose(workshop, bo, "Andet")
    move_to(workshop, "voting")
    vote(workshop, anna, first, 2)
    vote(workshop, bo, first, 2)
    vote(workshop, cy, second, 3)
    vote(workshop, anna, second, 1)
    move_to(workshop, "results")
    as_participant(client, workshop, cy)
    page = text(client.get(f"/w/{workshop.code}"))
    assert "Afstemningen er slut" in page
    assert "Deltagervægtning" in page
    # participant weighting: Første 4 dots (2 supporters), Andet 4 dots (2 supporters): a tie
    assert page.count("(delt)") >= 2
    organisation = text(client.get(f"/w/{workshop.code}?weighting=organisation"))
    assert 'aria-current="page" class="current">Organisationsvægtning' in organisation
    # organisation weighting: Første 2 (the association's mean), Andet 3 + 0.5 = 3,5
    assert "3,5" in organisation


def test_results_are_not_shown_before_the_results_phase(client, voting_workshop):
    workshop, anna, _first, _second = voting_workshop
    page = text(as_participant(client, workshop, anna).get(f"/w/{workshop.code}"))
    assert 'id="resultater"' not in page


def test_a_closed_workshop_thanks_and_shows_results(client):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop)
    propose(workshop, anna, "Til sidst")
    move_to(workshop, "closed")
    page = text(as_participant(client, workshop, anna).get(f"/w/{workshop.code}"))
    assert "Tak for din deltagelse" in page
    assert 'id="resultater"' in page and "Til sidst" in page


def test_an_unknown_weighting_is_a_clear_400(client):
    workshop = make_workshop(phase="results")
    as_participant(client, workshop, join_as(workshop))
    response = client.get(f"/w/{workshop.code}?weighting=loudest")
    assert response.status_code == 400
    assert "Vægtning" in text(response)


# --- Safety ---------------------------------------------------------------------------------------


def test_hostile_text_is_escaped_on_the_participant_pages(client, app):
    workshop = make_workshop(title=HOSTILE, phase="ideation")
    anna = join_as(workshop, HOSTILE, organisation=HOSTILE)
    target = propose(workshop, anna, HOSTILE, body=HOSTILE)
    duplicate = propose(workshop, anna, HOSTILE + " 2")
    merge(workshop, duplicate, target)
    as_participant(client, workshop, anna)
    client.post(f"/w/{workshop.code}/proposals/{target.id}/comments",
                data={f"comment-{target.id}-body": HOSTILE})
    pages = [client.get(f"/j/{workshop.code}", follow_redirects=True),
             client.get(f"/w/{workshop.code}")]
    move_to(workshop, "results")
    pages.append(client.get(f"/w/{workshop.code}"))
    pages.append(app.test_client().get(f"/j/{workshop.code}"))
    for response in pages:
        page = text(response)
        assert "<script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_pages_carry_no_inline_script_or_style(client):
    workshop = make_workshop(phase="voting")
    as_participant(client, workshop, join_as(workshop))
    for url in ("/", f"/w/{workshop.code}"):
        page = text(client.get(url))
        # Scripts come from files (the CSP allows no inline code); JSON data blocks never run.
        for tag in re.findall(r"<script[^>]*>", page):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
        assert " style=" not in page and "<style" not in page


@pytest.mark.app_config({"WTF_CSRF_ENABLED": True})
def test_a_post_without_csrf_token_is_refused_and_changes_nothing(client):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop)
    as_participant(client, workshop, anna)
    response = client.post(f"/w/{workshop.code}/proposals", data={
        "title": "Uden token", "element_id": element(workshop).id})
    assert response.status_code == 400
    assert "Formularen er udløbet" in text(response)
    joined = client.post(f"/j/{workshop.code}", data={"display_name": "Bo", "consent": "y"})
    assert joined.status_code == 400
    assert count(Proposal) == 0
    assert count(Participant) == 1


@pytest.mark.app_config({"WTF_CSRF_ENABLED": True})
def test_a_post_with_the_page_csrf_token_is_accepted(client):
    workshop = make_workshop(phase="ideation")
    form = text(client.get(f"/j/{workshop.code}"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    response = client.post(f"/j/{workshop.code}", data={
        "csrf_token": token, "display_name": "Anna", "consent": "y"})
    assert response.status_code == 302
    assert count(Participant) == 1


# --- Approval and score: controls in the method's own words -------------------------------------


def method_workshop(method: str):
    from workshop.domain import voting

    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    first = propose(workshop, anna, "Fast kontaktperson")
    propose(workshop, anna, "Gratis bus")
    voting.set_voting_method(workshop, workshop.facilitators[0], method)
    move_to(workshop, "voting")
    return workshop, anna, first


def test_approval_is_one_toggle_per_proposal_and_works_without_script(client):
    workshop, anna, first = method_workshop("approval")
    as_participant(client, workshop, anna)
    url = f"/w/{workshop.code}"
    page = text(client.get(url))
    assert page.count('data-toggle="1" aria-pressed="false"') == 3  # and the template
    assert 'aria-label="Støt forslaget: Fast kontaktperson"' in page
    assert "Giv prik" not in page and 'id="remaining"' not in page
    response = client.post(f"{url}/proposals/{first.id}/dots", data={"dots": "1"},
                           follow_redirects=True)
    page = text(response)
    assert response.status_code == 200 and "Du støtter nu forslaget." in page
    assert page.count('aria-pressed="true"') == 1
    assert count(DotVote, DotVote.participant_id == anna.id) == 1
    page = text(client.post(f"{url}/proposals/{first.id}/dots", data={"dots": "0"},
                            follow_redirects=True))
    assert "Du støtter ikke længere forslaget." in page
    assert count(DotVote, DotVote.participant_id == anna.id) == 0


def test_score_is_one_tap_from_one_to_five_and_works_without_script(client):
    workshop, anna, first = method_workshop("score")
    as_participant(client, workshop, anna)
    url = f"/w/{workshop.code}"
    page = text(client.get(url))
    for k in range(1, 6):
        assert f'aria-label="Karakter {k} til Fast kontaktperson"' in page
    assert "Giv prik" not in page
    page = text(client.post(f"{url}/proposals/{first.id}/dots", data={"dots": "4"},
                            follow_redirects=True))
    assert "Din karakter til forslaget er nu 4." in page
    assert re.search(r'data-set="4" aria-pressed="true"', page)
    page = text(client.post(f"{url}/proposals/{first.id}/dots", data={"dots": "0"},
                            follow_redirects=True))
    assert "Din karakter til forslaget er fjernet." in page
    response = client.post(f"{url}/proposals/{first.id}/dots", data={"dots": "6"})
    assert response.status_code == 400
    assert count(DotVote, DotVote.participant_id == anna.id) == 0


@pytest.mark.parametrize("method, heading, hint", [
    ("score", "Karakter (vægtet gennemsnit)", "hver deltagers karakter tæller én"),
    ("approval", "Point (ja)", "hvert ja tæller ét"),
])
def test_results_are_shown_in_the_methods_own_terms(client, method, heading, hint):
    workshop, anna, first = method_workshop(method)
    vote(workshop, anna, first, 1)
    move_to(workshop, "results")
    as_participant(client, workshop, anna)
    page = text(client.get(f"/w/{workshop.code}"))
    assert f'<th scope="col" class="num">{heading}</th>' in page
    assert '<th scope="col" class="num">Prikker</th>' not in page
    assert hint in page and "hver prik tæller én" not in page
