"""The live protocol with Flask-SocketIO's test client: connect, snapshots, every event and its
refusals, broadcasts after commit, tallies only to those who may see them."""

from __future__ import annotations

import gc
import time
import types
from collections import Counter

import pytest
from flask.ctx import AppContext, RequestContext
from flask.wrappers import Request
from werkzeug.routing import MapAdapter

from tests.factories import (
    PASSWORD,
    facilitator_of,
    hide,
    join_as,
    make_user,
    make_workshop,
    move_to,
    propose,
    refresh,
    vote,
)
from workshop.domain import workshops
from workshop.domain.proposals import add_comment
from workshop.extensions import db, socketio
from workshop.models import DotVote, Participant, Proposal

NS = "/live"


@pytest.fixture
def live(app):
    """Connect screens: live.participant(p), live.facilitator(user), live.presenter(w)."""
    clients = []

    class Live:
        def connect(self, code, *, cookies=None, login=None, **auth):
            http = app.test_client()
            for name, value in (cookies or {}).items():
                http.set_cookie(name, value)
            if login is not None:
                assert http.post("/api/v1/auth/login",
                                 json={"email": login.email, "password": PASSWORD}).status_code \
                    == 200
            with app.app_context():  # a fresh `g` and session, as on the server
                client = socketio.test_client(app, namespace=NS,
                                              auth={"workshop": code, **auth},
                                              flask_test_client=http)
            clients.append(client)
            return client

        def participant(self, workshop, participant):
            return self.connect(workshop.code,
                                cookies={f"samskab_p_{workshop.code}": participant.token})

        def facilitator(self, workshop, user=None):
            return self.connect(workshop.code, login=user or facilitator_of(workshop))

        def presenter(self, workshop):
            return self.connect(workshop.code, presenter=workshop.presenter_key)

    yield Live()
    for client in clients:
        if client.is_connected(NS):
            client.disconnect(NS)


def received(client, name=None):
    messages = client.get_received(NS)
    if name is None:
        return messages
    return [m["args"][0] if m["args"] else None for m in messages if m["name"] == name]


def emit(client, event, payload):
    """Send an event as the server would handle it: in an app context of its own."""
    with client.app.app_context():
        ack = client.emit(event, payload, namespace=NS, callback=True)
    db.session.expire_all()
    return ack


def flush_tallies():
    from workshop.live import broadcaster

    broadcaster.flush()


# --- Connecting -----------------------------------------------------------------------------------


def test_participant_gets_a_snapshot_on_connect(app, live):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    propose(workshop, anna, "Fast kontaktperson")
    client = live.participant(workshop, anna)
    assert client.is_connected(NS)
    [snap] = received(client, "snapshot")
    assert snap["role"] == "participant"
    assert snap["workshop"]["phase"] == "ideation"
    assert [p["title"] for p in snap["proposals"]] == ["Fast kontaktperson"]
    assert len(snap["elements"]) == len(workshop.elements)
    assert snap["you"]["remaining"] == 5
    assert snap["tally"] is None  # blind voting by default


def test_a_snapshot_carries_the_visible_comments_as_the_api_shows_them(app, live):
    workshop = make_workshop(phase="ideation")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    kept, hidden = propose(workshop, anna, "Fast kontaktperson"), propose(workshop, bo, "Dublet")
    staff = make_user("facilitator", name="")  # a facilitator without a name
    workshops.add_facilitator(workshop, facilitator_of(workshop), staff.email)
    add_comment(workshop, kept.id, "Godt forslag", participant=bo)
    add_comment(workshop, kept.id, "Tak for forslaget", user=staff)
    add_comment(workshop, hidden.id, "Det samme som før", participant=anna)
    hide(workshop, hidden)

    [snap] = received(live.participant(workshop, anna), "snapshot")
    api = app.test_client()
    api.set_cookie(f"samskab_p_{workshop.code}", anna.token)
    shown = api.get(f"/api/v1/proposals/{kept.id}/comments").get_json()["comments"]
    assert snap["comments"] == shown
    assert [(c["body"], c["author"], c["by_facilitator"]) for c in shown] == [
        ("Godt forslag", "Bo", False), ("Tak for forslaget", "Facilitator", True)]

    workshops.update_workshop(workshop, facilitator_of(workshop), {"show_names": False})
    [snap] = received(live.participant(workshop, join_as(workshop, "Carl")), "snapshot")
    assert [c["author"] for c in snap["comments"]] == [None, "Facilitator"]


