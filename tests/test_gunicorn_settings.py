"""gunicorn.conf.py's settings hold in the real server (gunicorn reads it from the repository's
root, where the Procfile, `make run`, the tests and the benchmark start it)."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.server import running_server

pytestmark = pytest.mark.server

# Longer than gunicorn's default keep-alive (2 s), within gunicorn.conf.py's (10 s).
LATE_S = 3.0


def test_a_request_that_arrives_late_on_a_new_connection_is_answered(tmp_path):
    """At gunicorn's default, a connection whose request had not arrived within 2 s on the
    event loop's clock was closed without a response; a busy loop made that happen to
    clients that had sent in time."""
    with running_server(f"sqlite:///{tmp_path / 'late.sqlite3'}") as server:
        address = urlsplit(server.url)
        with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
            time.sleep(LATE_S)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Connection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
