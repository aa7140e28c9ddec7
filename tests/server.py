"""The real server in a subprocess, as the Procfile runs it: gunicorn with one gevent worker.

    with running_server(database_url) as server:
        requests.get(server.url + "/api/v1/openapi.json")

The database is migrated first with `flask db upgrade` (as the Procfile's release line does).
`fresh_postgres_database` makes a PostgreSQL database of its own for one test, next to the
one conftest's `postgres_database` fixture made, and drops it afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
START_TIMEOUT = 30.0  # seconds until the server must answer; a limit, not an assertion
LOG_TAIL_LINES = 80  # of the server's log, added to a failing test's report


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("REDIS_URL", "FLASK_APP", "FLASK_DEBUG"):
        env.pop(name, None)
    env.update({
        "DATABASE_URL": database_url,
        "SECRET_KEY": "server-test-" + uuid.uuid4().hex,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "RATELIMIT_ENABLED": "0",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run a `flask --app workshop ...` command against the server's database."""
    return subprocess.run([str(BIN / "flask"), "--app", "workshop", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@contextmanager
def running_server(database_url: str, **extra_env: str) -> Iterator[Server]:
    port = free_port()
    env = server_env(database_url, port, **extra_env)
    migrated = flask(env, "db", "upgrade")
    if migrated.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{migrated.stdout}\n{migrated.stderr}")
    log_file = tempfile.NamedTemporaryFile(prefix="samskab-server-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--worker-class", "gevent", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "workshop.wsgi:app"],
        cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )
    server = Server(f"http://127.0.0.1:{port}", process, Path(log_file.name), env)
    failed = False
    try:
        _wait_until_answering(server)
        yield server
    except Exception as error:
        failed = True
        # The server's side of a failure goes with the test's report, and its log is kept.
        error.add_note(f"server log kept at {log_file.name}; its end:\n"
                       + _tail(server.log(), LOG_TAIL_LINES))
        raise
    finally:
        # gunicorn's quick shutdown (SIGINT): its graceful one (SIGTERM) waits for idle
        # keep-alive connections (a browser's) to time out, up to gunicorn.conf.py's 10 s.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log_file.close()
        if not failed:
            os.unlink(log_file.name)


def _tail(log: str, lines: int) -> str:
    return "\n".join(log.splitlines()[-lines:])


def _wait_until_answering(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with {server.process.returncode}:\n"
                               f"{server.log()}")
        try:
            if requests.get(server.url + "/api/v1/openapi.json", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer within {START_TIMEOUT} s:\n"
                               f"{server.log()}")
        time.sleep(0.1)


@contextmanager
def fresh_postgres_database(postgres_database: str) -> Iterator[str]:
    """An empty database of its own on the same PostgreSQL server; dropped at the end."""
    base = make_url(postgres_database)
    # pre_ping: a fault test may restart PostgreSQL while this engine holds a connection.
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          pool_pre_ping=True)
    name = f"samskab_srv_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