def test_connect_without_workshop_code_is_refused(app, live):
    client = socketio.test_client(app, namespace=NS)
    assert not client.is_connected(NS)


def test_stranger_without_cookie_is_refused(app, live):
    workshop = make_workshop()
    client = live.connect(workshop.code)
    assert not client.is_connected(NS)


def test_participant_token_of_another_workshop_is_refused(app, live):
    first, second = make_workshop(), make_workshop()
    anna = join_as(first, "Anna")
    client = live.connect(second.code, cookies={f"samskab_p_{second.code}": anna.token})
    assert not client.is_connected(NS)


def test_wrong_presenter_key_is_refused(app, live):
    workshop = make_workshop()
    client = live.connect(workshop.code, presenter="not-the-key")
    assert not client.is_connected(NS)


def test_facilitator_of_another_workshop_is_refused(app, live):
    workshop = make_workshop()
    other = make_user("facilitator")
    client = live.facilitator(workshop, other)
    assert not client.is_connected(NS)


def test_removed_participant_cannot_reconnect(app, live):
    from workshop.domain.facilitation import remove_participant

    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    remove_participant(workshop, facilitator_of(workshop), anna.id)
    client = live.participant(workshop, anna)
    assert not client.is_connected(NS)


def test_foreign_origin_is_refused(app):
    workshop = make_workshop()
    anna = join_as(workshop, "Anna")
    http = app.test_client()
    http.set_cookie(f"samskab_p_{workshop.code}", anna.token)
    client = socketio.test_client(app, namespace=NS, auth={"workshop": workshop.code},
                                  flask_test_client=http,
                                  headers={"Origin": "https://evil.example"})
    assert not client.is_connected(NS)


# --- Participant events ---------------------------------------------------------------------------


def test_propose_is_acked_and_broadcast(app, live):
    workshop = make_workshop(phase="ideation")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    a, b = live.participant(workshop, anna), live.participant(workshop, bo)
    fac = live.facilitator(workshop)
    for client in (a, b, fac):
        received(client)
    ack = emit(a, "propose", {"title": "Åbne kriterier", "body": "",
                              "element_id": workshop.elements[1].id, "client_id": "k1"})
    assert ack["ok"] and ack["created"]
    assert [m["proposal"]["title"] for m in received(b, "proposal")] == ["Åbne kriterier"]
    assert [m["change"] for m in received(fac, "proposal")] == ["new"]


def test_retried_propose_applies_once(app, live):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    a = live.participant(workshop, anna)
    payload = {"title": "Et forslag", "body": "", "element_id": workshop.elements[0].id,
               "client_id": "retry-1"}
    first, second = emit(a, "propose", payload), emit(a, "propose", payload)
    assert first["proposal"]["id"] == second["proposal"]["id"]
    assert second["created"] is False
    assert db.session.query(Proposal).count() == 1


def test_pending_proposal_reaches_only_facilitators_and_its_author(app, live):
    workshop = make_workshop(phase="ideation", moderation="pre")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    a, b, fac = (live.participant(workshop, anna), live.participant(workshop, bo),
                 live.facilitator(workshop))
    for client in (a, b, fac):
        received(client)
    ack = emit(a, "propose", {"title": "Venter", "element_id": workshop.elements[0].id,
                              "client_id": "p1"})
    assert ack["proposal"]["status"] == "pending"
    assert received(b, "proposal") == []
    assert [m["proposal"]["status"] for m in received(fac, "proposal")] == ["pending"]
    assert [m["status"] for m in received(a, "proposal")] == ["pending"]


def test_vote_is_acked_with_remaining_and_resend_changes_nothing(app, live):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    proposal = propose(workshop, anna)
    move_to(workshop, "voting")
    a = live.participant(workshop, anna)
    assert emit(a, "vote", {"proposal_id": proposal.id, "dots": 2}) == {
        "ok": True, "proposal_id": proposal.id, "dots": 2, "remaining": 3, "applied": True,
        "mark": 0}
    assert emit(a, "vote", {"proposal_id": proposal.id, "dots": 2})["remaining"] == 3
    assert db.session.query(DotVote).one().dots == 2


