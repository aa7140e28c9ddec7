"""Issue 3's browser test: the participant's page follows the facilitator without a reload, and
live updates never wipe what the participant is typing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import (
    DESKTOP,
    api_create_workshop,
    api_participant,
    api_propose,
    api_session,
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
