"""Hostile text in every field a person can fill is shown as text on every page, and the JSON
API gives it back as data, unchanged."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD, join_as, make_user, make_workshop, move_to
from workshop.domain import facilitation, moderation, proposals, workshops
from workshop.extensions import db
from workshop.models import User

pytestmark = pytest.mark.usefixtures("fast_passwords")

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
LINK = '<a href="javascript:alert(3)">x</a>'
RTL = "\u202eevil\u202c"
EMOJI = "🙂👩🏽‍⚕️"
LONG_WORD = "A" * 70


def hostile(limit: int, tag: str) -> str:
    """As much hostility as fits the field, with a tag to find it by."""
    text = f"{tag}{SCRIPT}{IMG}{LINK}{RTL}{EMOJI}{LONG_WORD}"
    return text[:limit]


# What must never appear raw in a page: these would run or navigate.
DANGEROUS = ("<script>alert", "<img src=x onerror", 'href="javascript:', "onerror=alert(2)>")


def assert_shown_as_text(html: str, page: str):
    for raw in DANGEROUS:
        assert raw not in html, f"{page}: {raw!r} is in the page unescaped"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, f"{page}: the text is not shown"


@pytest.fixture
def hostile_world(app):
    user = make_user("facilitator", name=hostile(120, "U"))
    reviewer = make_user("reviewer")
    workshop = make_workshop(user, title=hostile(200, "T"), phase=None)
    workshops.update_workshop(workshop, user, {"description": hostile(2000, "D")})
    workshops.add_element(workshop, user, hostile(120, "E"), hostile(1000, "ED"))
    move_to(workshop, "ideation")
    ane = join_as(workshop, hostile(80, "N"), hostile(120, "O"), "association")
    bo = join_as(workshop, hostile(80, "M"))
    element_id = workshop.elements[-1].id
    proposal, _ = proposals.submit_proposal(workshop, ane, hostile(120, "P"), hostile(2000, "B"),
                                            element_id)
    second, _ = proposals.submit_proposal(workshop, bo, hostile(120, "Q"), "", element_id)
    proposals.add_comment(workshop, proposal.id, hostile(1000, "C"), participant=bo)
    proposals.add_comment(workshop, proposal.id, hostile(1000, "F"), user=user)
    moderation.moderate(workshop, user, second.id, "hide", reason=hostile(500, "R"))
    facilitation.set_spotlight(workshop, user, proposal.id)
    return {"workshop": workshop, "user": user, "reviewer": reviewer, "ane": ane, "bo": bo,
            "proposal": proposal}


def logged_in(app, user):
    client = app.test_client()
    assert client.post("/api/v1/auth/login", json={"email": user.email,
                                                   "password": PASSWORD}).status_code == 200
    return client


def participant_client(app, workshop, participant):
    client = app.test_client()
    client.set_cookie(f"samskab_p_{workshop.code}", participant.token)
    return client


@pytest.mark.parametrize("phase", ["ideation", "voting", "results"])
def test_hostile_text_is_text_on_every_page(app, hostile_world, phase):
    w = hostile_world
    workshop = w["workshop"]
    move_to(workshop, phase)
    code = workshop.code
    ane = participant_client(app, workshop, w["ane"])
    facilitator = logged_in(app, w["user"])
    reviewer = logged_in(app, w["reviewer"])
    pages = {
        "join": (app.test_client(), f"/j/{code}"),
        "participant": (ane, f"/w/{code}"),
        "own data": (ane, f"/w/{code}/mine"),
        "console": (facilitator, f"/facilitate/{code}"),
        "facilitator's list": (facilitator, "/facilitate/"),
        "delete": (facilitator, f"/facilitate/{code}/delete"),
        "presenter": (app.test_client(), f"/present/{code}?key={workshop.presenter_key}"),
        "review list": (reviewer, "/review/"),
        "review": (reviewer, f"/review/{code}"),
    }
    for name, (client, url) in pages.items():
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        assert_shown_as_text(response.get_data(as_text=True), name)


def test_hostile_text_in_the_login_form_and_its_errors_is_text(app):
    client = app.test_client()
    response = client.post("/login", data={"email": f"x{SCRIPT}{IMG}@region.dk",
                                           "password": SCRIPT})
    assert response.status_code == 400
    assert_shown_as_text(response.get_data(as_text=True), "login")
    joining = make_workshop(phase="ideation")
    response = client.post(f"/j/{joining.code}", data={"display_name": SCRIPT + "x" * 100,
                                                       "organisation": IMG, "consent": "y"})
    assert response.status_code == 400  # too long: shown back in the form, as text
    assert_shown_as_text(response.get_data(as_text=True), "join error")


def test_the_api_gives_hostile_text_back_as_data(app, hostile_world):
    w = hostile_world
    workshop, proposal = w["workshop"], w["proposal"]
    ane = participant_client(app, workshop, w["ane"])
    listed = ane.get(f"/api/v1/workshops/{workshop.code}/proposals").get_json()["proposals"]
    mine = next(p for p in listed if p["id"] == proposal.id)
    assert mine["title"] == hostile(120, "P") and mine["body"] == hostile(2000, "B")
    comments = ane.get(f"/api/v1/proposals/{proposal.id}/comments").get_json()["comments"]
    assert hostile(1000, "C") in [c["body"] for c in comments]
    me = ane.get(f"/api/v1/workshops/{workshop.code}/participants/me").get_json()
    assert me["participant"]["display_name"] == hostile(80, "N")
    assert me["participant"]["organisation"] == hostile(120, "O")
    info = app.test_client().get(f"/api/v1/workshops/{workshop.code}")
    assert info.mimetype == "application/json"
    assert info.get_json()["title"] == hostile(200, "T")
    # JSON, never HTML: a browser opening the URL does not render it.
    assert info.headers["X-Content-Type-Options"] == "nosniff"
    staff = logged_in(app, w["user"]).get(f"/api/v1/workshops/{workshop.code}/participants")
    names = [p["display_name"] for p in staff.get_json()["participants"]]
    assert hostile(80, "N") in names
    assert db.session.get(User, w["user"].id).name == hostile(120, "U")