def test_socket_events_leave_no_reference_cycles_for_the_collector(app, live):
    """An event's request context is freed by reference counting when the event ends.

    Before the Socket.IO path had a rule in the URL map, every event's context failed its URL
    match and kept two exceptions whose tracebacks held its frames in reference cycles; and
    every match leaves werkzeug's recursive matcher closure behind. The cycle collector had
    to free them, and its collections stop the whole server process (docs/performance.md, the
    tenth round). Now a connection's URL is matched once (live/sessions.py)."""
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    proposal = propose(workshop, anna)
    move_to(workshop, "voting")
    a = live.participant(workshop, anna)
    emit(a, "vote", {"proposal_id": proposal.id, "dots": 1})
    emit(a, "own", {})
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage
    try:
        acks = [emit(a, "vote", {"proposal_id": proposal.id, "dots": dots})
                for dots in (2, 3, 1, 3, 2) * 4]
        emit(a, "own", {})
        gc.collect()
        cyclic = Counter(_what(o) for o in gc.garbage if _from_an_event(o))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert [ack["ok"] for ack in acks] == [True] * len(acks), acks
    assert cyclic == Counter()


# What an event makes and should let go of when it ends: its request context and what hangs
# from it, exceptions and their frames, werkzeug's matcher closure. Only these are looked for:
# in a whole suite's run other garbage turns up meanwhile (an earlier test's app and engine
# let go), which says nothing about the events.
_PER_EVENT_KINDS = (types.FrameType, types.TracebackType, BaseException, RequestContext,
                    AppContext, Request, MapAdapter)


def _what(o) -> str:
    return getattr(o, "__qualname__", None) or type(o).__qualname__


def _from_an_event(o) -> bool:
    return isinstance(o, _PER_EVENT_KINDS) or (
        isinstance(o, types.FunctionType) and o.__module__.startswith("werkzeug.routing"))


@pytest.mark.parametrize("upgrade", [False, True], ids=["polling", "websocket"])
def test_the_socket_path_has_a_rule_so_an_events_context_matches_it(app, upgrade):
    from werkzeug.test import EnvironBuilder

    headers = {"Upgrade": "websocket", "Connection": "Upgrade"} if upgrade else {}
    environ = EnvironBuilder(path="/socket.io/", query_string="EIO=4&transport=websocket",
                             headers=headers).get_environ()
    with app.request_context(environ) as ctx:
        assert ctx.request.routing_exception is None
        assert ctx.request.url_rule.endpoint == "live_socket"
    # engine.io answers the path; Flask's own view only answers if it is ever reached.
    assert app.test_client().get("/socket.io/").status_code != 200


def test_vote_over_budget_is_refused_in_the_ack(app, live):
    workshop = make_workshop(phase="ideation", dots_per_participant=3, max_dots_per_proposal=3)
    anna = join_as(workshop, "Anna")
    first, second = propose(workshop, anna, "A"), propose(workshop, anna, "B")
    move_to(workshop, "voting")
    a = live.participant(workshop, anna)
    assert emit(a, "vote", {"proposal_id": first.id, "dots": 3})["ok"]
    ack = emit(a, "vote", {"proposal_id": second.id, "dots": 1})
    assert ack["ok"] is False and ack["error"]["code"] == "budget_exceeded"
    assert ack["error"]["message"]


@pytest.mark.parametrize("payload", [
    "not an object", ["a", "list"], {"proposal_id": "1", "dots": 1},
    {"proposal_id": 1, "dots": "2"}, {"proposal_id": 1, "dots": True}, {"proposal_id": 1},
    {"proposal_id": 1, "dots": -1}, {"proposal_id": 10**12, "dots": 1},
])
def test_malformed_vote_is_refused_and_writes_nothing(app, live, payload):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    propose(workshop, anna)
    move_to(workshop, "voting")
    a = live.participant(workshop, anna)
    ack = emit(a, "vote", payload)
    assert ack["ok"] is False
    assert ack["error"]["code"] in ("invalid", "not_found", "budget_exceeded")
    assert db.session.query(DotVote).count() == 0


def test_vote_in_the_wrong_phase_is_refused(app, live):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    proposal = propose(workshop, anna)
    a = live.participant(workshop, anna)
    ack = emit(a, "vote", {"proposal_id": proposal.id, "dots": 1})
    assert ack["error"]["code"] == "wrong_phase"


