"""Settings from the environment: a value that cannot be used stops the app at start with a
message naming the setting (no traceback), for `flask` commands and for the server alike."""

from __future__ import annotations

import subprocess

import pytest

from tests.server import BIN, ROOT
from workshop import create_app
from workshop.config import Config, ConfigError, engine_options

BAD = [
    ("LIVE_EVENT_RATE", "fast", "a number of at least 0.1"),
    ("LIVE_EVENT_RATE", "nan", "a number of at least 0.1"),
    ("HEAP_TRIM_INTERVAL", "-1", "a number of at least 0"),
    ("SQLITE_CHECKPOINT_INTERVAL", "soon", "a number of at least 0"),
    ("LIVE_EVENT_BURST", "-3", "an integer of at least 1"),
    ("GC_THRESHOLDS", "10000,10", "three positive integers such as 10000,10,10"),
    ("GC_THRESHOLDS", "0,10,10", "three positive integers such as 10000,10,10"),
    ("GC_THRESHOLDS", "lots", "three positive integers such as 10000,10,10"),
    ("TRUSTED_PROXIES", "one", "an integer of at least 0"),
    ("DATABASE_POOL_SIZE", "0", "an integer of at least 1"),
    ("DATABASE_POOL_SIZE", "ten", "an integer of at least 1"),
    ("DATABASE_MAX_OVERFLOW", "-1", "an integer of at least 0"),
    ("RATELIMIT_JOIN", "lots", 'a rate such as "30 per minute"'),
    ("RATELIMIT_PARTICIPANT_VOTE", "120 per fortnight", 'a rate such as "30 per minute"'),
    ("PUBLIC_URL", "samskab.region.dk", "a URL starting with http:// or https://"),
    ("REDIS_URL", "localhost:6379", "a URL starting with redis:// or rediss://"),
    ("DATABASE_URL", "sqlite//instance/x.sqlite3", "a URL starting with sqlite:/// or postgresql://"),
    ("DATABASE_URL", "mysql://db.region.dk/samskab",
     "a URL starting with sqlite:/// or postgresql://"),
    ("DATABASE_URL", "postgresql+psycopg2://db/samskab",
     "a URL starting with sqlite:/// or postgresql://"),
]


@pytest.mark.parametrize(("name", "value", "expected"), BAD)
def test_a_bad_setting_is_named_with_what_is_expected(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        Config()
    assert str(raised.value) == (f"Samskab cannot start: {name}={value!r} is not valid; "
                                 f"expected {expected}.")


def test_good_and_empty_settings_are_taken(monkeypatch):
    monkeypatch.setenv("LIVE_EVENT_RATE", "2.5")
    monkeypatch.setenv("LIVE_EVENT_BURST", "10")
    monkeypatch.setenv("TRUSTED_PROXIES", "")
    monkeypatch.setenv("RATELIMIT_JOIN", "500/minute")
    monkeypatch.setenv("PUBLIC_URL", "https://samskab.region.dk/")
    monkeypatch.setenv("REDIS_URL", "rediss://cache.region.dk:6380/0")
    monkeypatch.setenv("DATABASE_URL", "postgres://samskab@db.region.dk/samskab")
    monkeypatch.delenv("GC_THRESHOLDS", raising=False)
    assert Config().GC_THRESHOLDS == (10000, 10, 10)  # the default (docs/performance.md)
    monkeypatch.setenv("GC_THRESHOLDS", " 5000, 20,10 ")
    config = Config()
    assert config.GC_THRESHOLDS == (5000, 20, 10)
    assert (config.LIVE_EVENT_RATE, config.LIVE_EVENT_BURST, config.TRUSTED_PROXIES) == (2.5, 10, 0)
    assert config.PUBLIC_URL == "https://samskab.region.dk" and config.SESSION_COOKIE_SECURE
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://samskab@db.region.dk/samskab"
    for uri in ("sqlite:///instance/x.sqlite3", "sqlite+pysqlite:///:memory:",
                "postgresql+psycopg://db/samskab"):
        monkeypatch.setenv("DATABASE_URL", uri)
        assert Config().SQLALCHEMY_DATABASE_URI == uri


@pytest.mark.parametrize(("name", "value"), [("LIVE_EVENT_BURST", "many"),
                                             ("LOG_LEVEL", "LOUD"), ("LOG_FORMAT", "xml"),
                                             ("DATABASE_URL", "sqlite//x.sqlite3")])
def test_a_flask_command_stops_with_the_message_and_no_traceback(tmp_path, name, value):
    import os

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", name: value}
    env.pop("FLASK_APP", None)
    done = subprocess.run([str(BIN / "flask"), "--app", "workshop", "routes"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"Samskab cannot start: {name}=" in done.stderr
    assert "is not valid" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.server
def test_the_server_stops_with_the_message_instead_of_restarting_its_worker(tmp_path):
    import os

    from tests.server import free_port

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
           "RATELIMIT_LOGIN": "often"}
    done = subprocess.run(
        [str(BIN / "gunicorn"), "--worker-class", "gevent", "--workers", "1", "--bind",
         f"127.0.0.1:{free_port()}", "workshop.wsgi:app"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 4  # gunicorn: "App failed to load", the master stops too
    assert "Samskab cannot start: RATELIMIT_LOGIN='often' is not valid" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_pool_is_sized_by_the_environment_or_by_the_database(monkeypatch, tmp_path):
    """Several processes on one PostgreSQL must fit its max_connections: DATABASE_POOL_SIZE and
    DATABASE_MAX_OVERFLOW size each process's pool; unset, each database has its default."""
    pg, lite = "postgresql+psycopg://db/samskab", f"sqlite:///{tmp_path}/x.sqlite3"
    assert (engine_options(pg)["pool_size"], engine_options(pg)["max_overflow"]) == (10, 20)
    assert (engine_options(lite)["pool_size"], engine_options(lite)["max_overflow"]) == (50, 50)
    assert engine_options("sqlite://") == {}  # in memory: one shared connection
    assert engine_options(pg, 5, 0) == {**engine_options(pg), "pool_size": 5, "max_overflow": 0}
    monkeypatch.delenv("DATABASE_POOL_SIZE", raising=False)
    monkeypatch.delenv("DATABASE_MAX_OVERFLOW", raising=False)
    assert (Config().DATABASE_POOL_SIZE, Config().DATABASE_MAX_OVERFLOW) == (None, None)
    monkeypatch.setenv("DATABASE_POOL_SIZE", " 8 ")
    monkeypatch.setenv("DATABASE_MAX_OVERFLOW", "0")
    monkeypatch.setenv("DATABASE_URL", lite)
    app = create_app()
    with app.app_context():
        from workshop.extensions import db

        assert (db.engine.pool.size(), db.engine.pool._max_overflow) == (8, 0)
        db.engine.dispose()
