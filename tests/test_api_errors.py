"""Every error of the JSON API: status, `{error: {code, message}}`, never a 500, and after a
refused request nothing was written."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import Api
from tests.factories import PASSWORD, join_as, make_user, make_workshop, move_to, propose, vote
from workshop.extensions import db

pytestmark = pytest.mark.usefixtures("fast_passwords")


# --- Helpers ------------------------------------------------------------------------------------


def snapshot() -> dict:
    """Every row of every table, read on a connection of its own (what is committed)."""
    db.session.expire_all()
    with db.engine.connect() as conn:
        return {
            table.name: conn.execute(
                select(table).order_by(*table.primary_key.columns)).all()
            for table in db.metadata.sorted_tables
        }


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"].strip()
    return body["error"]


def refused(call, status: int, code: str) -> dict:
    """Make a request that must be refused; check the answer and that nothing was written."""
    before = snapshot()
    error = assert_error(call(), status, code)
    assert not (db.session.new or db.session.dirty or db.session.deleted)
    assert snapshot() == before
    return error


def participant_api(new_api, workshop, participant, cookie_code: str | None = None) -> Api:
    """A phone holding this participant's cookie (under another workshop's name if asked)."""
    person = new_api()
    person.client.set_cookie(f"samskab_p_{cookie_code or workshop.code}", participant.token)
    return person


@pytest.fixture
def api(isolated_api):
    return isolated_api


@pytest.fixture
def new_api(new_isolated_api):
    return new_isolated_api


@pytest.fixture
def world(app, api, new_api):
    """Workshop A in ideation with a proposal by Anna; workshop B by another facilitator."""
    facilitator = make_user("facilitator", "fac@region.dk")
    workshop = make_workshop(facilitator, phase="ideation")
    anna = join_as(workshop, "Anna", "Ældre Sagen", "association")
    proposal = propose(workshop, anna, "Fast kontaktperson")
    other_facilitator = make_user("facilitator", "other@region.dk")
    other = make_workshop(other_facilitator, phase="ideation")
    bo = join_as(other, "Bo")
    api.login("fac@region.dk")
    return {
        "workshop": workshop, "code": workshop.code, "proposal": proposal,
        "element_id": workshop.elements[0].id, "anna": anna,
        "anna_api": participant_api(new_api, workshop, anna),
        "other": other, "bo": bo, "bo_api": participant_api(new_api, other, bo),
        "facilitator": api,
    }


# --- 400 invalid: not JSON, not an object -------------------------------------------------------


def writes(world):
    """(method, path, a valid-looking body, who sends it) for the state-changing endpoints."""
    code, pid, eid = world["code"], world["proposal"].id, world["element_id"]
    fac, anna = world["facilitator"], world["anna_api"]
    return [
        ("post", "/auth/login", {"email": "fac@region.dk", "password": PASSWORD}, fac),
        ("post", "/workshops", {"title": "Ny"}, fac),
        ("patch", f"/workshops/{code}", {"title": "Ny"}, fac),
        ("post", f"/workshops/{code}/phase", {"phase": "review"}, fac),
        ("post", f"/workshops/{code}/elements", {"title": "Nyt"}, fac),
        ("patch", f"/workshops/{code}/elements/{eid}", {"title": "Nyt"}, fac),
        ("post", f"/workshops/{code}/elements/{eid}/move", {"offset": 1}, fac),
        ("post", f"/workshops/{code}/participants", {"display_name": "C", "consent": True}, anna),
        ("post", f"/workshops/{code}/proposals", {"title": "T", "body": "", "element_id": eid},
         anna),
        ("patch", f"/proposals/{pid}", {"title": "Ny"}, anna),
        ("post", f"/proposals/{pid}/withdraw", {}, anna),
        ("post", f"/proposals/{pid}/comments", {"body": "Godt"}, anna),
        ("post", f"/proposals/{pid}/moderation", {"action": "hide", "reason": "x"}, fac),
        ("put", f"/workshops/{code}/votes/{pid}", {"dots": 1}, anna),
    ]


NOT_JSON_OBJECTS = ["{not json", "", "[1, 2]", '"text"', "null", "3", "{'a': 1}", '{"a": 1',
                    "\xff\xfe{"]


def test_a_body_that_is_not_a_json_object_is_invalid(world):
    for raw in NOT_JSON_OBJECTS:
        for method, path, _body, who in writes(world):
            if path.endswith("/withdraw"):
                continue  # its body is not read
            refused(lambda method=method, path=path, who=who, raw=raw: who._call(
                method.upper(), path, data=raw, content_type="application/json"),
                400, "invalid")


def test_a_write_that_is_not_json_is_refused_with_415(world):
    for content_type in ("text/plain", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x", None):
        for method, path, _body, who in writes(world):
            kwargs = {"data": "title=x"}
            if content_type:
                kwargs["content_type"] = content_type
            refused(lambda method=method, path=path, who=who, kwargs=kwargs: who.client.open(
                "/api/v1" + path, method=method.upper(), **kwargs), 415, "invalid")


def test_a_write_from_another_sites_origin_is_refused(world):
    for method, path, body, who in writes(world):
        for origin in ("https://evil.example", "http://localhost.evil.example",
                       "http://localhost:8080", "null"):
            refused(lambda method=method, path=path, body=body, who=who, origin=origin:
                    who._call(method.upper(), path, body, headers={"Origin": origin}),
                    403, "forbidden")


def test_the_apps_own_origin_is_allowed(world):
    response = world["anna_api"].post(
        f"/workshops/{world['code']}/proposals",
        {"title": "Ok", "body": "", "element_id": world["element_id"]},
        headers={"Origin": "http://localhost"})
    assert response.status_code == 201, response.get_json()


# --- 400 invalid: fields of the wrong type, missing or too long ---------------------------------


def field_cases(world):
    code, pid, eid = world["code"], world["proposal"].id, world["element_id"]
    fac, anna = world["facilitator"], world["anna_api"]
    proposal_path = f"/workshops/{code}/proposals"
    vote_path = f"/workshops/{code}/votes/{pid}"
    join_path = f"/workshops/{code}/participants"
    ok_join = {"display_name": "Cille", "consent": True}
    ok_proposal = {"title": "Titel", "body": "", "element_id": eid}
    return [
        # Creating a workshop
        ("post", "/workshops", {}, fac),
        ("post", "/workshops", {"title": 5}, fac),
        ("post", "/workshops", {"title": "x" * 201}, fac),
        ("post", "/workshops", {"title": "  "}, fac),
        ("post", "/workshops", {"title": "T", "template": 5}, fac),
        ("post", "/workshops", {"title": "T", "template": "nope"}, fac),
        ("post", "/workshops", {"title": "T", "settings": "many"}, fac),
        ("post", "/workshops", {"title": "T", "settings": [1]}, fac),
        ("post", "/workshops", {"title": "T", "settings": {"dots_per_participant": "5"}}, fac),
        ("post", "/workshops", {"title": "T", "settings": {"dots_per_participant": True}}, fac),
        ("post", "/workshops", {"title": "T", "settings": {"max_dots_per_proposal": 0}}, fac),
        ("post", "/workshops", {"title": "T", "settings": {"moderation": "sometimes"}}, fac),
        ("post", "/workshops", {"title": "T", "settings": {"bogus": 1}}, fac),
        ("post", "/workshops", {"title": "T", "description": ["x"]}, fac),
        ("patch", f"/workshops/{code}", {"settings": "x"}, fac),
        ("patch", f"/workshops/{code}", {"title": 7}, fac),
        # Phases and elements
        ("post", f"/workshops/{code}/phase", {}, fac),
        ("post", f"/workshops/{code}/phase", {"phase": 5}, fac),
        ("post", f"/workshops/{code}/phase", {"phase": ["voting"]}, fac),
        ("post", f"/workshops/{code}/phase", {"phase": "done"}, fac),
        ("post", f"/workshops/{code}/elements", {}, fac),
        ("post", f"/workshops/{code}/elements", {"title": 5}, fac),
        ("post", f"/workshops/{code}/elements", {"title": "x" * 121}, fac),
        ("post", f"/workshops/{code}/elements", {"title": "T", "description": "x" * 1001}, fac),
        ("post", f"/workshops/{code}/elements/{eid}/move", {}, fac),
        ("post", f"/workshops/{code}/elements/{eid}/move", {"offset": "1"}, fac),
        ("post", f"/workshops/{code}/elements/{eid}/move", {"offset": True}, fac),
        # Joining
        (
            "post", join_path, {"consent": True}, anna),
        ("post", join_path, {"display_name": 5, "consent": True}, anna),
        ("post", join_path, {"display_name": "x" * 81, "consent": True}, anna),
        ("post", join_path, {"display_name": "Cille"}, anna),
        ("post", join_path, {**ok_join, "consent": "true"}, anna),
        ("post", join_path, {**ok_join, "consent": False}, anna),
        ("post", join_path, {**ok_join, "organisation": 5}, anna),
        ("post", join_path, {**ok_join, "organisation": "x" * 121}, anna),
        ("post", join_path, {**ok_join, "organisation_type": "company"}, anna),
        ("post", join_path, {**ok_join, "organisation_type": 5}, anna),
        ("post", join_path, {**ok_join, "organisation_type": ["citizen"]}, anna),
        # Proposals
        ("post", proposal_path, {"body": "", "element_id": eid}, anna),
        ("post", proposal_path, {**ok_proposal, "title": 5}, anna),
        ("post", proposal_path, {**ok_proposal, "title": "x" * 121}, anna),
        ("post", proposal_path, {**ok_proposal, "body": "x" * 2001}, anna),
        ("post", proposal_path, {**ok_proposal, "body": {"a": 1}}, anna),
        ("post", proposal_path, {**ok_proposal, "element_id": "1"}, anna),
        ("post", proposal_path, {**ok_proposal, "element_id": str(eid)}, anna),
        ("post", proposal_path, {**ok_proposal, "element_id": True}, anna),
        ("post", proposal_path, {**ok_proposal, "element_id": None}, anna),
        ("post", proposal_path, {**ok_proposal, "element_id": 10**9}, anna),
        ("post", proposal_path, {**ok_proposal, "element_id": 2**70}, anna),
        ("post", proposal_path, {**ok_proposal, "client_id": 5}, anna),
        ("post", proposal_path, {**ok_proposal, "client_id": "x" * 65}, anna),
        ("patch", f"/proposals/{pid}", {"title": 5}, anna),
        ("patch", f"/proposals/{pid}", {"title": "x" * 121}, anna),
        ("patch", f"/proposals/{pid}", {"element_id": "1"}, anna),
        # Comments
        ("post", f"/proposals/{pid}/comments", {}, anna),
        ("post", f"/proposals/{pid}/comments", {"body": 5}, anna),
        ("post", f"/proposals/{pid}/comments", {"body": "x" * 1001}, anna),
        ("post", f"/proposals/{pid}/comments", {"body": "Godt", "client_id": 5}, anna),
        # Moderation
        ("post", f"/proposals/{pid}/moderation", {}, fac),
        ("post", f"/proposals/{pid}/moderation", {"action": 5}, fac),
        ("post", f"/proposals/{pid}/moderation", {"action": "delete"}, fac),
        ("post", f"/proposals/{pid}/moderation", {"action": "hide"}, fac),
        ("post", f"/proposals/{pid}/moderation", {"action": "hide", "reason": 5}, fac),
        ("post", f"/proposals/{pid}/moderation", {"action": "hide", "reason": "x" * 501}, fac),
        ("post", f"/proposals/{pid}/moderation", {"action": "merge"}, fac),
        ("post", f"/proposals/{pid}/moderation", {"action": "merge", "into": "1"}, fac),
        ("post", f"/proposals/{pid}/moderation", {"action": "merge", "into": pid}, fac),
        ("post", f"/proposals/{pid}/moderation", {"action": "edit", "title": 5}, fac),
        # Votes (in ideation: the type is checked before the phase)
        ("put", vote_path, {}, anna),
        ("put", vote_path, {"dots": "3"}, anna),
        ("put", vote_path, {"dots": True}, anna),
        ("put", vote_path, {"dots": 1.5}, anna),
        ("put", vote_path, {"dots": None}, anna),
        ("put", vote_path, {"dots": -1}, anna),
        ("put", vote_path, {"dots": [1]}, anna),
        # Login
        ("post", "/auth/login", {"email": ["fac@region.dk"], "password": PASSWORD}, fac),
    ]


def test_wrong_types_missing_and_too_long_fields_are_invalid(world):
    failures = []
    for method, path, body, who in field_cases(world):
        before = snapshot()
        response = who._call(method.upper(), path, body)
        expected = 401 if path == "/auth/login" else 400
        if response.status_code != expected or snapshot() != before:
            failures.append((method, path, body, response.status_code, response.get_json()))
            continue
        assert_error(response, expected, "unauthenticated" if expected == 401 else "invalid")
    assert failures == []


def test_an_invalid_answer_names_the_field(world):
    response = world["anna_api"].post(f"/workshops/{world['code']}/proposals",
                                      {"title": "x" * 121, "element_id": world["element_id"]})
    assert assert_error(response, 400, "invalid")["code"] == "invalid"
    assert response.get_json()["error"].get("field") == "title"


def test_an_unknown_weighting_is_invalid(world):
    assert_error(world["facilitator"].get(f"/workshops/{world['code']}/results?weighting=votes"),
                 400, "invalid")


def test_a_body_over_the_size_limit_is_refused(world):
    big = {"title": "T", "body": "x" * (70 * 1024), "element_id": world["element_id"]}
    response = world["anna_api"].post(f"/workshops/{world['code']}/proposals", big)
    assert 400 <= response.status_code < 500
    assert response.get_json()["error"]["code"] == "invalid"


# --- 401 unauthenticated ------------------------------------------------------------------------


def test_no_staff_session_or_participant_cookie_is_unauthenticated(world, new_api):
    code, pid, eid = world["code"], world["proposal"].id, world["element_id"]
    stranger = new_api()
    for method, path, body in [
        ("get", "/auth/me", None),
        ("get", "/workshops", None),
        ("post", "/workshops", {"title": "Ny"}),
        ("patch", f"/workshops/{code}", {"title": "Ny"}),
        ("post", f"/workshops/{code}/phase", {"phase": "review"}),
        ("post", f"/workshops/{code}/elements", {"title": "Nyt"}),
        ("delete", f"/workshops/{code}/elements/{eid}", None),
        ("get", f"/workshops/{code}/participants", None),
        ("get", f"/workshops/{code}/participants/me", None),
        ("post", f"/workshops/{code}/proposals", {"title": "T", "element_id": eid}),
        ("get", f"/workshops/{code}/proposals", None),
        ("patch", f"/proposals/{pid}", {"title": "Ny"}),
        ("post", f"/proposals/{pid}/withdraw", {}),
        ("get", f"/proposals/{pid}/comments", None),
        ("post", f"/proposals/{pid}/comments", {"body": "Hej"}),
        ("post", f"/proposals/{pid}/moderation", {"action": "hide", "reason": "x"}),
        ("put", f"/workshops/{code}/votes/{pid}", {"dots": 1}),
        ("get", f"/workshops/{code}/votes", None),
        ("get", f"/workshops/{code}/results", None),
    ]:
        refused(lambda method=method, path=path, body=body: stranger._call(
            method.upper(), path, body), 401, "unauthenticated")


def test_a_participant_cookie_is_not_a_staff_session(world):
    refused(lambda: world["anna_api"].post(f"/proposals/{world['proposal'].id}/moderation",
                                           {"action": "hide", "reason": "x"}),
            401, "unauthenticated")
    refused(lambda: world["anna_api"].post("/workshops", {"title": "Ny"}), 401, "unauthenticated")


def test_a_wrong_password_is_unauthenticated_and_gives_no_session(world, new_api):
    person = new_api()
    for body in ({"email": "fac@region.dk", "password": "wrong-horse"},
                 {"email": "nobody@region.dk", "password": PASSWORD}, {}):
        refused(lambda body=body: person.post("/auth/login", body), 401, "unauthenticated")
    assert_error(person.get("/auth/me"), 401, "unauthenticated")


def test_an_unknown_participant_token_is_unauthenticated(world, new_api):
    person = new_api()
    person.client.set_cookie(f"samskab_p_{world['code']}", "made-up-token")
    refused(lambda: person.put(f"/workshops/{world['code']}/votes/{world['proposal'].id}",
                               {"dots": 1}), 401, "unauthenticated")


def test_after_logout_the_session_is_gone(world):
    fac = world["facilitator"]
    assert fac.post("/auth/logout").status_code == 200
    refused(lambda: fac.post("/workshops", {"title": "Ny"}), 401, "unauthenticated")


# --- 403 forbidden ------------------------------------------------------------------------------


def test_a_reviewer_cannot_create_or_facilitate(world, new_api):
    make_user("reviewer", "rev@region.dk")
    reviewer = new_api()
    reviewer.login("rev@region.dk")
    code, pid = world["code"], world["proposal"].id
    for method, path, body in [
        ("post", "/workshops", {"title": "Ny"}),
        ("patch", f"/workshops/{code}", {"title": "Ny"}),
        ("post", f"/workshops/{code}/phase", {"phase": "review"}),
        ("post", f"/workshops/{code}/elements", {"title": "Nyt"}),
        ("get", f"/workshops/{code}/participants", None),
        ("post", f"/proposals/{pid}/moderation", {"action": "hide", "reason": "x"}),
        ("post", f"/proposals/{pid}/comments", {"body": "Hej"}),
    ]:
        refused(lambda method=method, path=path, body=body: reviewer._call(
            method.upper(), path, body), 403, "forbidden")
    # Reading the outcome is what reviewers are for.
    assert reviewer.get(f"/workshops/{code}/results").status_code == 200


def test_a_facilitator_of_another_workshop_is_forbidden(world, new_api):
    other_fac = new_api()
    other_fac.login("other@region.dk")
    code, pid, eid = world["code"], world["proposal"].id, world["element_id"]
    for method, path, body in [
        ("patch", f"/workshops/{code}", {"title": "Ny"}),
        ("post", f"/workshops/{code}/phase", {"phase": "review"}),
        ("post", f"/workshops/{code}/elements", {"title": "Nyt"}),
        ("patch", f"/workshops/{code}/elements/{eid}", {"title": "Nyt"}),
        ("post", f"/workshops/{code}/elements/{eid}/move", {"offset": 1}),
        ("delete", f"/workshops/{code}/elements/{eid}", None),
        ("get", f"/workshops/{code}/participants", None),
        ("post", f"/proposals/{pid}/moderation", {"action": "hide", "reason": "x"}),
        ("post", f"/proposals/{pid}/comments", {"body": "Hej"}),
        ("get", f"/workshops/{code}/results", None),
    ]:
        refused(lambda method=method, path=path, body=body: other_fac._call(
            method.upper(), path, body), 403, "forbidden")
    # And the staff-only fields stay hidden from them.
    assert "facilitators" not in other_fac.get(f"/workshops/{code}").get_json()


def test_a_participant_token_of_another_workshop_is_forbidden(world, new_api):
    """Bo joined workshop B; his token, put in A's cookie name, is refused on A's endpoints."""
    workshop, bo = world["workshop"], world["bo"]
    code, pid, eid = world["code"], world["proposal"].id, world["element_id"]
    move_to(workshop, "voting")
    as_a = participant_api(new_api, workshop, bo, cookie_code=code)
    under_own_name = world["bo_api"]
    for person in (as_a, under_own_name):
        for method, path, body in [
            ("put", f"/workshops/{code}/votes/{pid}", {"dots": 1}),
            ("get", f"/workshops/{code}/votes", None),
            ("get", f"/workshops/{code}/proposals", None),
            ("get", f"/workshops/{code}/participants/me", None),
            ("get", f"/proposals/{pid}/comments", None),
            ("get", f"/workshops/{code}/results", None),
        ]:
            refused(lambda method=method, path=path, body=body, person=person: person._call(
                method.upper(), path, body), 403, "forbidden")
    # Back in ideation, proposals and comments are refused the same way.
    from workshop.domain import workshops

    workshops.set_phase(workshop, workshop.facilitators[0], "review")
    workshops.set_phase(workshop, workshop.facilitators[0], "ideation")
    for person in (as_a, under_own_name):
        refused(lambda person=person: person.post(
            f"/workshops/{code}/proposals", {"title": "T", "element_id": eid}),
            403, "forbidden")
        refused(lambda person=person: person.post(f"/proposals/{pid}/comments", {"body": "Hej"}),
                403, "forbidden")


def test_a_participant_cannot_edit_or_withdraw_anothers_proposal(world, new_api):
    cille = participant_api(new_api, world["workshop"], join_as(world["workshop"], "Cille"))
    pid = world["proposal"].id
    refused(lambda: cille.patch(f"/proposals/{pid}", {"title": "Mit"}), 403, "forbidden")
    refused(lambda: cille.post(f"/proposals/{pid}/withdraw", {}), 403, "forbidden")


# --- 404 not_found ------------------------------------------------------------------------------


def test_unknown_workshops_proposals_and_routes_are_not_found(world):
    anna, fac = world["anna_api"], world["facilitator"]
    code = world["code"]
    for who, method, path, body in [
        (fac, "get", "/workshops/ZZZZZZ", None),
        (fac, "post", "/workshops/ZZZZZZ/phase", {"phase": "review"}),
        (anna, "post", "/workshops/ZZZZZZ/participants", {"display_name": "A", "consent": True}),
        (anna, "get", "/workshops/ZZZZZZ/votes", None),
        (fac, "post", "/proposals/999999/moderation", {"action": "hide", "reason": "x"}),
        (anna, "post", "/proposals/999999/comments", {"body": "Hej"}),
        (anna, "patch", "/proposals/999999", {"title": "Hej"}),
        (anna, "get", "/proposals/999999/comments", None),
        (fac, "get", "/nowhere", None),
        (fac, "post", "/nowhere", {}),
        (fac, "get", f"/workshops/{code}/votes/abc", None),
        (anna, "put", f"/workshops/{code}/votes/{10**20}", {"dots": 1}),
        (anna, "post", f"/proposals/{10**20}/comments", {"body": "Hej"}),
        (fac, "post", f"/proposals/{2**31}/moderation", {"action": "hide", "reason": "x"}),
    ]:
        refused(lambda who=who, method=method, path=path, body=body: who._call(
            method.upper(), path, body), 404, "not_found")


def test_a_proposal_of_another_workshop_is_not_found_here(world):
    other = world["other"]
    foreign = propose(other, world["bo"], "Fremmed")
    move_to(world["workshop"], "voting")
    refused(lambda: world["anna_api"].put(f"/workshops/{world['code']}/votes/{foreign.id}",
                                          {"dots": 1}), 404, "not_found")


def test_a_pending_proposal_is_not_found_for_others(app, new_api):
    workshop = make_workshop(phase="ideation", moderation="pre")
    pending = propose(workshop, join_as(workshop, "Anna"))
    bo = participant_api(new_api, workshop, join_as(workshop, "Bo"))
    refused(lambda: bo.get(f"/proposals/{pending.id}/comments"), 404, "not_found")
    refused(lambda: bo.post(f"/proposals/{pending.id}/comments", {"body": "Hm"}),
            404, "not_found")
    assert [p["id"] for p in bo.get(f"/workshops/{workshop.code}/proposals")
            .get_json()["proposals"]] == []


def test_a_wrong_method_is_a_json_error(world):
    response = world["facilitator"].delete("/workshops")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


# --- 409 wrong_phase, budget_exceeded, closed ---------------------------------------------------


def test_actions_outside_their_phase_are_wrong_phase(world):
    workshop, anna, fac = world["workshop"], world["anna_api"], world["facilitator"]
    code, pid, eid = world["code"], world["proposal"].id, world["element_id"]
    refused(lambda: anna.put(f"/workshops/{code}/votes/{pid}", {"dots": 1}), 409, "wrong_phase")
    refused(lambda: anna.get(f"/workshops/{code}/results"), 409, "wrong_phase")
    move_to(workshop, "voting")
    refused(lambda: anna.post(f"/workshops/{code}/proposals", {"title": "T", "element_id": eid}),
            409, "wrong_phase")
    refused(lambda: anna.post(f"/proposals/{pid}/comments", {"body": "Hej"}), 409, "wrong_phase")
    refused(lambda: anna.patch(f"/proposals/{pid}", {"title": "Ny"}), 409, "wrong_phase")
    refused(lambda: anna.post(f"/proposals/{pid}/withdraw", {}), 409, "wrong_phase")
    refused(lambda: fac.post(f"/workshops/{code}/elements", {"title": "Nyt"}), 409, "wrong_phase")
    refused(lambda: fac.post(f"/workshops/{code}/phase", {"phase": "ideation"}),
            409, "wrong_phase")
    refused(lambda: fac.patch(f"/workshops/{code}", {"settings": {"dots_per_participant": 9}}),
            409, "wrong_phase")


def test_over_the_cap_or_the_budget_is_budget_exceeded(world):
    workshop, anna, code = world["workshop"], world["anna_api"], world["code"]
    second = propose(workshop, world["anna"], "Andet")
    move_to(workshop, "voting")
    pid = world["proposal"].id
    refused(lambda: anna.put(f"/workshops/{code}/votes/{pid}", {"dots": 4}), 409,
            "budget_exceeded")
    assert anna.put(f"/workshops/{code}/votes/{pid}", {"dots": 3}).status_code == 200
    refused(lambda: anna.put(f"/workshops/{code}/votes/{second.id}", {"dots": 3}), 409,
            "budget_exceeded")
    assert anna.get(f"/workshops/{code}/votes").get_json()["remaining"] == 2


def test_a_closed_workshop_answers_closed(world, new_api):
    workshop, fac, code = world["workshop"], world["facilitator"], world["code"]
    move_to(workshop, "closed")
    newcomer = new_api()
    refused(lambda: newcomer.post(f"/workshops/{code}/participants",
                                  {"display_name": "Sent", "consent": True}), 409, "closed")
    refused(lambda: fac.post(f"/workshops/{code}/phase", {"phase": "results"}), 409, "closed")
    refused(lambda: fac.post(f"/proposals/{world['proposal'].id}/moderation",
                             {"action": "hide", "reason": "x"}), 409, "closed")
    refused(lambda: fac.patch(f"/workshops/{code}", {"title": "Ny"}), 409, "closed")


# --- 429 rate_limited ---------------------------------------------------------------------------


RATE_LIMITED = pytest.mark.app_config({
    "RATELIMIT_ENABLED": True, "RATELIMIT_LOGIN": "3 per minute",
    "RATELIMIT_PARTICIPANT_WRITE": "2 per minute", "RATELIMIT_STORAGE_URI": "memory://"})


@RATE_LIMITED
def test_too_many_logins_are_rate_limited(app, new_api):
    make_user("facilitator", "fac@region.dk")
    person = new_api()
    for _ in range(3):
        refused(lambda: person.post("/auth/login", {"email": "fac@region.dk",
                                                    "password": "nope"}), 401, "unauthenticated")
    response = refused(lambda: person.post("/auth/login", {"email": "fac@region.dk",
                                                           "password": PASSWORD}),
                       429, "rate_limited")
    assert response
    assert person.post("/auth/login", {"email": "fac@region.dk", "password": PASSWORD}
                       ).headers.get("Retry-After")
    assert_error(person.get("/auth/me"), 401, "unauthenticated")


@RATE_LIMITED
def test_too_many_proposals_from_one_participant_are_rate_limited(app, new_api):
    workshop = make_workshop(phase="ideation")
    person = participant_api(new_api, workshop, join_as(workshop, "Anna"))
    path = f"/workshops/{workshop.code}/proposals"
    for i in range(2):
        body = {"title": f"T{i}", "element_id": workshop.elements[0].id}
        assert person.post(path, body).status_code == 201
    refused(lambda: person.post(path, {"title": "T3", "element_id": workshop.elements[0].id}),
            429, "rate_limited")
    # Another participant on the same address still has their own allowance.
    other = participant_api(new_api, workshop, join_as(workshop, "Bo"))
    assert other.post(path, {"title": "Bo", "element_id": workshop.elements[0].id}
                      ).status_code == 201


# --- The shape of every error -------------------------------------------------------------------


def test_no_error_leaks_a_stack_trace_or_html(world):
    fac = world["facilitator"]
    for response in (fac.get("/nowhere"), fac._call("POST", "/workshops", data="<html>",
                                                     content_type="application/json")):
        text = response.get_data(as_text=True)
        assert "Traceback" not in text and "<html" not in text.lower()


def test_a_vote_after_the_budget_is_spent_is_still_a_clean_409(world):
    workshop = world["workshop"]
    others = [propose(workshop, world["anna"], f"P{i}") for i in range(3)]
    move_to(workshop, "voting")
    for proposal, dots in zip(others, (3, 2), strict=False):
        vote(workshop, world["anna"], proposal, dots)
    refused(lambda: world["anna_api"].put(f"/workshops/{world['code']}/votes/{others[2].id}",
                                          {"dots": 1}), 409, "budget_exceeded")
