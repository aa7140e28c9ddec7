"""The cookie session of a live connection, opened once per connection instead of per event.

Flask-SocketIO runs every event in a request context built from the connection's WSGI environ,
and Flask opens the session for every request context: it verifies and decodes the signed
session cookie again for each vote (about 5 % of the worker's CPU in a 2,000-person burst,
py-spy; see docs/performance.md). A connection's cookies cannot change while it is open, and
nothing in an event writes the session (a socket has no response to carry a cookie), so the
session opened for the connection's first context is kept in its environ and reused. Who may
do what is not decided by it after connect anyway: that is the connection's record, checked
against the database on every event (live/__init__.py).

Ordinary requests, and each request of the long-polling transport, have an environ of their
own and open their session as usual.
"""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

_KEY = "samskab.live_session"


class LiveSessionInterface(SecureCookieSessionInterface):
    def __init__(self, socketio_path: str = "socket.io"):
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
