"""Issue 3's browser test: the participant's page follows the facilitator without a reload, and
live updates never wipe what the participant is typing."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.support import (
    DESKTOP,
    PHONE,
    api_create_workshop,
    api_participant,
    api_propose,
    api_session,
    api_set_phase,
    assert_accessible,
    assert_no_horizontal_scroll,
    join,
    login,
    make_user,
    next_phase,
    open_console,
    wait_phase,
)

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_participant_follows_the_facilitator_without_a_reload_and_keeps_what_is_typed(
        server, person):
    facilitator = make_user(server)
    staff = api_session(server, facilitator)
    code = api_create_workshop(server, staff, "Frivillighed i sundhedsvæsenet")

    console = person(DESKTOP)
    login(console, server, facilitator)
    open_console(console, server, code)

    anna = person()
    join(anna, server, code, "Anna", "Ældre Sagen")
    expect(anna.locator("#live-root")).to_have_attribute("data-phase", "lobby")
    # A mark on this very page: a reload (or a navigation) would lose it.
    anna.evaluate("() => { window.__samskabMark = 'same page'; }")

    assert next_phase(console) == "ideation"
    wait_phase(anna, "ideation")
    expect(anna.locator("#nyt-forslag")).to_be_visible()
    expect(anna.locator(".phase")).to_have_text("Idéfase")
    assert anna.evaluate("() => window.__samskabMark") == "same page"

    # Anna is typing a proposal when someone else's proposal arrives.
    title = anna.locator("#nyt-forslag #title")
    title.click()
    title.press_sequentially("Flere frivillige i sundheds")
    bo = api_participant(server, code, "Bo", "Røde Kors")
    api_propose(server, code, bo, "Gratis bus til frivillige", "Kørsel til og fra hospitalet.")
    expect(anna.locator("#forslag")).to_contain_text("Gratis bus til frivillige")
    expect(title).to_have_value("Flere frivillige i sundheds")
    expect(title).to_be_focused()
    title.press_sequentially("huset")
    expect(title).to_have_value("Flere frivillige i sundhedshuset")

    # She starts a comment on Bo's proposal; the facilitator moves on to the discussion: the
    # page is re-rendered in place, and her half-written comment is still there.
    comment = anna.locator("article.proposal", has_text="Gratis bus").locator("textarea")
    comment.fill("God idé, men hvem betaler")
    assert next_phase(console) == "review"
    wait_phase(anna, "review")
    expect(anna.locator(".phase")).to_have_text("Drøftelse")
    expect(anna.locator("article.proposal", has_text="Gratis bus").locator("textarea")) \
        .to_have_value("God idé, men hvem betaler")
    assert anna.evaluate("() => window.__samskabMark") == "same page"


@pytest.mark.parametrize("method", ["approval", "score"])
def test_approval_and_score_are_voted_in_one_tap_live(server, person, method):
    """Under approval a proposal has one toggle; under score, the ratings 1-5. A tap is sent
    over the socket, shown at once, and is what the server holds after a reload."""
    facilitator = make_user(server)
    staff = api_session(server, facilitator)
    code = api_create_workshop(server, staff, "Frivillige på hospitalet")
    response = staff.put(f"{server.url}/api/v1/workshops/{code}/voting-method",
                         json={"voting_method": method})
    assert response.status_code == 200, response.text
    api_set_phase(server, staff, code, "ideation")
    bo = api_participant(server, code, "Bo", "Røde Kors")
    api_propose(server, code, bo, "Gratis bus til frivillige")
    api_propose(server, code, bo, "Fast kontaktperson")

    anna = person()
    join(anna, server, code, "Anna", "Ældre Sagen")
    api_set_phase(server, staff, code, "review")
    api_set_phase(server, staff, code, "voting")
    wait_phase(anna, "voting")
    anna.evaluate("() => { window.__samskabMark = 'same page'; }")
    expect(anna.get_by_role("button", name="Giv prik til Gratis bus til frivillige")) \
        .to_have_count(0)
    if method == "approval":
        bus = anna.get_by_role("button", name="Støt forslaget: Gratis bus til frivillige")
        other = anna.get_by_role("button", name="Støt forslaget: Fast kontaktperson")
        bus.click()
        expect(bus).to_have_attribute("aria-pressed", "true")
        other.click()
        expect(other).to_have_attribute("aria-pressed", "true")
        other.click()
        expect(other).to_have_attribute("aria-pressed", "false")
        expected = {"Gratis bus til frivillige": 1}
    else:
        four = anna.get_by_role("button", name="Karakter 4 til Gratis bus til frivillige")
        two = anna.get_by_role("button", name="Karakter 2 til Gratis bus til frivillige")
        four.click()
        expect(four).to_have_attribute("aria-pressed", "true")
        two.click()
        expect(two).to_have_attribute("aria-pressed", "true")
        expect(four).to_have_attribute("aria-pressed", "false")
        one = anna.get_by_role("button", name="Karakter 1 til Fast kontaktperson")
        one.click()
        expect(one).to_have_attribute("aria-pressed", "true")
        remove = anna.get_by_role("button", name="Fjern din karakter til Fast kontaktperson")
        remove.click()
        expect(one).to_have_attribute("aria-pressed", "false")
        expect(remove).to_be_disabled()
        expected = {"Gratis bus til frivillige": 2}
    expect(anna.locator("[data-field=vote-state]").first).to_have_text("", timeout=10_000)
    assert anna.evaluate("() => window.__samskabMark") == "same page"  # no reload
    # WCAG 2.1 AA with the method's controls, chosen and not, and at 320 CSS px.
    assert_accessible(anna, f"the participant's page, voting by {method}")
    anna.set_viewport_size({"width": 320, "height": 640})
    assert_no_horizontal_scroll(anna, f"the participant's page, voting by {method}, 320 px")
    anna.set_viewport_size(PHONE)
    # The server holds what the page showed.
    cookies = {c["name"]: c["value"] for c in anna.context.cookies()}
    held = requests.get(f"{server.url}/api/v1/workshops/{code}/votes", cookies=cookies)
    assert held.status_code == 200, held.text
    titles = {p["id"]: p["title"] for p in
              requests.get(f"{server.url}/api/v1/workshops/{code}/proposals",
                           cookies=cookies).json()["proposals"]}
    assert {titles[int(pid)]: dots for pid, dots in held.json()["allocations"].items()} \
        == expected
    # The facilitator's live tally in the method's words: a rating is not summed like dots.
    console = person(DESKTOP)
    login(console, server, facilitator)
    open_console(console, server, code)
    row = console.locator("#live-tally li", has_text="Gratis bus til frivillige")
    expect(row.locator(".tally-value")).to_have_text(
        "1 støtter" if method == "approval" else "Karakter 2,0 · 0 støttere")
