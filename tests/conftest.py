"""Fixtures in the style of the Flask tutorial: `app`, `client`, `runner`, plus `api` and
`auth` helpers. Tests that need PostgreSQL, Redis or Chromium skip on a laptop without them,
and fail in CI (CI=true), where those services must be there."""

from __future__ import annotations

import contextvars
import os
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from workshop import create_app
from workshop.config import database_url
from workshop.extensions import db

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require_service(available: bool, reason: str) -> None:
    """Skip with a clear reason on a laptop; in CI a missing service is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


def pytest_collection_modifyitems(config, items):
    """The fault tests stop and start the machine's services: run them after everything else."""
    items.sort(key=lambda item: "/faults/" in str(item.fspath))


@pytest.fixture(scope="session")
def postgres_database():
    """A fresh PostgreSQL database for this test process, dropped at the end."""
    base = make_url(database_url(POSTGRES_URL))
    try:
        # pre_ping: the fault tests restart PostgreSQL; later tests get fresh connections.
        admin = create_engine(base, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        require_service(False, f"PostgreSQL not reachable at {POSTGRES_URL}: {error}")
    name = f"samskab_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_config(database_uri: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SOCKETIO_ASYNC_MODE": "threading",
        "REDIS_URL": None,
        "PUBLIC_URL": "http://localhost",
        "SERVER_NAME": None,
        "TALLY_INTERVAL": 3600,  # tests flush tallies themselves (broadcaster.flush)
    }


@pytest.fixture(params=["sqlite"])
def app(request, tmp_path):
    """The app on a fresh database. Parametrize with ["sqlite", "postgresql"] to run on both:
    `@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)`."""
    backend = request.param
    if backend == "postgresql":
        uri = request.getfixturevalue("postgres_database")
    else:
        uri = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    overrides = getattr(request, "node", None) and request.node.get_closest_marker("app_config")
    config = test_config(uri)
    if overrides:
        config.update(overrides.args[0])
    app = create_app(config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        if backend == "postgresql":
            db.drop_all()
        db.create_all()
    with app.app_context():
        yield app
        db.session.remove()
        if backend == "postgresql":
            db.drop_all()
        db.engine.dispose()


class IsolatedClient(FlaskClient):
    """A test client whose every request runs as on a server: outside the test's own context.

    The `app` fixture keeps one app context pushed for the whole test (so that factories can
    write), and Flask's test client would otherwise reuse it: `g` (Flask-Login's user, the
    participant behind a cookie) and the database session would leak from one request, and
    one person, to the next. So each request runs in an empty `contextvars` context, where
    Flask pushes an app context of its own and tears it down (ending its database session)
    when the view returns, before the first byte of a streamed body is read, as a WSGI server
    does. After each request the test's own session forgets what it had loaded, so a test
    reads what the request wrote."""

    _serving = False

    def open(self, *args, **kwargs):
        if self._serving:  # a redirect followed from within a request being served
            return super().open(*args, **kwargs)

        def serve():
            self._serving = True
            try:
                response = super(IsolatedClient, self).open(*args, **kwargs)
                response.get_data()  # the whole body, in the request's context, as sent
                return response
            finally:
                self._serving = False

        response = contextvars.Context().run(serve)
        db.session.expire_all()
        return response


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Api:
    """JSON calls against /api/v1 with one client (one cookie jar: one person)."""

    def __init__(self, client):
        self.client = client

    def _call(self, method, path, json=None, **kwargs):
        if method != "GET" and json is None and "data" not in kwargs:
            json = {}
        return self.client.open("/api/v1" + path, method=method, json=json, **kwargs)

    def get(self, path, **kwargs):
        return self._call("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self._call("POST", path, json, **kwargs)

    def put(self, path, json=None, **kwargs):
        return self._call("PUT", path, json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self._call("PATCH", path, json, **kwargs)

    def delete(self, path, **kwargs):
        return self._call("DELETE", path, **kwargs)

    def login(self, email, password="correct-horse"):
        response = self.post("/auth/login", {"email": email, "password": password})
        assert response.status_code == 200, response.get_json()
        return response


@pytest.fixture
def api(client):
    return Api(client)


@pytest.fixture
def new_api(app):
    """Make another API client: another person on another phone."""
    return lambda: Api(app.test_client())


@pytest.fixture
def fast_passwords(monkeypatch):
    """Cheap password hashes for tests that make many users (scrypt costs ~0.1 s each)."""
    from werkzeug.security import generate_password_hash

    import workshop.models

    monkeypatch.setattr(workshop.models, "generate_password_hash",
                        lambda password: generate_password_hash(password, "pbkdf2:sha256:1"))


# Every client is isolated now (IsolatedClient); these names stay for the tests that use them.
IsolatedApi = Api


@pytest.fixture
def isolated_api(app):
    return IsolatedApi(app.test_client())


@pytest.fixture
def new_isolated_api(app):
    """Another person on another phone, each request isolated as on a real server."""
    return lambda: IsolatedApi(app.test_client())


# --- Query discipline (issue 6) -------------------------------------------------------------------


class QueryCount(int):
    """A number of SQL statements that remembers them, so a failed bound lists what ran."""

    statements: tuple[str, ...] = ()

    def __new__(cls, statements):
        count = super().__new__(cls, len(statements))
        count.statements = tuple(statements)
        return count

    def report(self) -> list[str]:
        return [f"{len(self.statements)} SQL statements:"] + [
            f"  {i}. {_compact(statement)}" for i, statement in enumerate(self.statements, 1)
        ]


def _compact(statement: str) -> str:
    """One line per statement; a long list of selected columns is elided."""
    statement = " ".join(statement.split())
    head, sep, rest = statement.partition(" FROM ")
    if sep and head.startswith("SELECT ") and len(head) > 60:
        head = head.split(", ")[0] + ", …"
    return head + sep + rest


class QueryCounter:
    """The statements run through the app's engine inside one `with count_queries():` block."""

    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> QueryCount:
        return QueryCount(self.statements)

    def __repr__(self) -> str:
        return "\n".join(self.count.report())


@pytest.fixture
def count_queries(app):
    """Count the SQL statements the app runs (SQLAlchemy's `before_cursor_execute`):

        with count_queries() as q:
            vote(...)
        assert q.count <= 6

    A failed comparison of `q.count` lists every statement that ran."""
    from contextlib import contextmanager

    from sqlalchemy import event

    @contextmanager
    def counting():
        counter = QueryCounter()

        def record(conn, cursor, statement, parameters, context, executemany):
            counter.statements.append(statement)

        engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting


def pytest_assertrepr_compare(op, left, right):
    """`assert q.count <= N` (or `==` two counts) explains itself with the statements."""
    counts = [side for side in (left, right) if isinstance(side, QueryCount)]
    if not counts:
        return None
    def plain(side):
        return int(side) if isinstance(side, QueryCount) else side

    lines = [f"{plain(left)!r} {op} {plain(right)!r}"]
    for count in counts:
        lines.extend(count.report())
    return lines
