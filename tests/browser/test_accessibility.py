"""Issue 5, accessibility (WCAG 2.1 AA) in a real browser.

- axe-core (tests/vendor/axe.min.js, from the npm registry) reports no WCAG 2.0/2.1 A or AA
  violation on any page, in every phase, and also after live updates have arrived;
- the pages reflow at 320 CSS px (1280 px at 400 % zoom) without sideways scrolling;
- a participant joins, proposes and votes with the keyboard alone, and always sees the focus;
- live changes are announced through the status region, and only the ones that matter;
- the timer can be extended and paused from the console, and every screen follows."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import (
    DESKTOP,
    PHONE,
    AxeReport,
    api_create_workshop,
    api_participant,
    api_propose,
    api_session,
    api_set_phase,
    assert_no_horizontal_scroll,
    join,
    login,
    make_user,
    next_phase,
    open_console,
    open_presenter,
    wait_live,
    wait_phase,
)

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture(scope="module")
def facilitator(server):
    return make_user(server, "facilitator", "Fie Facilitator")


def test_every_page_passes_axe_in_every_phase_and_after_live_updates(server, person,
                                                                     facilitator):
    check = AxeReport()
    visitor = person(PHONE)
    for path, where in (("/", "the home page"), ("/?code=ZZZZZZ", "the home page with an error"),
                        ("/login", "the login page"), ("/tilgaengelighed", "the statement"),
                        ("/findes-ikke", "the 404 page"), ("/?lang=en", "the home page (en)"),
                        ("/?lang=da", "the home page, back in Danish")):
        response = visitor.goto(server.url + path)
        assert response.status == (404 if "findes-ikke" in path or "code=" in path else 200), path
        check(visitor, where)
    visitor.goto(server.url + "/login")
    visitor.get_by_label("E-mail").fill("nobody@region.dk")
    visitor.get_by_label("Adgangskode").fill("wrong")
    visitor.get_by_role("button", name="Log ind").click()
    expect(visitor.locator(".error")).to_be_visible()
    check(visitor, "the login page with an error")

    staff = api_session(server, facilitator)
    code = api_create_workshop(server, staff, "Tilgængelig workshop")
    visitor.goto(f"{server.url}/present/{code}?key=wrong")
    check(visitor, "the 403 page")

    console = person(DESKTOP)
    login(console, server, facilitator)
    console.goto(server.url + "/facilitate/")
    check(console, "the facilitator's index")
    open_console(console, server, code)
    check(console, "the console in the lobby")
    screen = open_presenter(console, person)
    check(screen, "the presenter screen in the lobby")

    anna = person(PHONE)
    anna.goto(f"{server.url}/j/{code}")
    check(anna, "the join page")
    anna.get_by_label("Dit navn").fill("Anna")
    anna.get_by_role("button", name="Deltag i workshoppen").click()
    expect(anna.locator(".error-summary")).to_be_visible()
    check(anna, "the join page with errors")
    join(anna, server, code, "Anna", "Ældre Sagen")
    check(anna, "the participant's page in the lobby")

    bo = api_participant(server, code, "Bo", "Røde Kors")
    assert next_phase(console) == "ideation"
    wait_phase(anna, "ideation")
    check(anna, "the participant's page after the live change to ideas")
    first = api_propose(server, code, bo, "Gratis bus til frivillige", "Til og fra hospitalet.")
    api_propose(server, code, bo, "Tolke ved møderne")
    comment = bo.post(f"{server.url}/api/v1/proposals/{first['id']}/comments",
                      json={"body": "Også om aftenen.", "client_id": "c-1"})
    assert comment.status_code in (200, 201), comment.text
    bus = anna.locator("article.proposal", has_text="Gratis bus")
    expect(bus.locator(".comment")).to_contain_text("Også om aftenen.")
    expect(anna.locator("#forslag")).to_contain_text("Tolke ved møderne")
    anna.locator("#nyt-forslag #element_id").select_option(index=1)
    anna.locator("#nyt-forslag #title").fill("Frivillige i sundhedshuset")
    anna.locator("#nyt-forslag").get_by_role("button", name="Send forslag").click()
    expect(anna.locator("#live-status")).to_contain_text("Tak")
    check(anna, "the participant's page after new proposals and comments arrived")
    anna.locator("#nyt-forslag #title").fill("Gratis bus til")  # "Lignende forslag" shows
    expect(anna.locator("#similar")).to_be_visible()
    check(anna, "the participant's page with similar proposals")
    expect(console.locator("#moderation")).to_contain_text("Tolke ved møderne")
    check(console, "the console after new proposals arrived")
    expect(screen.locator("#latest-list")).to_contain_text("Tolke ved møderne")
    check(screen, "the presenter screen with new proposals")

    assert next_phase(console) == "review"
    wait_phase(anna, "review")
    check(anna, "the participant's page in the discussion")
    assert next_phase(console) == "voting"
    wait_phase(anna, "voting")
    check(anna, "the participant's page in the vote")
    anna.get_by_role("button", name="Giv prik til Gratis bus til frivillige").click()
    expect(anna.locator("#remaining")).to_have_text("4")
    expect(console.locator("#live-tally")).to_contain_text("Gratis bus")
    check(console, "the console with the live tally")
    console.get_by_role("button", name="Vis stillingen for alle").click()
    expect(screen.locator("#results")).to_be_visible()
    expect(bus.locator("[data-field=total]")).to_be_visible()
    check(anna, "the participant's page with the revealed tally")
    check(screen, "the presenter screen with the bars")

    assert next_phase(console) == "results"
    wait_phase(anna, "results")
    check(anna, "the participant's page with the results")
    check(console, "the console in the results")
    check(screen, "the presenter screen in the results")
    console.goto(server.url + "/review/")
    check(console, "the review index")
    console.goto(f"{server.url}/review/{code}")
    check(console, "the review page of the workshop")
    open_console(console, server, code)
    console.get_by_label(re.compile("Jeg vil lukke workshoppen")).check()
    assert next_phase(console) == "closed"
    wait_phase(anna, "closed")
    check(anna, "the participant's page when closed")
    check(console, "the console when closed")
    console.goto(server.url + "/logout")
    check(console, "the logout page")
    anna.goto(f"{server.url}/w/{code}?lang=en")
    check(anna, "the participant's page in English")
    check.assert_clean()


def test_pages_reflow_at_320_css_pixels(server, person, facilitator):
    staff = api_session(server, facilitator)
    code = api_create_workshop(server, staff, "Et meget langt workshopnavn om frivillighed, "
                               "sundhedshuse og samarbejde mellem regionen og foreningerne")
    narrow = {"width": 320, "height": 720}
    visitor = person(narrow)
    for path in ("/", "/login", "/tilgaengelighed", f"/j/{code}"):
        visitor.goto(server.url + path)
        assert_no_horizontal_scroll(visitor, path)
    anna = person(narrow)
    join(anna, server, code, "Anna")
    bo = api_participant(server, code, "Bo")
    api_set_phase(server, staff, code, "ideation")
    wait_phase(anna, "ideation")
    api_propose(server, code, bo, "Frivillighedskoordinatorstillinger på alle sygehusafdelinger",
                "Et-meget-langt-ord-uden-mellemrum-" * 4)
    expect(anna.locator("#forslag")).to_contain_text("Frivillighedskoordinatorstillinger")
    assert_no_horizontal_scroll(anna, "the participant's page with ideas")
    api_set_phase(server, staff, code, "review")
    api_set_phase(server, staff, code, "voting")
    wait_phase(anna, "voting")
    assert_no_horizontal_scroll(anna, "the participant's page in the vote")
    console = person(narrow)
    login(console, server, facilitator)
    open_console(console, server, code)
    assert_no_horizontal_scroll(console, "the console")
    screen = open_presenter(console, person, narrow)
    assert_no_horizontal_scroll(screen, "the presenter screen")


def _focus_is_visible(page) -> bool:
    return page.evaluate("""() => {
        const el = document.activeElement;
        if (!el || el === document.body) return false;
        const s = getComputedStyle(el);
        return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)
            || (s.boxShadow && s.boxShadow !== 'none');
    }""")


def tab_to(page, selector: str, key: str = "Tab", limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until `selector` has the focus; every stop shows the focus."""
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate("s => !!document.activeElement?.matches(s)", selector):
            assert _focus_is_visible(page), f"the focus on {selector} is not visible"
            return
        if page.evaluate("() => document.activeElement !== document.body"):
            assert _focus_is_visible(page), "a focused element shows no focus: " + \
                page.evaluate("() => document.activeElement.outerHTML.slice(0, 200)")
    raise AssertionError(f"{key} never reached {selector}")