FACILITATOR_EVENTS = [
    ("set_phase", {"phase": "voting"}),
    ("moderate", {"proposal_id": 1, "action": "hide", "reason": "x"}),
    ("timer", {"action": "start", "seconds": 60}),
    ("spotlight", {"proposal_id": 1}),
    ("reveal", {"revealed": True}),
    ("lock", {"locked": True}),
    ("remove_participant", {"participant_id": 1}),
]


@pytest.mark.parametrize("event,payload", FACILITATOR_EVENTS)
def test_participant_cannot_trigger_facilitator_events(app, live, event, payload):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    propose(workshop, anna)
    a = live.participant(workshop, anna)
    before = refresh(workshop).version
    ack = emit(a, event, payload)
    assert ack == {"ok": False, "error": {"code": "forbidden", "message": ack["error"]["message"]}}
    assert refresh(workshop).version == before


@pytest.mark.parametrize("event,payload", FACILITATOR_EVENTS)
def test_presenter_cannot_trigger_facilitator_events(app, live, event, payload):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    propose(workshop, anna)
    screen = live.presenter(workshop)
    assert screen.is_connected(NS)
    assert emit(screen, event, payload)["error"]["code"] == "forbidden"


@pytest.mark.parametrize("event", ["propose", "comment", "vote"])
def test_presenter_cannot_act_as_participant(app, live, event):
    workshop = make_workshop(phase="ideation")
    screen = live.presenter(workshop)
    assert emit(screen, event, {"proposal_id": 1, "dots": 1})["error"]["code"] == "forbidden"


# --- Facilitator events ---------------------------------------------------------------------------


def test_phase_change_reaches_every_screen(app, live):
    workshop = make_workshop(phase="lobby")
    anna = join_as(workshop, "Anna")
    a, screen, fac = (live.participant(workshop, anna), live.presenter(workshop),
                      live.facilitator(workshop))
    for client in (a, screen, fac):
        received(client)
    assert emit(fac, "set_phase", {"phase": "ideation"}) == {"ok": True, "phase": "ideation"}
    for client in (a, screen, fac):
        assert [m["phase"] for m in received(client, "phase")] == ["ideation"]


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_a_phase_move_while_a_screen_connects_is_not_missed(app, live, monkeypatch):
    """The facilitator moves the phase (in another process) after a connecting participant was
    checked but before their socket joined the workshop's rooms: the `phase` broadcast cannot
    reach them, so their snapshot must already show the new phase."""
    from sqlalchemy import text

    import workshop.live as live_module

    workshop = make_workshop(phase="lobby")
    anna = join_as(workshop, "Anna")
    real_join_room = live_module.join_room
    moved = []

    def join_room_after_a_move(room, *args, **kwargs):
        if not moved:
            with db.engine.begin() as other_process:
                other_process.execute(text("UPDATE workshop SET phase = 'ideation' WHERE id = :id"),
                                      {"id": workshop.id})
            moved.append(True)
        return real_join_room(room, *args, **kwargs)

    monkeypatch.setattr(live_module, "join_room", join_room_after_a_move)
    client = live.participant(workshop, anna)
    assert moved
    [snap] = received(client, "snapshot")
    assert snap["workshop"]["phase"] == "ideation"


def test_set_phase_to_the_current_phase_changes_nothing(app, live):
    workshop = make_workshop(phase="ideation")
    fac = live.facilitator(workshop)
    received(fac)
    assert emit(fac, "set_phase", {"phase": "ideation"})["ok"]
    assert received(fac, "phase") == []


def test_tally_reaches_facilitator_but_not_participants_until_revealed(app, live):
    workshop = make_workshop(phase="ideation")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    proposal = propose(workshop, anna)
    move_to(workshop, "voting")
    a, screen, fac = (live.participant(workshop, anna), live.presenter(workshop),
                      live.facilitator(workshop))
    for client in (a, screen, fac):
        received(client)
    vote(workshop, bo, proposal, 2)
    flush_tallies()
    [t] = received(fac, "tally")
    assert t["rows"][0] == {"id": proposal.id, "rank": 1, "dots": 2, "supporters": 1,
                            "score": 2.0, "org_score": 2.0}
    assert t["method"] == "dots"
    assert received(a, "tally") == [] and received(screen, "tally") == []
    assert emit(fac, "reveal", {"revealed": True})["ok"]
    flush_tallies()
    assert received(a, "tally")[-1]["rows"][0]["dots"] == 2
    assert received(screen, "tally")[-1]["rows"][0]["dots"] == 2


