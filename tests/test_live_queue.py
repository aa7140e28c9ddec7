"""The message queue's recovery after a Redis outage: the listener comes back within seconds and
the process brings its own screens back to the server's state (live/queue.py, Broadcaster.resync).
The same with real Redis and two server processes is in tests/faults/test_services_restarted.py."""

from __future__ import annotations

import pytest
import redis

from tests.factories import join_as, make_workshop, move_to, propose, vote
from tests.test_live_events import NS, emit, flush_tallies, live, received  # noqa: F401 - fixture
from workshop.live import queue as queue_module
from workshop.live.queue import RecoveringRedisManager


class FakePubSub:
    def __init__(self, script: list):
        self.script = script  # what listen() does each time: an exception or messages

    def subscribe(self, channel):
        pass

    def unsubscribe(self, channel):
        pass

    def listen(self):
        for item in self.script.pop(0):
            if isinstance(item, Exception):
                raise item
            yield item


def manager_with(connects: list, monkeypatch) -> tuple[RecoveringRedisManager, list, list]:
    """A manager whose connections follow `connects`: each item is an exception raised by the
    connect, or a FakePubSub script for a connection that works."""
    recovered, slept = [], []
    manager = RecoveringRedisManager("redis://127.0.0.1:1/0", channel="c", max_retry_s=2.0,
                                     on_recovered=lambda: recovered.append(True))

    def connect():
        step = connects.pop(0)
        if isinstance(step, Exception):
            raise step
        manager.pubsub = FakePubSub(step)

    monkeypatch.setattr(manager, "_redis_connect", connect)
    monkeypatch.setattr(queue_module.time, "sleep", slept.append)
    return manager, recovered, slept


def test_the_listener_resyncs_once_after_each_outage_and_retries_within_seconds(monkeypatch):
    lost = redis.exceptions.ConnectionError("Connection closed by server.")
    refused = redis.exceptions.ConnectionError("Connection refused")
    manager, recovered, slept = manager_with(
        [[[{"n": 1}, lost]],  # listening, then Redis goes away
         *[refused] * 6,  # six failed attempts while it is away
         [[{"n": 2}]]],  # back
        monkeypatch)
    listening = manager._redis_listen_with_retries()
    assert next(listening) == {"n": 1}
    assert recovered == []
    assert next(listening) == {"n": 2}
    assert recovered == [True]  # once, before the first message after the outage
    assert manager.outages == 1
    assert slept == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0]  # capped: never python-socketio's 60 s


def test_a_failing_resync_does_not_stop_the_listener(monkeypatch):
    manager, _recovered, _slept = manager_with(
        [[[redis.exceptions.ConnectionError("gone")]], [[{"n": 1}]]], monkeypatch)

    def broken():
        raise RuntimeError("boom")

    manager.on_recovered = broken
    assert next(manager._redis_listen_with_retries()) == {"n": 1}


@pytest.fixture
def voting_workshop(app):
    workshop = make_workshop(phase="ideation")
    author = join_as(workshop, "Forfatter")
    proposal = propose(workshop, author, "Et fælles kontaktpunkt")
    move_to(workshop, "voting")
    voter = join_as(workshop, "Vælger")
    return workshop, proposal, voter


def test_resync_tells_every_screen_here_to_ask_again_and_sends_fresh_tallies(
        app, request, voting_workshop):
    from workshop.live import broadcaster

    screens = request.getfixturevalue("live")  # the live screens of test_live_events

    workshop, proposal, voter = voting_workshop
    console = screens.facilitator(workshop)
    phone = screens.participant(workshop, voter)
    vote(workshop, voter, proposal, 3)
    flush_tallies()
    received(console), received(phone)  # what was sent before the outage
    broadcaster.resync()
    flush_tallies()
    console_messages = received(console)
    phone_messages = received(phone)
    assert [m["name"] for m in console_messages].count("resync") == 1
    assert [m["name"] for m in phone_messages].count("resync") == 1
    resync = next(m for m in phone_messages if m["name"] == "resync")["args"][0]
    assert resync["spread_ms"] > 0
    # The facilitator gets a fresh tally without any new vote; the blind participant none.
    tallies = [m["args"][0] for m in console_messages if m["name"] == "tally"]
    assert tallies and tallies[-1]["dots"] == 3
    assert not [m for m in phone_messages if m["name"] == "tally"]
    # The client's answer to "resync": ask for a snapshot, which is the server's state.
    ack = emit(phone, "sync", {})
    assert ack["ok"] is True
    assert ack["snapshot"]["you"]["allocations"] == {str(proposal.id): 3}


def test_resync_with_no_screen_here_sends_nothing(app):
    from workshop.live import broadcaster

    broadcaster.resync()  # no workshop has a screen on this process: nothing to do


