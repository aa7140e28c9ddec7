"""Property-based: malformed, oversized and wrongly typed payloads at every socket event (read
from the server's handlers), as a participant and as a facilitator: always an ack
`{ok: bool, ...}`, never a crash, and a refused event writes nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import PASSWORD, join_as, make_user, make_workshop, propose
from tests.test_fuzz_api import json_values, row_counts
from workshop.extensions import socketio
from workshop.live.broadcaster import NAMESPACE

pytestmark = pytest.mark.usefixtures("fast_passwords")

KEYS = ["proposal_id", "participant_id", "element_id", "title", "body", "dots", "phase",
        "action", "seconds", "reason", "into", "revealed", "locked", "void_votes", "client_id"]


@pytest.fixture
def sockets(app):
    facilitator = make_user("facilitator")
    workshop = make_workshop(facilitator, phase="ideation")
    participant = join_as(workshop, "Ane")
    target = propose(workshop, join_as(workshop, "Bo"), "Bos forslag")
    phone, console = app.test_client(), app.test_client()
    phone.set_cookie(f"samskab_p_{workshop.code}", participant.token)
    assert console.post("/api/v1/auth/login", json={"email": facilitator.email,
                                                    "password": PASSWORD}).status_code == 200
    clients = {}
    with app.app_context():
        for name, http in (("participant", phone), ("facilitator", console)):
            clients[name] = socketio.test_client(app, namespace=NAMESPACE,
                                                 auth={"workshop": workshop.code},
                                                 flask_test_client=http)
    yield {"clients": clients, "target": target, "workshop": workshop}
    for client in clients.values():
        if client.is_connected(NAMESPACE):
            client.disconnect(NAMESPACE)


def client_events() -> list[str]:
    events = sorted(set(socketio.server.handlers[NAMESPACE]) - {"connect", "disconnect"})
    assert len(events) >= 12
    return events


ids = st.sampled_from([None, 0, -1, 1, 2, 2**31, 2**63, 10**40, True, "1", 1.5])
payloads = (st.fixed_dictionaries({}, optional={k: json_values | ids for k in KEYS})
            | json_values)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_no_socket_event_crashes_or_half_writes(app, sockets, data):
    event = data.draw(st.sampled_from(client_events()), label="event")
    who = data.draw(st.sampled_from(["participant", "facilitator"]), label="who")
    client = sockets["clients"][who]
    if not client.is_connected(NAMESPACE):
        return  # e.g. the participant was removed by an earlier example
    payload = data.draw(payloads, label="payload")
    extra = data.draw(st.lists(json_values, max_size=2), label="extra args")
    before = row_counts()
    with app.app_context():
        ack = client.emit(event, payload, *extra, namespace=NAMESPACE, callback=True)
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), (event, payload, ack)
    if not ack["ok"]:
        assert isinstance(ack["error"]["code"], str) and ack["error"]["message"]
        assert row_counts() == before, (event, payload, ack)
    client.get_received(NAMESPACE)  # keep the queue short


def test_a_connect_with_a_malformed_auth_payload_is_refused_not_crashed(app):
    workshop = make_workshop(phase="ideation")
    for auth in (None, [], "x", {"workshop": 5}, {"workshop": "x" * 10000},
                 {"workshop": workshop.code, "presenter": 7},
                 {"workshop": workshop.code, "presenter": "wrong"},
                 {"workshop": workshop.code, "role": ["facilitator"]}):
        with app.app_context():
            client = socketio.test_client(app, namespace=NAMESPACE, auth=auth,
                                          flask_test_client=app.test_client())
        assert not client.is_connected(NAMESPACE), auth