def test_a_vote_burst_is_coalesced_into_one_tally(app, live):
    workshop = make_workshop(phase="ideation")
    people = [join_as(workshop, f"P{i}") for i in range(10)]
    proposal = propose(workshop, people[0])
    move_to(workshop, "voting")
    fac = live.facilitator(workshop)
    received(fac)
    for person in people:
        vote(workshop, person, proposal, 1)
    flush_tallies()
    tallies = received(fac, "tally")
    assert len(tallies) == 1
    assert tallies[0]["rows"][0]["dots"] == 10  # the last one sent is never stale


def test_tallies_are_spaced_out_by_what_they_cost(app, live, monkeypatch):
    """A workshop whose tally is slow to compute gets fewer of them: each flush measures what
    its tallies cost, and the pause before the next one stretches so that tallies take at most
    the broadcaster's share of the process; a cheap tally keeps the configured interval, and a
    flush without tallies changes nothing."""
    from workshop.live import broadcaster  # the app's instance (it shadows its module's name)
    from workshop.live.broadcaster import TALLY_MAX_PAUSE, TALLY_SHARE, Broadcaster

    assert broadcaster.tally_share == TALLY_SHARE
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    proposal = propose(workshop, anna)
    move_to(workshop, "voting")
    fac = live.facilitator(workshop)
    received(fac)
    clock = iter([10.0, 10.06])  # the tally took 60 ms
    monkeypatch.setattr(broadcaster, "clock", lambda: next(clock))
    vote(workshop, anna, proposal, 1)
    flush_tallies()
    assert received(fac, "tally")[-1]["rows"][0]["dots"] == 1
    assert broadcaster.tally_cost == pytest.approx(0.06)

    broadcaster.mark_presence(workshop.id)  # a flush that computes no tally
    flush_tallies()
    assert broadcaster.tally_cost == pytest.approx(0.06)

    # The pause that follows, on a broadcaster with the server's interval (the tests' own
    # never flushes by itself: TALLY_INTERVAL is an hour).
    spacing = Broadcaster(app, interval=0.2)
    assert spacing.pause() == 0.2  # nothing measured yet
    spacing.tally_cost = broadcaster.tally_cost
    # 60 ms of tally, then 340 ms of pause: 15 % of the time.
    assert spacing.pause() == pytest.approx(0.34)
    assert 0.06 / (0.06 + spacing.pause()) == pytest.approx(0.15)
    spacing.tally_cost = 0.01  # cheap: the interval
    assert spacing.pause() == 0.2
    spacing.tally_cost = 0.5  # very costly (or a busy database): never more than a second
    assert spacing.pause() == TALLY_MAX_PAUSE == 1.0
    spacing.tally_share, spacing.tally_cost = 0, 5.0  # spacing turned off
    assert spacing.pause() == 0.2


def test_a_tally_is_timed_by_what_it_takes_from_the_process_not_by_waiting():
    """With PostgreSQL a tally waits for the database while other greenlets use the process;
    what it costs is the CPU the process spends, not the wall time (which once stretched the
    pause to seconds on a busy database)."""
    from workshop.live.broadcaster import Broadcaster

    clock = Broadcaster(None).clock
    started = clock()
    time.sleep(0.3)  # waiting, as for a database's answer
    waited = clock() - started
    started = clock()
    sum(i * i for i in range(300_000))  # computing
    computed = clock() - started
    assert waited < 0.05  # 0.3 s of wall time
    assert computed > 0


def test_changes_made_through_the_api_are_broadcast(app, live, api):
    workshop = make_workshop(phase="lobby")
    anna = join_as(workshop, "Anna")
    a = live.participant(workshop, anna)
    received(a)
    api.login(facilitator_of(workshop).email)
    assert api.post(f"/workshops/{workshop.code}/phase", {"phase": "ideation"}).status_code == 200
    assert [m["phase"] for m in received(a, "phase")] == ["ideation"]


def test_hide_reaches_participants_without_the_text(app, live):
    workshop = make_workshop(phase="ideation")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    proposal = propose(workshop, anna, "Upassende")
    b, fac = live.participant(workshop, bo), live.facilitator(workshop)
    received(b)
    ack = emit(fac, "moderate", {"proposal_id": proposal.id, "action": "hide",
                                 "reason": "Krænkende"})
    assert ack["ok"]
    [message] = received(b, "proposal")
    assert message["change"] == "hidden" and message["proposal"] is None
    assert message["id"] == proposal.id


