"""workshop/live/sessions.py: a live connection's cookie session is opened, and its URL matched,
once, not for every event (Flask-SocketIO builds a request context per event from the
connection's environ)."""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface
from werkzeug.test import EnvironBuilder

from tests.factories import PASSWORD, make_user, make_workshop
from workshop.live.sessions import LiveRequestContext, LiveSessionInterface


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


def test_a_connections_url_is_matched_once_and_pages_match_theirs_each_time(app, monkeypatch):
    from flask import request
    from werkzeug.routing import MapAdapter

    matched = []
    real_match = MapAdapter.match

    def counting_match(self, *args, **kwargs):
        matched.append(self.path_info)
        return real_match(self, *args, **kwargs)

    monkeypatch.setattr(MapAdapter, "match", counting_match)
    assert app.request_context_class is LiveRequestContext
    environ = EnvironBuilder(path="/socket.io/",
                             query_string="EIO=4&transport=websocket").get_environ()
    for _ in range(3):  # three events on the same connection
        with app.request_context(environ):
            assert request.url_rule.endpoint == "live_socket" and request.view_args == {}
    assert matched == ["/socket.io/"]
    for _ in range(2):
        with app.test_request_context("/j/ABCDEF"):
            assert request.url_rule.endpoint == "participate.join"
    assert app.test_client().get("/no-such-page").status_code == 404
    assert matched == ["/socket.io/", "/j/ABCDEF", "/j/ABCDEF", "/no-such-page"]


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
