"""Fixtures for the browser tests: one chromium for the session, one real server per module.

Chromium is Debian's (/usr/bin/chromium); Playwright never downloads a browser. Without it the
tests skip on a laptop and fail in CI (`require_service`)."""

from __future__ import annotations

import os

import pytest

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, PHONE, WAIT_MS, new_page
from tests.conftest import require_service
from tests.server import running_server


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    require_service(CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK),
                    f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real server (gunicorn, gevent worker) on an SQLite file of its own, per module."""
    database = tmp_path_factory.mktemp("browser") / "samskab.sqlite3"
    with running_server(f"sqlite:///{database}", ACCESSIBILITY_STATEMENT_URL="") as server:
        yield server


@pytest.fixture
def person(browser):
    """Open a page for another person (a browser context of its own); all closed at the end."""
    opened = []

    def open_page(viewport=PHONE, **options):
        page = new_page(browser, viewport=viewport, **options)
        opened.append(page.context)
        return page

    yield open_page
    for context in opened:
        context.close()
