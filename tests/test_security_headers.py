"""Security headers on every response, cookies, the session rotating on login, and logging out
ending every session and live connection of that user."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD, facilitator_of, join_as, make_user, make_workshop
from tests.test_authorization_matrix import client_for, make_world, route_keys, url_for_rule
from workshop import create_app
from workshop.config import Config
from workshop.extensions import db, socketio
from workshop.live.broadcaster import NAMESPACE
from workshop.security import SocketResponseHeaders, presenter_frame_ancestors

pytestmark = pytest.mark.usefixtures("fast_passwords")


def csp_directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
            for part in (p.strip() for p in policy.split(";")) if part}


def assert_hardened(response, framable_by: str | None = None):
    csp = csp_directives(response)
    assert csp["script-src"] == "'self'", csp
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]
    assert csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'none'"
    assert csp["default-src"] == "'self'"
    assert not {"ws:", "wss:", "*", "https:"} & set(csp["connect-src"].split())  # not any host
    if framable_by:
        assert csp["frame-ancestors"] == framable_by
        assert "X-Frame-Options" not in response.headers
    else:
        assert csp["frame-ancestors"] == "'none'"
        assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer",
                                                   "strict-origin-when-cross-origin")


def test_every_get_route_and_error_answers_with_the_security_headers(app):
    users = {"facilitator": make_user("facilitator"), "facilitator_other": make_user(),
             "reviewer": make_user("reviewer"), "admin": make_user("admin")}
    world = make_world(users, "results")
    seen = 0
    for key, rule in route_keys(app):
        # The Socket.IO path is engine.io's: its answers (transport frames, never a page) do
        # not pass through Flask's response hooks. Its rule only serves the events' contexts.
        if not key.startswith("GET ") or key == "GET live_socket":
            continue
        for role in ("anonymous", "facilitator", "participant", "presenter"):
            client = client_for(app, world, role)
            response = client.get(url_for_rule(app, rule, world, role))
            response.get_data()
            response.close()
            assert_hardened(response)
            seen += 1
    assert seen > 40
    client = app.test_client()
    for response in (client.get("/no-such-page"), client.get("/api/v1/nothing"),
                     client.post("/api/v1/workshops", data="x", content_type="text/plain")):
        assert response.status_code >= 400
        assert_hardened(response)
    # No HSTS over plain http on a laptop.
    assert "Strict-Transport-Security" not in client.get("/").headers


@pytest.mark.app_config({"PRESENTER_FRAME_ANCESTORS":
                         "https://intra.region.dk, * http://plain.example 'self' https://x;y"})
def test_only_the_presenter_screen_may_be_framed_and_only_by_the_configured_hosts(app):
    workshop = make_workshop()
    client = app.test_client()
    screen = client.get(f"/present/{workshop.code}?key={workshop.presenter_key}")
    assert screen.status_code == 200
    assert_hardened(screen, framable_by="https://intra.region.dk 'self'")
    assert_hardened(client.get(f"/j/{workshop.code}"))
    assert_hardened(client.get("/api/v1/openapi.json"))


def test_frame_ancestors_setting_keeps_only_https_origins():
    assert presenter_frame_ancestors("") == ()
    assert presenter_frame_ancestors("*") == ()
    assert presenter_frame_ancestors("https://*.region.dk http://a.dk") == ()
    assert presenter_frame_ancestors("https://A.dk/path,https://b.dk") == (
        "https://a.dk", "https://b.dk")


def test_production_settings_make_cookies_secure_and_send_hsts(monkeypatch, tmp_path):
    monkeypatch.setenv("PUBLIC_URL", "https://samskab.region.dk")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    config = Config()
    assert config.SESSION_COOKIE_SECURE and config.REMEMBER_COOKIE_SECURE
    assert config.PARTICIPANT_COOKIE_SECURE
    assert config.SESSION_COOKIE_HTTPONLY and config.SESSION_COOKIE_SAMESITE == "Lax"
    assert config.RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/15"  # limits in Redis
    monkeypatch.delenv("REDIS_URL")
    settings = {k: v for k, v in vars(Config()).items()}
    settings.update({"TESTING": True, "SQLALCHEMY_DATABASE_URI":
                     f"sqlite:///{tmp_path / 'prod.sqlite3'}", "SOCKETIO_ASYNC_MODE": "threading",
                     "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False})
    app = create_app(settings)
    with app.app_context():
        db.create_all()
        user = make_user("facilitator")
        workshop = make_workshop(user, phase="ideation")
        client = app.test_client(use_cookies=True)
        response = client.post("/api/v1/auth/login", json={"email": user.email,
                                                           "password": PASSWORD},
                               base_url="https://samskab.region.dk")
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        joined = app.test_client().post(
            f"/api/v1/workshops/{workshop.code}/participants",
            json={"display_name": "Ane", "consent": True}, base_url="https://samskab.region.dk")
        participant_cookie = joined.headers["Set-Cookie"]
        assert "Secure" in participant_cookie and "HttpOnly" in participant_cookie
        assert "SameSite=Lax" in participant_cookie
        db.session.remove()
        db.engine.dispose()


def test_participant_and_session_cookies_are_httponly_and_samesite(app):
    workshop = make_workshop(phase="ideation")
    response = app.test_client().post(f"/api/v1/workshops/{workshop.code}/participants",
                                      json={"display_name": "Ane", "consent": True})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    login = app.test_client().post("/api/v1/auth/login", json={
        "email": facilitator_of(workshop).email, "password": PASSWORD})
    assert "HttpOnly" in login.headers["Set-Cookie"]
    assert "SameSite=Lax" in login.headers["Set-Cookie"]


def _session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_the_staff_session_rotates_on_login_and_dies_everywhere_on_logout(app):
    user = make_user("facilitator")
    client = app.test_client()
    with client.session_transaction() as session:  # a session planted before login
        session["planted"] = "by an attacker"
    planted = _session_cookie(client)
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}) \
        .status_code == 302
    signed_in = _session_cookie(client)
    assert signed_in and signed_in != planted
    with client.session_transaction() as session:
        assert "planted" not in session
    # A copy of the signed-in cookie (another tab, a stolen cookie) works until logout ...
    copy = app.test_client()
    copy.set_cookie("session", signed_in)
    assert copy.get("/api/v1/auth/me").status_code == 200
    assert client.post("/logout").status_code == 302
    # ... and not after: logging out ends every session of the user.
    assert copy.get("/api/v1/auth/me").status_code == 401
    assert copy.get("/facilitate/").status_code == 302
    # Logging in again gives a new, working session.
    again = app.test_client()
    assert again.post("/api/v1/auth/login", json={"email": user.email,
                                                  "password": PASSWORD}).status_code == 200
    assert again.get("/api/v1/auth/me").status_code == 200


def _live(app, http, code):
    with app.app_context():
        return socketio.test_client(app, namespace=NAMESPACE, auth={"workshop": code},
                                    flask_test_client=http)


def test_logging_out_closes_the_users_sockets(app):
    workshop = make_workshop(phase="ideation")
    user = facilitator_of(workshop)
    tablet, laptop = client_for_user(app, user), client_for_user(app, user)
    console = _live(app, tablet, workshop.code)
    participant = join_as(workshop, "Ane")
    phone = app.test_client()
    phone.set_cookie(f"samskab_p_{workshop.code}", participant.token)
    ane = _live(app, phone, workshop.code)
    assert console.is_connected(NAMESPACE) and ane.is_connected(NAMESPACE)
    console.get_received(NAMESPACE)
    assert laptop.post("/api/v1/auth/logout", json={}).status_code == 200
    # The test client will not list messages once disconnected: read its queue.
    messages = [m["name"] for m in console.queue if m["namespace"] == NAMESPACE]
    assert "session_ended" in messages
    assert not console.is_connected(NAMESPACE)
    assert ane.is_connected(NAMESPACE)  # only that user's connections
    ane.disconnect(NAMESPACE)


def client_for_user(app, user):
    client = app.test_client()
    assert client.post("/api/v1/auth/login", json={"email": user.email,
                                                   "password": PASSWORD}).status_code == 200
    return client


def test_a_connection_of_a_logged_out_user_is_refused_even_if_it_was_not_closed(app,
                                                                               monkeypatch):
    """As for a connection held by another process: its next facilitator event is refused."""
    import workshop.live as live
    from workshop.domain.users import end_sessions

    workshop = make_workshop(phase="ideation")
    user = facilitator_of(workshop)
    console = _live(app, client_for_user(app, user), workshop.code)
    monkeypatch.setattr(live, "close_connections", lambda **kwargs: 0)  # "another process"
    end_sessions(user)
    assert console.is_connected(NAMESPACE)
    with app.app_context():
        ack = console.emit("set_phase", {"phase": "review"}, namespace=NAMESPACE, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "unauthenticated"
    db.session.expire_all()
    assert db.session.get(type(workshop), workshop.id).phase == "ideation"
    assert not console.is_connected(NAMESPACE)  # and the server ended that connection


def test_engineio_answers_carry_the_security_headers_too(app):
    """engine.io answers its long-polling requests before Flask: the middleware adds what
    Flask's after_request would (nothing there is a page), without touching Flask's pages."""
    client = app.test_client()
    origin = app.config["PUBLIC_URL"]
    handshake = client.get("/socket.io/?EIO=4&transport=polling", headers={"Origin": origin})
    refused = client.get("/socket.io/?EIO=4&transport=polling",
                         headers={"Origin": "https://evil.example"})
    unknown = client.get("/socket.io/?EIO=4&transport=polling&sid=nobody")
    assert handshake.status_code == 200 and handshake.get_data(as_text=True).startswith("0{")
    assert refused.status_code == 400 and unknown.status_code == 400
    for response in (handshake, refused, unknown):
        assert csp_directives(response) == {"default-src": "'none'", "frame-ancestors": "'none'"}
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers.getlist("Content-Security-Policy") == [
            response.headers["Content-Security-Policy"]]  # added once, not beside another
        assert "Strict-Transport-Security" not in response.headers  # http here
    page = client.get("/")
    assert_hardened(page)  # Flask's own policy, not the socket's


def test_the_socket_headers_add_hsts_behind_https_and_keep_what_engineio_set():
    """Behind an https PUBLIC_URL engine.io's answers get HSTS as pages do; a header engine.io
    set itself is kept, not doubled; other paths pass through untouched."""
    sent = {}

    def engineio(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", "private")])
        return [b"ok"]

    def start_response(status, headers, exc_info=None):
        sent["headers"] = headers

    app = SocketResponseHeaders(engineio, "socket.io", secure=True)
    app({"PATH_INFO": "/socket.io/"}, start_response)
    names = [name for name, _ in sent["headers"]]
    assert dict(sent["headers"])["Strict-Transport-Security"].startswith("max-age=")
    assert names.count("Cache-Control") == 1 and dict(sent["headers"])["Cache-Control"] == "private"
    app({"PATH_INFO": "/socket.iox"}, start_response)
    assert [name for name, _ in sent["headers"]] == ["Content-Type", "Cache-Control"]