def test_join_propose_and_vote_with_the_keyboard_alone(server, person, facilitator):
    staff = api_session(server, facilitator)
    code = api_create_workshop(server, staff, "Med tastaturet")
    api_set_phase(server, staff, code, "ideation")
    anna = person(PHONE)
    anna.goto(f"{server.url}/j/{code}")

    tab_to(anna, "a.skip-link")                  # the first stop: skip to the content
    anna.keyboard.press("Enter")
    tab_to(anna, "#display_name")
    anna.keyboard.type("Anna")
    tab_to(anna, "#organisation")
    anna.keyboard.type("Ældre Sagen")
    tab_to(anna, "#display_name", "Shift+Tab")   # back, to correct the name
    anna.keyboard.press("End")
    anna.keyboard.type(" Jensen")
    tab_to(anna, "#consent")
    anna.keyboard.press("Space")
    expect(anna.locator("#consent")).to_be_checked()
    tab_to(anna, "input[type=submit]")
    anna.keyboard.press("Enter")
    anna.wait_for_url(re.compile(rf"/w/{code}(#.*)?$"))
    wait_live(anna)
    expect(anna.locator(".flash")).to_contain_text("Anna Jensen")

    tab_to(anna, "#element_id")
    anna.keyboard.press("ArrowDown")
    tab_to(anna, "#nyt-forslag #title")
    anna.keyboard.type("Frivillige viser vej på sygehuset")
    tab_to(anna, "#nyt-forslag #body")
    anna.keyboard.type("Ved indgangen og i elevatorerne.")
    tab_to(anna, "#nyt-forslag [type=submit]")
    anna.keyboard.press("Enter")
    expect(anna.locator("#live-status")).to_contain_text("Tak")
    expect(anna.locator("#forslag")).to_contain_text("Frivillige viser vej på sygehuset")

    api_set_phase(server, staff, code, "review")
    api_set_phase(server, staff, code, "voting")
    wait_phase(anna, "voting")
    expect(anna.locator("#remaining")).to_have_text("5")
    give = 'button[aria-label="Giv prik til Frivillige viser vej på sygehuset"]'
    tab_to(anna, give)
    anna.keyboard.press("Enter")
    expect(anna.locator("#remaining")).to_have_text("4")
    expect(anna.locator(give)).to_be_focused()
    anna.keyboard.press("Space")
    expect(anna.locator("#remaining")).to_have_text("3")
    tab_to(anna, 'button[aria-label^="Fjern prik fra"]', "Shift+Tab")
    anna.keyboard.press("Enter")
    expect(anna.locator("#remaining")).to_have_text("4")
    expect(anna.locator("[data-field=mine]").first).to_have_text("1")