def test_timer_is_kept_by_the_server_and_shared(app, live):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    a, fac = live.participant(workshop, anna), live.facilitator(workshop)
    received(a)
    ack = emit(fac, "timer", {"action": "start", "seconds": 300})
    assert ack["timer"]["state"] == "running"
    [timer] = received(a, "timer")
    assert timer["deadline"] == ack["timer"]["deadline"]
    assert emit(fac, "timer", {"action": "pause"})["timer"]["state"] == "paused"
    extended = emit(fac, "timer", {"action": "extend", "seconds": 60})["timer"]
    assert extended["state"] == "paused" and extended["remaining_ms"] > 300_000
    assert emit(fac, "timer", {"action": "resume"})["timer"]["state"] == "running"
    assert emit(fac, "timer", {"action": "start", "seconds": 0})["error"]["code"] == "invalid"
    assert emit(fac, "timer", {"action": "stop"})["timer"]["state"] == "idle"
    # Reconnecting screens get the timer in the snapshot.
    assert live.participant(workshop, anna).get_received(NS)[0]["args"][0]["timer"]["state"] \
        == "idle"


def test_spotlight_reaches_the_presenter_screen(app, live):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    proposal = propose(workshop, anna, "På skærmen")
    screen, fac = live.presenter(workshop), live.facilitator(workshop)
    received(screen)
    assert emit(fac, "spotlight", {"proposal_id": proposal.id})["ok"]
    [message] = received(screen, "spotlight")
    assert message["proposal"]["title"] == "På skærmen"


def test_lock_stops_new_joins(app, live, new_api):
    workshop = make_workshop(phase="ideation")
    fac = live.facilitator(workshop)
    assert emit(fac, "lock", {"locked": True}) == {"ok": True, "join_locked": True}
    response = new_api().post(f"/workshops/{workshop.code}/participants",
                              {"display_name": "Sen", "consent": True})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "closed"


def test_removing_a_participant_voids_their_votes_and_tells_them(app, live):
    workshop = make_workshop(phase="ideation")
    anna, troll = join_as(workshop, "Anna"), join_as(workshop, "Trold")
    proposal = propose(workshop, anna)
    move_to(workshop, "voting")
    vote(workshop, troll, proposal, 3)
    t, fac = live.participant(workshop, troll), live.facilitator(workshop)
    received(t)
    ack = emit(fac, "remove_participant", {"participant_id": troll.id, "void_votes": True})
    assert ack == {"ok": True, "participant_id": troll.id}
    assert received(t, "removed")
    assert db.session.query(DotVote).count() == 0
    assert refresh(db.session.get(Participant, troll.id)).removed_at is not None
    assert emit(t, "vote", {"proposal_id": proposal.id, "dots": 1})["ok"] is False


def test_reconnect_gets_a_snapshot_equal_to_the_server_state(app, live):
    workshop = make_workshop(phase="ideation")
    anna = join_as(workshop, "Anna")
    proposal = propose(workshop, anna)
    move_to(workshop, "voting")
    first = live.participant(workshop, anna)
    emit(first, "vote", {"proposal_id": proposal.id, "dots": 2})
    first.disconnect(NS)
    vote(workshop, anna, proposal, 3)  # changed elsewhere while disconnected
    again = live.participant(workshop, anna)
    [snap] = received(again, "snapshot")
    assert snap["you"]["allocations"] == {str(proposal.id): 3}
    assert snap["you"]["remaining"] == 2
    assert emit(again, "sync", {})["snapshot"]["you"] == snap["you"]


def test_presence_reaches_the_console_and_the_screen_but_not_phones(app, live):
    workshop = make_workshop(phase="lobby")
    anna, bo = join_as(workshop, "Anna"), join_as(workshop, "Bo")
    fac, screen = live.facilitator(workshop), live.presenter(workshop)
    a = live.participant(workshop, anna)
    for client in (fac, screen, a):
        received(client)
    flush_tallies()
    [on_console] = received(fac, "presence")
    assert on_console["online"] == 1 and on_console["joined"] == 2
    assert received(screen, "presence")[-1]["joined"] == 2
    assert received(a, "presence") == []
    # Arrivals in the same second are coalesced into the next update, not one per arrival.
    live.participant(workshop, bo)
    flush_tallies()
    assert received(fac, "presence") == []
