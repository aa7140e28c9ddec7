"""What every event of a live connection shares, worked out once per connection instead of per
event: its cookie session and its URL match.

Flask-SocketIO runs every event in a request context built from the connection's WSGI environ,
and Flask opens the session for every request context: it verifies and decodes the signed
session cookie again for each vote (about 5 % of the worker's CPU in a 2,000-person burst,
py-spy; see docs/performance.md). A connection's cookies cannot change while it is open, and
nothing in an event writes the session (a socket has no response to carry a cookie), so the
session opened for the connection's first context is kept in its environ and reused. Who may
do what is not decided by it after connect anyway: that is the connection's record, checked
against the database on every event (live/__init__.py).

The URL match is the same for every event of a connection too (the Socket.IO path's rule,
live/__init__.py): `LiveRequestContext` keeps it in the environ after the first event. Besides
its time, each match left garbage for the cycle collector (werkzeug's matcher is a recursive
closure, a reference cycle per call), and the collector's pauses stop the whole process.

Ordinary requests, and each request of the long-polling transport, have an environ of their
own and open their session and match their URL as usual.
"""

from __future__ import annotations

from flask.ctx import RequestContext
from flask.sessions import SecureCookieSessionInterface

_KEY = "samskab.live_session"
_ROUTE = "samskab.live_route"
# Where engine.io answers (Flask-SocketIO's default, and what the browser's client asks for),
# and the endpoint of that path's rule in the URL map (live/__init__.py).
SOCKETIO_PATH = "socket.io"
LIVE_ENDPOINT = "live_socket"


class LiveSessionInterface(SecureCookieSessionInterface):
    def __init__(self, socketio_path: str = SOCKETIO_PATH):
        self.prefix = "/" + socketio_path.strip("/") + "/"

    def open_session(self, app, request):
        environ = request.environ
        if not (environ.get("PATH_INFO") or "").startswith(self.prefix):
            return super().open_session(app, request)
        session = environ.get(_KEY)
        if session is None:
            session = super().open_session(app, request)
            environ[_KEY] = session
        return session


class LiveRequestContext(RequestContext):
    """A request context whose URL match a live connection's environ keeps (Flask's documented
    hook for the match: `match_request`); the app's `request_context` makes these."""

    def match_request(self) -> None:
        environ = self.request.environ
        kept = environ.get(_ROUTE)
        if kept is not None:
            self.request.url_rule, view_args = kept
            self.request.view_args = dict(view_args)
            return
        super().match_request()
        if self.request.routing_exception is None \
                and self.request.url_rule.endpoint == LIVE_ENDPOINT:
            environ[_ROUTE] = (self.request.url_rule, dict(self.request.view_args or {}))
