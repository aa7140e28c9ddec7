"""The reviewer's workshop page through every lens, the answer forms, publishing, and hostile
text shown as text."""

from __future__ import annotations

import re

import pytest

from tests.factories import (
    HOSTILE_TEXTS,
    PASSWORD,
    answer,
    facilitator_of,
    finished_workshop,
    join_as,
    make_user,
    make_workshop,
    move_to,
    propose,
    vote,
)
from workshop.domain import answers

pytestmark = pytest.mark.usefixtures("fast_passwords")


def login(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


def test_the_review_page_shows_every_lens(client):
    workshop, carried, shared, third = finished_workshop()
    login(client, make_user("reviewer"))
    page = client.get(f"/review/{workshop.code}").get_data(as_text=True)
    for expected in ("Populært og samlende", "Støtte pr. organisationstype", "Retfærdighed",
                     "Kendalls tau", "Spænd", "Konsensus", "Svar på forslagene",
                     "report.pdf", "export.csv?table=votes", "export.json",
                     "Skjult: 1 · lagt sammen: 1"):
        assert expected in page, expected
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') == 3
    assert "<script" not in page.split("</main>")[0] and "style=" not in page
    lens = page[page.index('<table class="ranking lenses">'):]
    lens = lens[:lens.index("</table>")]
    first = re.findall(r"<tr>(.*?)</tr>", lens[lens.index("<tbody>"):], flags=re.S)[0]
    assert "Foreningshus" in first
    # Every form field has a label.
    for field_id in re.findall(r'<(?:select|textarea|input)[^>]* id="([^"]+)"', page):
        assert f'for="{field_id}"' in page, field_id
    assert "Offentliggør udfaldet" not in page  # a reviewer does not publish


def test_a_reviewer_answers_from_the_page_and_a_bad_answer_is_a_clear_400(client):
    workshop, carried, *_ = finished_workshop()
    login(client, make_user("reviewer"))
    url = f"/review/{workshop.code}/proposals/{carried.id}/answer"
    bad = client.post(url, data={"status": "adopted", "reasoning": ""})
    assert bad.status_code == 400
    assert "Begrundelse skal udfyldes" in bad.get_data(as_text=True)
    assert client.post(url, data={"status": "nonsense"}).status_code == 400
    ok = client.post(url, data={"status": "not_adopted", "reasoning": "Ligger uden for rammen"})
    assert ok.status_code == 302
    assert answers.current_answers(workshop)[carried.id].status == "not_adopted"
    assert client.post(f"/review/{workshop.code}/proposals/999999/answer",
                       data={"status": "adopted", "reasoning": "x"}).status_code == 404


def test_the_facilitator_publishes_from_the_review_page(client):
    workshop, carried, *_ = finished_workshop()
    login(client, facilitator_of(workshop))
    page = client.get(f"/review/{workshop.code}").get_data(as_text=True)
    assert "Offentliggør for deltagerne" in page
    response = client.post(f"/review/{workshop.code}/publish",
                           data={"published": "1", "note": "Tak"})
    assert response.status_code == 302
    assert workshop.published_at is not None and workshop.outcome_note == "Tak"
    console = client.get(f"/facilitate/{workshop.code}").get_data(as_text=True)
    assert "offentliggjort" in console
    other = make_user("reviewer")
    client.post("/logout")
    login(client, other)
    assert client.post(f"/review/{workshop.code}/publish", data={"published": "0"}
                       ).status_code == 403


def test_the_facilitator_chooses_the_voting_method_in_the_console(client):
    workshop = make_workshop(phase="ideation")
    login(client, facilitator_of(workshop))
    response = client.post(f"/facilitate/{workshop.code}/voting-method",
                           data={"voting_method": "approval"})
    assert response.status_code == 302 and workshop.voting_method == "approval"
    bad = client.post(f"/facilitate/{workshop.code}/voting-method", data={"voting_method": "x"})
    assert bad.status_code == 400 and "Afstemningsformen skal" in bad.get_data(as_text=True)


def test_hostile_text_is_text_on_the_outcome_pages(client):
    workshop = make_workshop(title=HOSTILE_TEXTS[0], phase="ideation")
    people = [join_as(workshop, f"P{i}", organisation=t[:120], organisation_type="association")
              for i, t in enumerate(HOSTILE_TEXTS)]
    made = [propose(workshop, p, t[:120], body=t)
            for p, t in zip(people, HOSTILE_TEXTS, strict=True)]
    move_to(workshop, "voting")
    for person, proposal in zip(people, made, strict=True):
        vote(workshop, person, proposal, 1)
    move_to(workshop, "results")
    answer(workshop, made[0], "adopted", HOSTILE_TEXTS[0])
    answers.publish(workshop, facilitator_of(workshop), True, HOSTILE_TEXTS[0])
    login(client, make_user("reviewer"))
    for url in (f"/review/{workshop.code}", "/review/model"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<bdi>abc\u202edcba</bdi>" in page or url.endswith("model")
    svg = page  # the charts carry bidi controls written out
    page = client.get(f"/review/{workshop.code}").get_data(as_text=True)
    assert "abc[U+202E]dcba" in page and "style=" not in svg
    client.post("/logout")
    client.set_cookie(f"samskab_p_{workshop.code}", people[0].token)
    mine = client.get(f"/w/{workshop.code}").get_data(as_text=True)
    assert "Workshoppens udfald" in mine and "<script>alert" not in mine
