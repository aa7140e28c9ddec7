"""Helpers for the browser tests: Playwright with Debian's chromium against the real server.

People are separate browser contexts (separate cookie jars: separate phones). Pages are driven
the way a person would: the facilitator logs in on the login page, participants join on the join
page, the presenter screen is opened from the link on the console.

Every wait is one of Playwright's waits with a generous limit (`WAIT_MS`); nothing asserts on
how long something took.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import requests

from tests.server import Server, flask

ROOT = Path(__file__).resolve().parents[2]
AXE_PATH = ROOT / "tests" / "vendor" / "axe.min.js"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
PASSWORD = "correct-horse-battery"
WAIT_MS = 15_000  # how long a step may wait for the page: a limit, not an assertion
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def make_user(server: Server, role: str = "facilitator", name: str | None = None) -> str:
    """A staff account made with the CLI, as an administrator would; returns its e-mail."""
    email = f"{role}-{uuid.uuid4().hex[:6]}@region.dk"
    args = ["users", "create", email, "--password", PASSWORD, "--role", role]
    if name:
        args += ["--name", name]
    made = flask(server.env, *args)
    assert made.returncode == 0, made.stdout + made.stderr
    return email


def api_session(server: Server, email: str) -> requests.Session:
    """The same staff person through the JSON API (for setting things up quickly)."""
    session = requests.Session()
    response = session.post(server.url + "/api/v1/auth/login",
                            json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return session


def api_participant(server: Server, code: str, name: str, organisation: str | None = None):
    """Another participant on another phone, through the JSON API."""
    session = requests.Session()
    response = session.post(f"{server.url}/api/v1/workshops/{code}/participants",
                            json={"display_name": name, "organisation": organisation,
                                  "consent": True})
    assert response.status_code == 201, response.text
    return session


def api_create_workshop(server: Server, staff: requests.Session, title: str = "Fremtidens sundhed",
                        **settings) -> str:
    response = staff.post(server.url + "/api/v1/workshops",
                          json={"title": title, "settings": settings or None})
    assert response.status_code == 201, response.text
    return response.json()["code"]


def api_elements(server: Server, code: str, session: requests.Session) -> list[dict]:
    response = session.get(f"{server.url}/api/v1/workshops/{code}")
    assert response.status_code == 200, response.text
    return response.json()["elements"]


def api_propose(server: Server, code: str, session: requests.Session, title: str,
                body: str = "", element_id: int | None = None) -> dict:
    if element_id is None:
        element_id = api_elements(server, code, session)[0]["id"]
    response = session.post(f"{server.url}/api/v1/workshops/{code}/proposals",
                            json={"title": title, "body": body, "element_id": element_id,
                                  "client_id": uuid.uuid4().hex})
    assert response.status_code in (200, 201), response.text
    return response.json()


def api_set_phase(server: Server, staff: requests.Session, code: str, phase: str) -> None:
    response = staff.post(f"{server.url}/api/v1/workshops/{code}/phase", json={"phase": phase})
    assert response.status_code == 200, response.text


# --- People in the browser -----------------------------------------------------------------------


def new_page(browser, viewport=PHONE, **options):
    """A page in a context of its own: another person, another phone (or laptop)."""
    context = browser.new_context(viewport=viewport, locale="da-DK", **options)
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


def login(page, server: Server, email: str, password: str = PASSWORD) -> None:
    page.goto(server.url + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Adgangskode").fill(password)
    page.locator("form input[type=submit], form button[type=submit]").first.click()
    page.wait_for_url(lambda url: "/login" not in url)


def create_workshop_in_browser(page, server: Server, title: str) -> str:
    """On the facilitator's index page: create a workshop with the generic model; the code."""
    page.goto(server.url + "/facilitate/")
    form = page.locator("#ny-workshop form")
    form.get_by_label("Titel").fill(title)
    form.locator("input[type=submit]").click()
    page.wait_for_selector("#console-root")
    return page.locator("#console-root").get_attribute("data-code")


def open_console(page, server: Server, code: str) -> None:
    page.goto(f"{server.url}/facilitate/{code}")
    wait_live(page)


def next_phase(console) -> str:
    """Click the console's "next step" button; the phase the console shows afterwards."""
    before = console.locator("#console-root").get_attribute("data-phase")
    console.locator("#fase form button.primary[name=phase]").click()
    console.wait_for_function(
        "before => document.getElementById('console-root')?.dataset.phase !== before", arg=before)
    wait_live(console)
    return console.locator("#console-root").get_attribute("data-phase")


