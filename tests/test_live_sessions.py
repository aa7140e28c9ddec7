"""workshop/live/sessions.py: a live connection's cookie session is opened once, not for every
event (Flask-SocketIO builds a request context per event from the connection's environ)."""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface
from werkzeug.test import EnvironBuilder

from tests.factories import PASSWORD, make_user, make_workshop
from workshop.live.sessions import LiveSessionInterface


def test_a_connections_session_is_opened_once_and_pages_open_theirs_each_time(app,
                                                                               monkeypatch):
    opened = []
    real_open = SecureCookieSessionInterface.open_session

    def counting_open(self, app_, request):
        opened.append(request.path)
        return real_open(self, app_, request)

    monkeypatch.setattr(SecureCookieSessionInterface, "open_session", counting_open)
    assert isinstance(app.session_interface, LiveSessionInterface)
    environ = EnvironBuilder(path="/socket.io/",
                             query_string="EIO=4&transport=websocket").get_environ()
    first = app.request_context(environ)
    with first:
        from flask import session

        one = session._get_current_object()
    for _ in range(3):  # three events on the same connection
        with app.request_context(environ):
            assert session._get_current_object() is one
    assert opened == ["/socket.io/"]
    for _ in range(2):
        with app.test_request_context("/"):
            session.get("x")
    assert opened == ["/socket.io/", "/", "/"]


def test_a_staff_connection_still_authenticates_from_the_session_cookie(app):
    from workshop.extensions import socketio

    user = make_user("facilitator")
    workshop = make_workshop(facilitator=user)
    http = app.test_client()
    assert http.post("/api/v1/auth/login",
                     json={"email": user.email, "password": PASSWORD}).status_code == 200
    client = socketio.test_client(app, namespace="/live", auth={"workshop": workshop.code},
                                  flask_test_client=http)
    assert client.is_connected("/live")
    [snapshot] = [m["args"][0] for m in client.get_received("/live") if m["name"] == "snapshot"]
    assert snapshot["role"] == "facilitator"
    client.disconnect("/live")
