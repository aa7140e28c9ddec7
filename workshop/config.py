"""Settings read from the environment, with safe defaults for a laptop."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


# The databases Samskab runs on, by SQLAlchemy's driver names (requirements.txt installs them).
_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")


def database_url(raw: str | None) -> str:
    """Normalise DATABASE_URL as hosting platforms give it to an SQLAlchemy URL.

    `postgres://` and `postgresql://` both mean PostgreSQL through psycopg 3.
    Without a value, an SQLite file under instance/ is used.
    """
    if not raw:
        INSTANCE.mkdir(exist_ok=True)
        return f"sqlite:///{INSTANCE / 'samskab.sqlite3'}"
    uri = raw
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            uri = "postgresql+psycopg://" + raw[len(prefix):]
    try:
        drivername = make_url(uri).drivername
    except ArgumentError:  # not a URL at all (a typo such as sqlite//...)
        drivername = None
    if drivername not in _DRIVERS:
        raise ConfigError("DATABASE_URL", raw,
                          "a URL starting with sqlite:/// or postgresql://")
    return uri


def sqlite_in_memory(uri: str) -> bool:
    """Whether a database URL names an in-memory SQLite database (no file)."""
    url = make_url(uri)
    return url.get_backend_name() == "sqlite" and (
        not url.database or ":memory:" in url.database or "mode=memory" in uri)


def engine_options(uri: str, pool_size: int | None = None,
                   max_overflow: int | None = None) -> dict:
    """Connection pool settings for one gevent process serving hundreds of sockets at once.

    Every socket event and request holds a connection from its first statement to its commit,
    and a greenlet waiting for a free one waits for everyone ahead of it; so the pool is sized
    for the concurrency of a live workshop rather than for a few threads. An SQLite file is a
    local file: no network to ping, and a connection is cheap to keep. `pool_size` and
    `max_overflow` (DATABASE_POOL_SIZE, DATABASE_MAX_OVERFLOW) replace the defaults: with
    several processes on one PostgreSQL, all their connections must fit its
    `max_connections` (docs/deployment.md)."""
    if uri.startswith("sqlite"):
        if sqlite_in_memory(uri):
            return {}  # one shared in-memory database (tests): SQLAlchemy's StaticPool
        options = {"pool_size": 50, "max_overflow": 50, "pool_timeout": 10}
    else:
        # No pre-ping: a round trip before every event's first statement. A connection the
        # server dropped fails once; SQLAlchemy then discards the pool, and the action is
        # refused as "unavailable" (clients retry it).
        options = {"pool_pre_ping": False, "pool_recycle": 1800, "pool_size": 10,
                   "max_overflow": 20, "pool_timeout": 10}
    if pool_size is not None:
        options["pool_size"] = pool_size
    if max_overflow is not None:
        options["max_overflow"] = max_overflow
    return options


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one kept in instance/ so sessions survive restarts."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class ConfigError(SystemExit):
    """A setting in the environment that cannot be used: the process stops with this message
    (no traceback) instead of starting half-configured."""

    def __init__(self, name: str, value: str, expected: str):
        super().__init__(f"Samskab cannot start: {name}={value!r} is not valid; "
                         f"expected {expected}.")


def _number(env, name: str, default: str, kind=int, minimum: float = 0):
    raw = env.get(name) or default
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or value != value or value < minimum:  # value != value: NaN
        raise ConfigError(name, raw, f"{'an integer' if kind is int else 'a number'}"
                                     f" of at least {minimum:g}")
    return value


def _optional_int(env, name: str, minimum: int) -> int | None:
    """An integer setting that may be left out (None: the built-in default applies)."""
    return _number(env, name, "", int, minimum) if (env.get(name) or "").strip() else None


def _thresholds(env, name: str, default: str) -> tuple[int, int, int]:
    raw = env.get(name) or default
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise ConfigError(name, raw, "three positive integers such as 10000,10,10")
    return values


def _rate(env, name: str, default: str) -> str:
    from limits import parse

    raw = env.get(name, default)
    try:
        parse(raw)
    except ValueError:
        raise ConfigError(name, raw, 'a rate such as "30 per minute"') from None
    return raw


def _url(env, name: str, default: str | None, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name) or default
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(name, raw, "a URL starting with " + " or ".join(f"{s}://"
                                                                          for s in schemes))
    return raw


class Config:
    def __init__(self) -> None:
        env = os.environ
        self.SECRET_KEY = _secret_key()
        self.SQLALCHEMY_DATABASE_URI = database_url(env.get("DATABASE_URL"))
        # Database connections each process keeps open, and how many more it may open when
        # busy; unset: 10 + 20 on PostgreSQL, 50 + 50 on SQLite (engine_options). With several
        # processes, processes x (both) must fit PostgreSQL's max_connections.
        self.DATABASE_POOL_SIZE = _optional_int(env, "DATABASE_POOL_SIZE", 1)
        self.DATABASE_MAX_OVERFLOW = _optional_int(env, "DATABASE_MAX_OVERFLOW", 0)
        self.REDIS_URL = _url(env, "REDIS_URL", None, ("redis", "rediss"))
        # The Redis channel the processes of one deployment share (one per deployment).
        self.SOCKETIO_CHANNEL = env.get("SOCKETIO_CHANNEL", "samskab")
        self.PUBLIC_URL = _url(env, "PUBLIC_URL", "http://127.0.0.1:5000",
                               ("http", "https")).rstrip("/")
        secure = urlsplit(self.PUBLIC_URL).scheme == "https"
        self.SESSION_COOKIE_SECURE = secure
        self.REMEMBER_COOKIE_SECURE = secure
        self.PARTICIPANT_COOKIE_SECURE = secure
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.BABEL_DEFAULT_LOCALE = "da"
        self.BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "translations")
        self.LANGUAGES = ("da", "en")
        self.WTF_CSRF_TIME_LIMIT = None  # a workshop page may stay open for hours
        self.RATELIMIT_ENABLED = env.get("RATELIMIT_ENABLED", "1") != "0"
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "samskab-memory://"
        self.RATELIMIT_HEADERS_ENABLED = True
        # Joins are counted per address, and a whole venue may share one public address.
        self.RATELIMIT_JOIN = _rate(env, "RATELIMIT_JOIN", "300 per minute")
        self.RATELIMIT_LOGIN = _rate(env, "RATELIMIT_LOGIN", "10 per minute")
        # Failed logins per account (the e-mail tried), from whatever address.
        self.RATELIMIT_LOGIN_ACCOUNT = _rate(env, "RATELIMIT_LOGIN_ACCOUNT", "10 per 10 minutes")
        # Proposals and comments, counted per participant across pages, API and sockets.
        self.RATELIMIT_PARTICIPANT_WRITE = _rate(env, "RATELIMIT_PARTICIPANT_WRITE",
                                                 "30 per minute")
        # Votes, per participant (moving dots about is quick, but not a flood).
        self.RATELIMIT_PARTICIPANT_VOTE = _rate(env, "RATELIMIT_PARTICIPANT_VOTE",
                                                "120 per minute")
        # A Redis hiccup must not turn every request into a 500: count in memory meanwhile.
        self.RATELIMIT_SWALLOW_ERRORS = True
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_KEY_PREFIX = "samskab"
        # Socket events per connection: a token bucket of LIVE_EVENT_BURST events, refilled at
        # LIVE_EVENT_RATE per second (a person clicking fast stays well within it).
        self.LIVE_EVENT_RATE = _number(env, "LIVE_EVENT_RATE", "5", float, 0.1)
        self.LIVE_EVENT_BURST = _number(env, "LIVE_EVENT_BURST", "30", int, 1)
        # Seconds between giving freed heap back to the operating system (workshop/heap.py),
        # so that the server's memory follows what is in use, not its highest peak; 0: never.
        self.HEAP_TRIM_INTERVAL = _number(env, "HEAP_TRIM_INTERVAL", "30", float, 0)
        # Seconds between SQLite's WAL checkpoints, which the server runs in a native thread
        # instead of inside a commit on the event loop (workshop/wal.py); 0: SQLite's own.
        self.SQLITE_CHECKPOINT_INTERVAL = _number(env, "SQLITE_CHECKPOINT_INTERVAL", "0.5",
                                                  float, 0)
        # The server's cycle-collector thresholds, three integers (workshop/heap.py, tune_gc):
        # a full collection stops every connection of the process while it runs; against
        # Python's own 700,10,10 the default cuts the p99 ack to a third (docs/performance.md,
        # "Garbage collection").
        self.GC_THRESHOLDS = _thresholds(env, "GC_THRESHOLDS", "10000,10,10")
        # How many proxies (load balancer, nginx) stand in front: their X-Forwarded-For is
        # trusted that many hops deep, so that limits per address see the client's address.
        self.TRUSTED_PROXIES = _number(env, "TRUSTED_PROXIES", "0")
        # Hosts that may frame the presenter screen (e.g. an intranet's display page), as
        # https origins separated by spaces; every other page may not be framed at all.
        self.PRESENTER_FRAME_ANCESTORS = env.get("PRESENTER_FRAME_ANCESTORS", "")
        # Who participants can ask about their data (shown in the privacy notice), e.g. an
        # e-mail address of the region's data protection officer.
        self.PRIVACY_CONTACT = env.get("PRIVACY_CONTACT", "")
        self.MAX_CONTENT_LENGTH = 64 * 1024
        self.TEMPLATES_AUTO_RELOAD = False
        self.ACCESSIBILITY_STATEMENT_URL = env.get("ACCESSIBILITY_STATEMENT_URL", "")
