"""A page's live connection comes back by itself after the server restarted while the database
was away (issue 7): the reconnect is refused as "unavailable", which Socket.IO never retries on
its own, so the page does (live.js); once the database is back, the page shows the server's
state again without a reload."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, make_url, text

from tests.browser.support import (
    api_create_workshop,
    api_session,
    api_set_phase,
    join,
    make_user,
    wait_phase,
)
from tests.faults.harness import RestartableServer
from tests.server import fresh_postgres_database

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.postgres]

REFUSED_S = 30.0  # a limit on waiting for the refusal to happen, not an assertion


@contextmanager
def database_away(url: str):
    """No new connection to this database, and every open one cut (as a failover would);
    the rest of the PostgreSQL server, and the other tests' databases, carry on."""
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name"), {"name": name})
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


def test_a_page_refused_while_the_database_is_away_comes_back_by_itself(postgres_database,
                                                                        person):
    with fresh_postgres_database(postgres_database) as url:
        server = RestartableServer(url).start()
        try:
            staff = api_session(server, make_user(server))
            code = api_create_workshop(server, staff, "Genforbindelse")
            anna = person()
            join(anna, server, code, "Anna", "Ældre Sagen")
            anna.evaluate("() => { window.__samskabMark = 'same page'; }")
            html = anna.locator("html")

            server.kill()
            with database_away(url):
                server.start()  # it starts without the database; its sockets are refused
                deadline = time.monotonic() + REFUSED_S
                while "database unavailable during connect" not in server.read_log():
                    assert time.monotonic() < deadline, server.read_log()[-3000:]
                    time.sleep(0.2)
                expect(html).to_have_attribute("data-live-state", "offline")

            # The database is back: the page connects again by itself and follows the
            # facilitator, on the same page (no reload).
            expect(html).to_have_attribute("data-live-state", "ready", timeout=40_000)
            api_set_phase(server, staff, code, "ideation")
            wait_phase(anna, "ideation")
            assert anna.evaluate("() => window.__samskabMark") == "same page"
        finally:
            server.close()
