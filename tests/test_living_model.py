"""The living model: each element of the generic model with what workshops adopted into it."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD, answer, finished_workshop, make_user

pytestmark = pytest.mark.usefixtures("fast_passwords")


def test_the_model_gathers_adopted_and_considered_proposals_across_workshops(client):
    first, carried, shared, third = finished_workshop("Viborg")
    second, carried2, shared2, third2 = finished_workshop("Silkeborg")
    answer(first, shared, "adopted", "Indgangen bygges")
    answer(second, carried2, "partly_adopted", "Huset deles")
    answer(second, third2, "under_consideration", "")
    answer(first, third, "not_adopted", "Findes allerede")
    reviewer = make_user("reviewer")
    client.post("/login", data={"email": reviewer.email, "password": PASSWORD})
    page = client.get("/review/model").get_data(as_text=True)
    element0, element1 = first.elements[0].title, first.elements[1].title
    section0 = page[page.index(element0):page.index(element1)]
    assert "Foreningshus" in section0 and "Silkeborg" in section0 and "Huset deles" in section0
    section1 = page[page.index(element1):]
    section1 = section1[:section1.index("</section>")]
    adopted, considering = section1.split("Under overvejelse")
    assert "Fælles indgang" in adopted and "Viborg, plads 2" in adopted
    assert "Netværk" in considering and "Findes allerede" not in page
    assert client.get("/review/model?template=blank").status_code == 404
    assert client.get("/review/model?template=nope").status_code == 404