def test_live_changes_are_announced_and_the_timer_can_be_paused_and_extended(
        server, person, facilitator):
    staff = api_session(server, facilitator)
    code = api_create_workshop(server, staff, "Meddelelser")
    anna = person(PHONE)
    join(anna, server, code, "Anna")
    status = anna.locator("#live-status")
    expect(status).to_have_attribute("role", "status")
    for timer in anna.locator("[role=timer]").all():
        assert timer.get_attribute("aria-live") in (None, "off")  # a ticking clock is silent

    console = person(DESKTOP)
    login(console, server, facilitator)
    open_console(console, server, code)
    assert next_phase(console) == "ideation"
    wait_phase(anna, "ideation")
    expect(status).to_contain_text("Idéfase")             # the phase change is announced

    bo = api_participant(server, code, "Bo")
    api_propose(server, code, bo, "Et forslag fra Bo")
    expect(anna.locator("#forslag")).to_contain_text("Et forslag fra Bo")
    expect(status).not_to_contain_text("Et forslag fra Bo")  # others' ideas are not read out

    form = console.locator("form[data-live=timer]")
    form.get_by_label("Minutter").fill("5")
    form.get_by_role("button", name="Start uret").click()
    expect(anna.locator("#live-timer")).to_be_visible()
    expect(anna.locator("#live-timer")).to_have_text(re.compile(r"^[45]:\d\d$"))
    form.get_by_role("button", name="+1 minut").click()
    # A minute more than the 4:xx or 5:00 it showed (not the 5:00 it may show before).
    expect(anna.locator("#live-timer")).to_have_text(re.compile(r"^(5:[3-5]\d|6:00)$"))
    form.get_by_role("button", name="Pause").click()
    expect(console.locator("#live-timer")).to_have_attribute("data-state", "paused")
    # The pause reaches the phone a moment later: its clock stops (the same for over a second).
    for _ in range(10):
        paused = anna.locator("#live-timer").text_content()
        anna.wait_for_timeout(1200)
        if anna.locator("#live-timer").text_content() == paused:
            break
    expect(anna.locator("#live-timer")).to_have_text(paused)
    form.get_by_role("button", name="Fortsæt").click()
    expect(console.locator("#live-timer")).to_have_attribute("data-state", "running")
