"""Who may do what, for every route of the app and every socket event, read from the app itself.

The routes come from `app.url_map` and the events from the Socket.IO server's handlers, so a
new route or event without a line in the table below fails the test until someone decides who
may use it. Each is tried by every role in a fresh world (one workshop "ours" and one "theirs"):

    anonymous          nobody: no cookie, no login
    participant        joined our workshop
    participant_other  joined the other workshop (their cookie is sent to ours)
    facilitator        facilitates our workshop
    facilitator_other  facilitates only the other workshop
    reviewer           a politician or official (reads every workshop's outcomes)
    admin              may do everything
    presenter          nobody, holding our presenter screen's secret link (?key=...)

"Allowed" means the request got past the rights check: it may still be refused for the phase or
its content (400, 409), but not with 401/403/404 or a redirect to the login or join page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.factories import (
    PASSWORD,
    join_as,
    make_user,
    make_workshop,
    move_to,
    propose,
)
from workshop.extensions import db, socketio
from workshop.live.broadcaster import NAMESPACE
from workshop.models import Comment, Proposal

pytestmark = pytest.mark.usefixtures("fast_passwords")

ROLES = ("anonymous", "participant", "participant_other", "facilitator", "facilitator_other",
         "reviewer", "admin", "presenter")

# --- Who may: sets of roles, named --------------------------------------------------------------

EVERYONE = frozenset(ROLES)
NOBODY = frozenset()
PARTICIPANT = frozenset({"participant"})
FACILITATOR = frozenset({"facilitator", "admin"})  # of this workshop (an admin: of every one)
REVIEWERS = frozenset({"facilitator", "reviewer", "admin"})  # read this workshop's outcomes
STAFF = frozenset({"facilitator", "facilitator_other", "reviewer", "admin"})
CREATORS = frozenset({"facilitator", "facilitator_other", "admin"})  # may open workshops
PRESENTER = frozenset({"presenter"})
LIVE = frozenset({"participant", "facilitator", "admin", "presenter"})  # may connect

# --- The table: every route ("METHOD endpoint") and every socket event --------------------------

ROUTES: dict[str, frozenset] = {
    # Public pages and machinery
    "GET participate.home": EVERYONE,
    "GET participate.join": EVERYONE,
    "POST participate.join": EVERYONE,
    "GET static": EVERYONE,
    "GET ops.healthz": EVERYONE,
    "GET ops.readyz": EVERYONE,
    # The Socket.IO path: engine.io answers it (anyone may open a transport; who may do what
    # is decided at the Socket.IO connect, EVENTS below). The rule only lets each event's
    # request context match its path (workshop/live/__init__.py, _route_socket_path).
    "GET live_socket": EVERYONE,
    "GET pages.accessibility": EVERYONE,
    "GET auth.login": EVERYONE,  # staff are sent on to their start page
    "POST auth.login": EVERYONE,
    "GET auth.logout": STAFF,
    "POST auth.logout": STAFF,
    "GET present.screen": PRESENTER,
    "GET present.qr": EVERYONE,  # the join link's QR code is as public as the join link
    # Participant pages
    "GET participate.workshop": PARTICIPANT,
    "GET participate.mine": PARTICIPANT,
    "POST participate.forget_me": PARTICIPANT,
    "POST participate.propose": PARTICIPANT,
    "POST participate.comment": PARTICIPANT,
    "POST participate.vote": PARTICIPANT,
    "POST participate.edit_proposal": PARTICIPANT,
    "POST participate.withdraw_proposal": PARTICIPANT,
    # Facilitator pages
    "GET facilitate.index": CREATORS,
    "POST facilitate.create": CREATORS,
    "GET facilitate.console": FACILITATOR,
    "GET facilitate.qr": FACILITATOR,
    "GET facilitate.delete": FACILITATOR,
    "POST facilitate.delete": FACILITATOR,
    "POST facilitate.add_element": FACILITATOR,
    "POST facilitate.edit_element": FACILITATOR,
    "POST facilitate.move_element": FACILITATOR,
    "POST facilitate.remove_element": FACILITATOR,
    "POST facilitate.add_facilitator": FACILITATOR,
    "POST facilitate.join_lock": FACILITATOR,
    "POST facilitate.remove_participant": FACILITATOR,
    "POST facilitate.phase": FACILITATOR,
    "POST facilitate.moderate": FACILITATOR,
    "POST facilitate.reveal": FACILITATOR,
    "POST facilitate.settings": FACILITATOR,
    "POST facilitate.spotlight": FACILITATOR,
    "POST facilitate.timer": FACILITATOR,
    "POST facilitate.voting_method": FACILITATOR,
    # Review pages
    "GET review.index": STAFF,
    "GET review.workshop": REVIEWERS,
    "GET review.living_model": STAFF,
    "POST review.answer": REVIEWERS,  # politicians and officials answer the proposals
    "POST review.publish": FACILITATOR,
    # JSON API
    "GET api.openapi": EVERYONE,
    "POST api.api_login": EVERYONE,
    "POST api.api_logout": EVERYONE,  # logging out without a session is a harmless no-op
    "GET api.api_me": STAFF,
    "GET api.list_workshops": STAFF,
    "POST api.create_workshop": CREATORS,
    "GET api.get_workshop": EVERYONE,  # title and phase: what the join page shows
    "PATCH api.update_workshop": FACILITATOR,
    "POST api.set_phase": FACILITATOR,
    "PUT api.set_voting_method": FACILITATOR,
    "POST api.publish": FACILITATOR,
    "POST api.add_element": FACILITATOR,
    "PATCH api.edit_element": FACILITATOR,
    "POST api.move_element": FACILITATOR,
    "DELETE api.remove_element": FACILITATOR,
    "POST api.join_workshop": EVERYONE,
    "GET api.me_in_workshop": PARTICIPANT,
    "GET api.list_participants": FACILITATOR,
    "POST api.submit_proposal": PARTICIPANT,
    "GET api.list_proposals": PARTICIPANT | REVIEWERS,
    "PATCH api.edit_own_proposal": PARTICIPANT,
    "POST api.withdraw_proposal": PARTICIPANT,
    "GET api.list_comments": PARTICIPANT | REVIEWERS,
    "POST api.add_comment": PARTICIPANT | FACILITATOR,
    "POST api.moderate": FACILITATOR,
    "PUT api.answer_proposal": REVIEWERS,
    "GET api.list_answers": PARTICIPANT | REVIEWERS,
    "PUT api.set_votes": PARTICIPANT,
    "GET api.get_votes": PARTICIPANT,
    "GET api.get_results": PARTICIPANT | REVIEWERS,
    "GET api.export_csv": REVIEWERS,
    "GET api.export_json": REVIEWERS,
    "GET api.report_pdf": REVIEWERS,
}

EVENTS: dict[str, frozenset] = {
    "connect": LIVE,
    "disconnect": EVERYONE,  # nothing to refuse: it only forgets the connection
    "sync": LIVE,
    "own": PARTICIPANT,
    "propose": PARTICIPANT,
    "comment": PARTICIPANT,
    "vote": PARTICIPANT,
    "set_phase": FACILITATOR,
    "moderate": FACILITATOR,
    "timer": FACILITATOR,
    "spotlight": FACILITATOR,
    "reveal": FACILITATOR,
    "lock": FACILITATOR,
    "remove_participant": FACILITATOR,
}

# Routes the outcomes of which depend on the workshop's phase: tried in that phase.
PHASES = {
    "GET api.get_results": "results",
    "GET api.list_answers": "results",
    "GET api.get_votes": "voting",
    "PUT api.set_votes": "voting",
    "POST participate.vote": "voting",
}


# --- The world ----------------------------------------------------------------------------------


@dataclass
class World:
    ours: object
    theirs: object
    participant: object
    participant_other: object
    proposal: object
    element: object
    users: dict


@pytest.fixture
def users(app):
    return {
        "facilitator": make_user("facilitator"),
        "facilitator_other": make_user("facilitator"),
        "reviewer": make_user("reviewer"),
        "admin": make_user("admin"),
    }


def make_world(users: dict, phase: str = "ideation") -> World:
    ours = make_workshop(users["facilitator"], phase="ideation")
    theirs = make_workshop(users["facilitator_other"], phase="ideation")
    participant = join_as(ours, "Ane", "Ældre Sagen")
    participant_other = join_as(theirs, "Bo")
    proposal = propose(ours, participant, "Fast kontaktperson", "Én indgang")
    from workshop.domain import proposals

    proposals.add_comment(ours, proposal.id, "Godt", participant=participant)
    if phase != "ideation":
        move_to(ours, phase)
    return World(ours, theirs, participant, participant_other, proposal, ours.elements[0],
                 users)


def client_for(app, world: World, role: str):
    client = app.test_client()
    if role == "participant":
        client.set_cookie(f"samskab_p_{world.ours.code}", world.participant.token)
    elif role == "participant_other":
        client.set_cookie(f"samskab_p_{world.theirs.code}", world.participant_other.token)
    elif role in world.users:
        response = client.post("/api/v1/auth/login",
                               json={"email": world.users[role].email, "password": PASSWORD})
        assert response.status_code == 200
    return client


def _static_file(app) -> str:
    return "css/samskab.css"


def url_for_rule(app, rule, world: World, role: str) -> str:
    values = {
        "code": world.ours.code,
        "proposal_id": world.proposal.id,
        "element_id": world.element.id,
        "participant_id": world.participant.id,
        "action": "hide",
        "filename": _static_file(app),
    }
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(r"<(?:[^:<>]+:)?" + name + r"(?:\([^)]*\))?>", str(values[name]), path)
        path = re.sub(r"<any\([^)]*\):" + name + ">", str(values[name]), path)
    assert "<" not in path, path
    if role == "presenter":
        path += f"?key={world.ours.presenter_key}"
    return path


def body_for(key: str, world: World) -> dict:
    """A plausible body, so that a request is judged on who sends it, not on its content."""
    pid, eid = world.proposal.id, world.element.id
    bodies = {
        "POST participate.join": {"display_name": "Cæcilie", "consent": "y"},
        "POST auth.login": {"email": world.users["reviewer"].email, "password": PASSWORD},
        "POST participate.propose": {"title": "Nyt", "element_id": str(eid)},
        "POST participate.comment": {f"comment-{pid}-body": "Enig"},
        "POST participate.vote": {"dots": "1"},
        "POST participate.edit_proposal": {f"edit-{pid}-title": "Rettet",
                                           f"edit-{pid}-element_id": str(eid)},
        "POST participate.forget_me": {"confirm": "y"},
        "POST facilitate.create": {"title": "Ny", "template": "blank",
                                   "dots_per_participant": "5", "max_dots_per_proposal": "3",
                                   "moderation": "post"},
        "POST facilitate.delete": {"confirm": world.ours.code},
        "POST facilitate.add_element": {"new-element-title": "Nyt element"},
        "POST facilitate.edit_element": {f"element-{eid}-title": "Rettet"},
        "POST facilitate.move_element": {"direction": "down"},
        "POST facilitate.add_facilitator": {"facilitator-email": "nobody@region.dk"},
        "POST facilitate.join_lock": {"locked": "1"},
        "POST facilitate.remove_participant": {"reason": "Test"},
        "POST facilitate.phase": {"phase": "review"},
        "POST facilitate.moderate": {f"hide-{pid}-reason": "Ikke relevant"},
        "POST facilitate.reveal": {"revealed": "1"},
        "POST facilitate.settings": {"title": "Ny titel", "dots_per_participant": "5",
                                     "max_dots_per_proposal": "3", "moderation": "post"},
        "POST facilitate.spotlight": {"proposal_id": str(pid)},
        "POST facilitate.timer": {"action": "start", "minutes": "5"},
        "POST review.answer": {"status": "adopted", "reasoning": "Godt"},
        "POST review.publish": {"outcome_note": "Tak"},
        "POST api.api_login": {"email": world.users["reviewer"].email, "password": PASSWORD},
        "POST api.create_workshop": {"title": "Ny"},
        "PATCH api.update_workshop": {"title": "Ny titel"},
        "POST api.set_phase": {"phase": "review"},
        "PUT api.set_voting_method": {"voting_method": "dots"},
        "POST api.publish": {"outcome_note": "Tak"},
        "POST api.add_element": {"title": "Nyt element"},
        "PATCH api.edit_element": {"title": "Rettet"},
        "POST api.move_element": {"offset": 1},
        "POST api.join_workshop": {"display_name": "Cæcilie", "consent": True},
        "POST api.submit_proposal": {"title": "Nyt", "element_id": eid},
        "PATCH api.edit_own_proposal": {"title": "Rettet"},
        "POST api.add_comment": {"body": "Enig"},
        "POST api.moderate": {"action": "hide", "reason": "Ikke relevant"},
        "PUT api.answer_proposal": {"status": "adopted", "reasoning": "Godt"},
        "PUT api.set_votes": {"dots": 1},
    }
    return bodies.get(key, {})


def request_as(app, world: World, key: str, rule, role: str):
    method = key.split(" ", 1)[0]
    client = client_for(app, world, role)
    path = url_for_rule(app, rule, world, role)
    body = body_for(key, world)
    if rule.rule.startswith("/api/"):
        json = body if method != "GET" else None
        response = client.open(path, method=method, json=json)
    else:
        response = client.open(path, method=method, data=body if method != "GET" else None)
    response.get_data()  # a streamed answer (an export) runs to its end and lets go
    response.close()
    return response


def outcome(response) -> str:
    """'allowed' or 'refused', as far as rights go (anything else is a failure of its own)."""
    status = response.status_code
    if status in (301, 302, 303, 307, 308):
        location = response.headers.get("Location", "")
        # Sent to log in first (?next=...) or to join first; after a logout, /login is home.
        if "/login?" in location or "/j/" in location:
            return "refused"
        return "allowed"
    if status in (401, 403, 404):
        return "refused"
    if status < 400 or status in (400, 409, 415, 422):
        return "allowed"
    return f"status {status}"


def route_keys(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield f"{method} {rule.endpoint}", rule


# --- The tests ----------------------------------------------------------------------------------


def test_every_route_and_every_event_has_a_line_in_the_table(app):
    keys = {key for key, _rule in route_keys(app)}
    assert sorted(keys - set(ROUTES)) == [], "routes without an expectation"
    assert sorted(set(ROUTES) - keys) == [], "expectations for routes that no longer exist"
    events = set(socketio.server.handlers[NAMESPACE])
    assert sorted(events - set(EVENTS)) == [], "socket events without an expectation"
    assert sorted(set(EVENTS) - events) == [], "expectations for events that no longer exist"


def test_every_route_answers_each_role_as_the_table_says(app, users):
    mismatches = []
    for key, rule in sorted(route_keys(app), key=lambda item: item[0]):
        if key not in ROUTES:
            continue  # the test above names it
        # Those to be refused go first and share a world; after anything that got through (and
        # may have changed or deleted something, or logged out), the next role gets a new one.
        world = None
        for role in sorted(ROLES, key=lambda r: r in ROUTES[key]):
            if world is None:
                world = make_world(users, PHASES.get(key, "ideation"))
            expected = "allowed" if role in ROUTES[key] else "refused"
            try:
                response = request_as(app, world, key, rule, role)
            except Exception as error:  # noqa: BLE001 - a crash is reported with the rest
                mismatches.append(f"{key:40} {role:18} expected {expected}, "
                                  f"crashed: {error!r}")
                db.session.rollback()
                world = None
                continue
            got = outcome(response)
            if got != expected:
                where = response.headers.get("Location", "")
                mismatches.append(f"{key:40} {role:18} expected {expected}, got {got} "
                                  f"({response.status_code} {where})")
            if got != "refused":
                world = None
            db.session.rollback()
    assert mismatches == [], "\n" + "\n".join(mismatches)


EVENT_PAYLOADS = {
    "sync": lambda w: {},
    "own": lambda w: {},
    "propose": lambda w: {"title": "Nyt", "element_id": w.element.id},
    "comment": lambda w: {"proposal_id": w.proposal.id, "body": "Enig"},
    "vote": lambda w: {"proposal_id": w.proposal.id, "dots": 1},
    "set_phase": lambda w: {"phase": "review"},
    "moderate": lambda w: {"proposal_id": w.proposal.id, "action": "hide", "reason": "Nej"},
    "timer": lambda w: {"action": "start", "seconds": 60},
    "spotlight": lambda w: {"proposal_id": w.proposal.id},
    "reveal": lambda w: {"revealed": True},
    "lock": lambda w: {"locked": True},
    "remove_participant": lambda w: {"participant_id": w.participant.id, "reason": "Test"},
}


def socket_for(app, world: World, role: str):
    http = client_for(app, world, role)
    auth = {"workshop": world.ours.code}
    if role == "presenter":
        auth["presenter"] = world.ours.presenter_key
    with app.app_context():
        return socketio.test_client(app, namespace=NAMESPACE, auth=auth, flask_test_client=http)


def test_every_socket_event_answers_each_role_as_the_table_says(app, users):
    mismatches = []
    for event in sorted(EVENTS):
        for role in ROLES:
            world = make_world(users)
            client = socket_for(app, world, role)
            connected = client.is_connected(NAMESPACE)
            try:
                if event == "connect":
                    got = "allowed" if connected else "refused"
                elif event == "disconnect":
                    got = "allowed"
                elif not connected:
                    got = "refused"
                else:
                    with app.app_context():
                        ack = client.emit(event, EVENT_PAYLOADS[event](world),
                                          namespace=NAMESPACE, callback=True)
                    db.session.expire_all()
                    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
                    refused = not ack["ok"] and ack["error"]["code"] in (
                        "unauthenticated", "forbidden")
                    got = "refused" if refused else "allowed"
            finally:
                if client.is_connected(NAMESPACE):
                    client.disconnect(NAMESPACE)
            expected = "allowed" if role in EVENTS[event] else "refused"
            if got != expected:
                mismatches.append(f"{event:20} {role:18} expected {expected}, got {got}")
    assert mismatches == [], "\n" + "\n".join(mismatches)


def test_a_refused_request_writes_nothing(app, users):
    """Spot check beside the matrix: a participant of another workshop changes no row."""
    world = make_world(users)
    before = (db.session.query(Proposal).count(), db.session.query(Comment).count())
    client = client_for(app, world, "participant_other")
    response = client.post(f"/api/v1/workshops/{world.ours.code}/proposals",
                           json={"title": "Indtrængen", "element_id": world.element.id})
    assert response.status_code == 403
    response = client.post(f"/api/v1/proposals/{world.proposal.id}/comments",
                           json={"body": "Indtrængen"})
    assert response.status_code == 403
    assert (db.session.query(Proposal).count(), db.session.query(Comment).count()) == before