def open_presenter(console, person, viewport=DESKTOP):
    """The presenter screen, opened from the link on the console, in a browser of its own
    (`person` is the fixture that opens a page for someone else)."""
    href = console.get_by_role("link", name="Åbn skærmvisningen til projektoren").get_attribute(
        "href")
    screen = person(viewport)
    screen.goto(href if href.startswith("http") else console.url.split("/facilitate")[0] + href)
    wait_live(screen)
    return screen


def join(page, server: Server, code: str, name: str, organisation: str | None = None) -> None:
    page.goto(f"{server.url}/j/{code}")
    page.get_by_label("Dit navn").fill(name)
    if organisation:
        page.get_by_label("Organisation (valgfrit)").fill(organisation)
    page.get_by_label("Jeg har læst oplysningerne om mine data og vil deltage").check()
    page.get_by_role("button", name="Deltag i workshoppen").click()
    page.wait_for_url(f"**/w/{code}")
    wait_live(page)


def wait_live(page) -> None:
    """Until the page's live connection has brought its first snapshot (live.js marks <html>
    with data-live-state="ready"); pages without a live connection: until loaded."""
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => !document.querySelector('#live-root, #console-root, #present')"
        " || document.documentElement.dataset.liveState === 'ready'")


def wait_phase(page, phase: str) -> None:
    """Until the participant's page shows `phase` (it follows without a reload)."""
    page.wait_for_function(
        "phase => document.getElementById('live-root')?.dataset.phase === phase", arg=phase)


# --- Evidence ------------------------------------------------------------------------------------


def screenshots(page, name: str) -> None:
    """Save the page at phone and at desktop size under test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    if before:
        page.set_viewport_size(before)


_AXE_SOURCE: str | None = None


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2.0/2.1 A and AA violations on the page as it is now.

    axe is evaluated through the DevTools protocol, which the page's CSP (no inline script, no
    eval) does not govern, so the page is tested with its real security headers."""
    global _AXE_SOURCE
    if _AXE_SOURCE is None:
        _AXE_SOURCE = AXE_PATH.read_text()
    # Let the page settle: tables.js marks wide tables as scrollable regions after a change.
    page.wait_for_function("""() => [...document.querySelectorAll('.table-wrap')].every(
        w => w.scrollWidth <= w.clientWidth + 1 || w.hasAttribute('tabindex'))""")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_AXE_SOURCE + "\n;0")
    return page.evaluate(
        """tags => axe.run(document, {runOnly: {type: 'tag', values: tags},
                                      resultTypes: ['violations']})
             .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                 nodes: v.nodes.map(n => ({target: n.target.join(' '),
                                            html: n.html.slice(0, 300),
                                            summary: n.failureSummary}))})))""",
        AXE_TAGS)


def assert_accessible(page, where: str) -> None:
    violations = axe_violations(page)
    assert not violations, describe_violations(page, where, violations)


def describe_violations(page, where: str, violations: list[dict]) -> str:
    return f"axe found WCAG A/AA violations on {where} ({page.url}):\n" + \
        json.dumps(violations, indent=2, ensure_ascii=False)


class AxeReport:
    """axe on many pages in one walk through a workshop; every page's violations are reported
    together at the end (`check()` notes them, `assert_clean()` fails with all of them)."""

    def __init__(self):
        self.found: list[str] = []
        self.pages = 0

    def __call__(self, page, where: str) -> None:
        self.pages += 1
        violations = axe_violations(page)
        if violations:
            self.found.append(describe_violations(page, where, violations))

    def assert_clean(self) -> None:
        assert not self.found, f"{len(self.found)} of {self.pages} pages have violations:\n" + \
            "\n".join(self.found)


def assert_no_horizontal_scroll(page, where: str) -> None:
    """At 320 CSS px (400 % zoom of 1280 px) the content reflows: no sideways scrolling."""
    overflow = page.evaluate("""() => {
        const doc = document.documentElement;
        const wide = [];
        document.querySelectorAll('body *').forEach(el => {
            const r = el.getBoundingClientRect();
            if (r.width && r.right > doc.clientWidth + 1 && !el.closest('.table-wrap')) {
                wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                          + (el.className && typeof el.className === 'string'
                             ? '.' + el.className.split(' ').join('.') : ''));
            }
        });
        return {scroll: doc.scrollWidth, client: doc.clientWidth, wide: wide.slice(0, 10)};
    }""")
    assert overflow["scroll"] <= overflow["client"] + 1 and not overflow["wide"], \
        f"{where} scrolls sideways at 320 px: {overflow}"
