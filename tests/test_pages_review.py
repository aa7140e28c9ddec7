"""The reviewer's pages: the workshops they may read, and one workshop's fair rankings."""

from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD, join_as, make_user, make_workshop, move_to, propose, vote

HOSTILE = "<script>alert(1)</script>"


def text(response) -> str:
    return response.get_data(as_text=True)


def login(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def rows(page: str) -> list[str]:
    """The body rows of the first ranking table, as plain text."""
    table = page[page.index('<table class="ranking">'):]
    table = table[:table.index("</table>")]
    body = table[table.index("<tbody>"):]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split())
            for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)]


@pytest.fixture
def voted():
    """Three proposals; an association with two members against two single citizens."""
    workshop = make_workshop(title="Viborg", phase="ideation")
    karen = join_as(workshop, "Karen", organisation="Ældre Sagen")
    ole = join_as(workshop, "Ole", organisation="ældre  sagen")
    aisha = join_as(workshop, "Aisha")
    lars = join_as(workshop, "Lars")
    contact = propose(workshop, karen, "Fast kontaktperson", element_index=0)
    hearing = propose(workshop, aisha, "Åben høringsliste", element_index=1)
    network = propose(workshop, lars, "Netværksmøde", element_index=1)
    move_to(workshop, "voting")
    vote(workshop, karen, contact, 3)
    vote(workshop, ole, contact, 3)
    vote(workshop, aisha, hearing, 3)
    vote(workshop, lars, network, 3)
    vote(workshop, lars, hearing, 1)
    move_to(workshop, "results")
    return workshop, contact, hearing, network


def test_anonymous_is_sent_to_login(client, voted):
    workshop = voted[0]
    for url in ("/review/", f"/review/{workshop.code}"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_a_participant_cookie_does_not_open_the_review(client, voted):
    workshop = voted[0]
    participant = join_as(make_workshop(), "Ny")
    client.set_cookie(f"samskab_p_{workshop.code}", participant.token)
    assert client.get(f"/review/{workshop.code}").status_code == 302


def test_a_reviewer_lands_on_review_and_sees_every_workshop(client, voted):
    workshop = voted[0]
    other = make_workshop(title="Silkeborg")
    reviewer = make_user("reviewer")
    response = client.post("/login", data={"email": reviewer.email, "password": PASSWORD})
    assert response.headers["Location"] == "/review/"
    page = text(client.get("/review/"))
    assert "Viborg" in page and "Silkeborg" in page
    assert "Resultater" in page
    assert f'href="/review/{workshop.code}"' in page and f'href="/review/{other.code}"' in page
    # four participants, four voters
    assert page.count('<td class="num">4</td>') == 2


def test_a_facilitator_reviews_only_their_own_workshops(client, voted):
    workshop = voted[0]
    mine = make_workshop(title="Min egen")
    login(client, mine.facilitators[0])
    page = text(client.get("/review/"))
    assert "Min egen" in page and "Viborg" not in page
    assert client.get(f"/review/{mine.code}").status_code == 200
    assert client.get(f"/review/{workshop.code}").status_code == 403


def test_ranking_in_participant_weighting(client, voted):
    workshop, contact, hearing, network = voted
    login(client, make_user("reviewer"))
    page = text(client.get(f"/review/{workshop.code}"))
    assert "Deltagervægtning betyder" in page
    ranked = rows(page)
    assert ranked[0].startswith("1 Fast kontaktperson")
    assert ranked[0].endswith("6 6 2")
    assert ranked[1].startswith("2 Åben høringsliste")
    assert ranked[2].startswith("3 Netværksmøde")
    assert 'class="bar" aria-hidden="true"><span class="w-100">' in page


def test_ranking_in_organisation_weighting_with_ties(client, voted):
    workshop, contact, hearing, network = voted
    login(client, make_user("reviewer"))
    page = text(client.get(f"/review/{workshop.code}?weighting=organisation"))
    assert "Organisationsvægtning betyder, at hver organisation tæller som én stemme" in page
    ranked = rows(page)
    # Ældre Sagen's two members count as one organisation: 3 points, 2 supporters.
    # Åben høringsliste: Aisha 3 + Lars 1 = 4 points.
    assert ranked[0].startswith("1 Åben høringsliste")
    assert ranked[1].startswith("2 Fast kontaktperson")
    assert ranked[1].endswith("3 6 2")
    assert ranked[2].startswith("3 Netværksmøde")  # same score, fewer supporters
    assert 'aria-current="page" class="current">Organisationsvægtning' in page


def test_ties_are_shown_as_ties(client):
    workshop = make_workshop(phase="ideation")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    first = propose(workshop, anna, "Lige A")
    second = propose(workshop, bo, "Lige B")
    move_to(workshop, "voting")
    vote(workshop, anna, first, 2)
    vote(workshop, bo, second, 2)
    login(client, make_user("reviewer"))
    ranked = rows(text(client.get(f"/review/{workshop.code}")))
    assert ranked[0].startswith("1 (delt) Lige A")
    assert ranked[1].startswith("1 (delt) Lige B")


def test_ranking_per_model_element(client, voted):
    workshop, _contact, hearing, network = voted
    login(client, make_user("reviewer"))
    page = text(client.get(f"/review/{workshop.code}"))
    second_element = workshop.elements[1]
    section = page[page.index(f'id="el-{second_element.id}"'):]
    section = section[:section.index("</section>")]
    assert section.index("Åben høringsliste") < section.index("Netværksmøde")
    assert "Fast kontaktperson" not in section
    empty = workshop.elements[-1]
    tail = page[page.index(f'id="el-{empty.id}"'):]
    assert "Ingen forslag at vise." in tail


def test_an_unknown_weighting_is_a_clear_400(client, voted):
    login(client, make_user("reviewer"))
    response = client.get(f"/review/{voted[0].code}?weighting=loudest")
    assert response.status_code == 400
    assert "Vægtning skal være" in text(response)


def test_an_unknown_workshop_is_not_found(client):
    login(client, make_user("reviewer"))
    assert client.get("/review/ZZZZZZ").status_code == 404


def test_hidden_proposals_are_not_ranked(client, voted):
    from tests.factories import hide

    workshop, contact, _hearing, _network = voted
    hide(workshop, contact, reason="Fjernet")
    login(client, make_user("reviewer"))
    page = text(client.get(f"/review/{workshop.code}"))
    assert "Fast kontaktperson" not in page


def test_hostile_text_is_escaped_on_the_review_pages(client):
    workshop = make_workshop(title=HOSTILE, phase="ideation")
    anna = join_as(workshop, HOSTILE, organisation=HOSTILE)
    proposal = propose(workshop, anna, HOSTILE)
    move_to(workshop, "voting")
    vote(workshop, anna, proposal, 1)
    login(client, make_user("reviewer"))
    for url in ("/review/", f"/review/{workshop.code}",
                f"/review/{workshop.code}?weighting=organisation"):
        page = text(client.get(url))
        assert "<script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
