"""A whole workshop through the JSON API: create, join, propose, comment, vote, rank."""

import pytest

from tests.factories import PASSWORD, make_user

both_databases = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)


@both_databases
def test_a_workshop_from_start_to_ranking(app, api, new_api):
    make_user("facilitator", "fac@region.dk")
    api.login("fac@region.dk", PASSWORD)
    created = api.post("/workshops", {"title": "Samarbejde", "settings": {"moderation": "post"}})
    assert created.status_code == 201, created.get_json()
    workshop = created.get_json()
    code = workshop["code"]
    assert workshop["join_url"].endswith(f"/j/{code}")
    assert len(workshop["elements"]) >= 8
    element_id = workshop["elements"][0]["id"]
    assert api.post(f"/workshops/{code}/phase", {"phase": "ideation"}).status_code == 200

    anna = new_api()
    joined = anna.post(f"/workshops/{code}/participants",
                       {"display_name": "Anna", "organisation": "Ældre Sagen",
                        "organisation_type": "association", "consent": True})
    assert joined.status_code == 201, joined.get_json()
    proposal = anna.post(f"/workshops/{code}/proposals",
                         {"title": "Fast kontaktperson", "body": "En indgang",
                          "element_id": element_id, "client_id": "c1"})
    assert proposal.status_code == 201, proposal.get_json()
    again = anna.post(f"/workshops/{code}/proposals",
                      {"title": "Fast kontaktperson", "body": "En indgang",
                       "element_id": element_id, "client_id": "c1"})
    assert again.get_json()["id"] == proposal.get_json()["id"]
    pid = proposal.get_json()["id"]
    assert anna.post(f"/proposals/{pid}/comments", {"body": "Godt"}).status_code == 201

    bo = new_api()
    assert bo.post(f"/workshops/{code}/participants",
                   {"display_name": "Bo", "consent": True}).status_code == 201
    assert api.post(f"/workshops/{code}/phase", {"phase": "voting"}).status_code == 200
    voted = anna.put(f"/workshops/{code}/votes/{pid}", {"dots": 3})
    assert voted.get_json() == {"proposal_id": pid, "dots": 3, "remaining": 2, "applied": True,
                                "mark": 0}
    over = anna.put(f"/workshops/{code}/votes/{pid}", {"dots": 4})
    assert over.status_code == 409
    assert over.get_json()["error"]["code"] == "budget_exceeded"

    results = api.get(f"/workshops/{code}/results?weighting=organisation")
    assert results.status_code == 200, results.get_json()
    ranking = results.get_json()["ranking"]
    assert ranking[0] == {"rank": 1, "proposal_id": pid, "title": "Fast kontaktperson",
                          "element_id": element_id, "score": 3.0, "supporters": 1, "dots": 3}
    assert results.get_json()["voters"] == 1  # Bo joined but did not vote


@pytest.mark.usefixtures("app")
def test_a_facilitators_comment_never_shows_their_email(isolated_api, new_isolated_api):
    from tests.factories import join_as, propose
    from workshop.domain.proposals import add_comment

    make_user("facilitator", "nameless@region.dk")
    staff = isolated_api
    staff.login("nameless@region.dk", PASSWORD)
    code = staff.post("/workshops", {"title": "W"}).get_json()["code"]
    from workshop.domain.workshops import get_workshop

    workshop = get_workshop(code)
    staff.post(f"/workshops/{code}/phase", {"phase": "ideation"})
    anna = join_as(workshop, "Anna")
    proposal = propose(workshop, anna)
    add_comment(workshop, proposal.id, "Tak for forslaget", user=workshop.facilitators[0])
    reader = new_isolated_api()
    reader.client.set_cookie(f"samskab_p_{code}", anna.token)
    comments = reader.get(f"/proposals/{proposal.id}/comments").get_json()["comments"]
    assert comments[0]["author"] == "Facilitator"
    assert "nameless@region.dk" not in str(comments)