def test_control_messages_from_other_processes_are_handled_not_passed_on(monkeypatch):
    import json

    from workshop.live.queue import CONTROL

    def packet(data: dict) -> dict:
        return {"channel": b"c", "type": "message", "data": json.dumps(data).encode()}

    manager, _recovered, _slept = manager_with([], monkeypatch)
    handled = []
    manager.on_control = handled.append
    broadcast = {"method": "emit", "event": "tally", "host_id": "other"}
    messages = [packet({"method": CONTROL, "data": {"close": {"user_id": 7}}, "host_id": "b"}),
                packet({"method": CONTROL, "data": {"close": {"user_id": 8}},
                        "host_id": manager.host_id}),  # its own: already done locally
                packet(broadcast)]
    monkeypatch.setattr(manager, "_redis_listen_with_retries", lambda: iter(messages))
    manager.pubsub = FakePubSub([])
    passed_on = list(manager._listen())
    assert handled == [{"close": {"user_id": 7}}]
    assert [json.loads(m) for m in passed_on] == [broadcast]


@pytest.mark.parametrize("data", [{}, {"close": "everyone"}, {"close": {"reason": "x"}},
                                  {"close": {"user_id": "7", "reason": "x"}},
                                  {"close": {"user_id": True, "reason": "x"}},
                                  {"close": {"user_id": 7}}])
def test_a_malformed_control_message_closes_nothing(app, data, monkeypatch):
    import workshop.live as live_module

    closed = []
    monkeypatch.setattr(live_module, "_close_local", lambda **kwargs: closed.append(kwargs))
    live_module.on_control(data)
    assert closed == []


def test_a_busy_pool_is_answered_unavailable_so_the_client_resends(app, voting_workshop,
                                                                   request, monkeypatch):
    """Every pooled connection busy (a saturated process) is not a conflict with the workshop's
    state: the answer is "unavailable", which the clients resend, as after a restart."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from workshop.domain import voting

    workshop, proposal, voter = voting_workshop
    phone = request.getfixturevalue("live").participant(workshop, voter)

    def busy(*_args, **_kwargs):
        raise PoolTimeout("QueuePool limit of size 10 overflow 20 reached")

    # Both ways a vote goes: the socket's (cast_votes, with the other connections' votes of
    # the moment, then set_dots for anything unusual) and the API's (set_dots).
    monkeypatch.setattr(voting, "cast_votes", busy)
    monkeypatch.setattr(voting, "set_dots", busy)
    ack = emit(phone, "vote", {"proposal_id": proposal.id, "dots": 1})
    assert ack["ok"] is False and ack["error"]["code"] == "unavailable"
    http = app.test_client()
    http.set_cookie(f"samskab_p_{workshop.code}", voter.token)
    answer = http.put(f"/api/v1/workshops/{workshop.code}/votes/{proposal.id}", json={"dots": 1})
    assert answer.status_code == 503 and answer.get_json()["error"]["code"] == "unavailable"


@pytest.mark.parametrize("failure", ["pool", "database"])
def test_a_connect_the_database_cannot_serve_is_refused_unavailable(app, voting_workshop,
                                                                    request, monkeypatch,
                                                                    failure):
    """A restarted server with every screen reconnecting at once (the pool busy), or the
    database down: the connect is refused with "unavailable", which the clients retry, and
    leaves nothing behind; never left unanswered, which would leave a screen connecting."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    import workshop.live as live_module
    from workshop.live import presence

    workshop, _proposal, voter = voting_workshop
    refusals = []
    refuse = live_module._refuse
    monkeypatch.setattr(live_module, "_refuse",
                        lambda code, message: refusals.append((code, message))
                        or refuse(code, message))
    error = (PoolTimeout("QueuePool limit of size 10 overflow 20 reached") if failure == "pool"
             else OperationalError("SELECT", {}, Exception("server closed the connection")))

    def broken(*_args, **_kwargs):
        raise error

    # After the connection is registered and in its rooms: all of it must be undone.
    monkeypatch.setattr(live_module, "_snapshot_for", broken)
    phone = request.getfixturevalue("live").participant(workshop, voter)
    assert not phone.is_connected(NS)
    assert [code for code, _message in refusals] == ["unavailable"]
    assert "utilgængelig" in refusals[0][1]
    assert live_module._connections == {}
    presence._cache.clear()
    assert presence.presence_for(workshop.id)["online"] == 0

    monkeypatch.undo()  # the database is back: the same phone connects
    again = request.getfixturevalue("live").participant(workshop, voter)
    assert again.is_connected(NS)
    assert received(again, "snapshot")
