"""Issue 5: a whole workshop in the browser. A facilitator, a presenter screen and three
participants, each in a browser of their own, from joining to the reviewer's results page:
propose, comment, merge a duplicate, vote, reveal, results. Screenshots of every page at phone
and desktop size go to test-output/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import (
    DESKTOP,
    create_workshop_in_browser,
    join,
    login,
    make_user,
    next_phase,
    open_presenter,
    screenshots,
    wait_live,
    wait_phase,
)

pytestmark = [pytest.mark.browser, pytest.mark.server]


def propose(page, title: str, body: str = "", element: int = 1) -> None:
    form = page.locator("#nyt-forslag form")
    form.get_by_label("Element i modellen").select_option(index=element)
    form.locator("#title").fill(title)
    if body:
        form.locator("#body").fill(body)
    form.get_by_role("button", name="Send forslag").click()
    expect(page.locator("#live-status")).to_contain_text("Tak")
    expect(form.locator("#title")).to_have_value("")


def card(page, title: str):
    """The proposal whose own title is `title` (not one that merely lists it as merged in)."""
    exactly = re.compile(rf"^\s*{re.escape(title)}\s*$")
    heading = page.locator("[data-field=title]", has_text=exactly)
    return page.locator("#forslag article.proposal").filter(has=heading)


def test_a_whole_workshop_from_join_to_the_reviewers_results(server, person):
    facilitator = make_user(server, "facilitator", "Fie Facilitator")
    reviewer = make_user(server, "reviewer", "Regionsrådspolitiker")

    # The facilitator creates the workshop and opens the presenter screen from the console.
    console = person(DESKTOP)
    login(console, server, facilitator)
    screenshots(console, "facilitator-index")
    code = create_workshop_in_browser(console, server, "Frivillige og sundhedsvæsenet")
    wait_live(console)
    screen = open_presenter(console, person)
    expect(screen.locator("#join")).to_contain_text(code)
    expect(screen.locator(".present-code")).to_contain_text(code)

    # Three participants join on their phones.
    people = {}
    for name, organisation in (("Anna", "Ældre Sagen"), ("Bo", "Røde Kors"), ("Cem", None)):
        page = person()
        if name == "Anna":
            page.goto(f"{server.url}/")
            screenshots(page, "participant-home")
            page.goto(f"{server.url}/j/{code}")
            screenshots(page, "participant-join")
        join(page, server, code, name, organisation)
        people[name] = page
    anna, bo, cem = people["Anna"], people["Bo"], people["Cem"]
    expect(screen.locator("#joined")).to_have_text("3")
    expect(console.locator("#live-joined")).to_have_text("3")
    screenshots(anna, "participant-lobby")
    screenshots(screen, "presenter-lobby")
    screenshots(console, "facilitator-console-lobby")

    # Ideas.
    assert next_phase(console) == "ideation"
    for page in people.values():
        wait_phase(page, "ideation")
    propose(anna, "Flere frivillige i sundhedshuset", "Frivillige kan tage imod og vise vej.")
    propose(bo, "Flere frivillige i sundhedshusene", "Frivillige ved indgangen.")
    propose(cem, "Gratis bus til frivillige")
    for page in people.values():
        for title in ("Flere frivillige i sundhedshuset", "Flere frivillige i sundhedshusene",
                      "Gratis bus til frivillige"):
            expect(card(page, title)).to_be_visible()
    expect(screen.locator("#latest-list")).to_contain_text("Gratis bus til frivillige")

    # Cem comments on Anna's proposal; Anna sees it arrive.
    anna_card = card(cem, "Flere frivillige i sundhedshuset")
    anna_card.locator("textarea").fill("Godt forslag – husk tolkning.")
    anna_card.get_by_role("button", name="Send kommentar").click()
    expect(card(anna, "Flere frivillige i sundhedshuset").locator(".comment")) \
        .to_contain_text("Godt forslag – husk tolkning.")
    screenshots(anna, "participant-ideation")
    screenshots(screen, "presenter-ideation")

    # The facilitator merges Bo's duplicate into Anna's proposal from the suggestions.
    console.reload()
    wait_live(console)
    duplicates = console.locator("#dubletter")
    expect(duplicates).to_contain_text("Flere frivillige i sundhedshusene")
    screenshots(console, "facilitator-console-ideation")
    duplicates.get_by_role("button", name=re.compile("Læg #\\d+ sammen med #\\d+")).first.click()
    console.wait_for_load_state("load")
    wait_live(console)
    for page in people.values():
        expect(card(page, "Flere frivillige i sundhedshusene")).to_have_count(0)
    merged = card(bo, "Flere frivillige i sundhedshuset")
    expect(merged).to_contain_text("Flere frivillige i sundhedshusene")  # listed as merged in

    # Discussion, then voting.
    assert next_phase(console) == "review"
    assert next_phase(console) == "voting"
    for page in people.values():
        wait_phase(page, "voting")
    expect(anna.locator("#remaining")).to_have_text("5")
    give = "Giv prik til "
    for _ in range(3):
        anna.get_by_role("button", name=give + "Flere frivillige i sundhedshuset").click()
    expect(anna.locator("#remaining")).to_have_text("2")
    anna.get_by_role("button", name=give + "Gratis bus til frivillige").click()
    expect(anna.locator("#remaining")).to_have_text("1")
    for _ in range(2):
        bo.get_by_role("button", name=give + "Flere frivillige i sundhedshuset").click()
    expect(bo.locator("#remaining")).to_have_text("3")
    cem.get_by_role("button", name=give + "Gratis bus til frivillige").click()
    expect(cem.locator("#remaining")).to_have_text("4")
    bus = card(anna, "Gratis bus til frivillige")
    expect(bus.locator("[data-field=vote-state]")).to_have_text("")
    screenshots(anna, "participant-voting")
    expect(console.locator("#live-tally")).to_contain_text("5 prikker")
    screenshots(console, "facilitator-console-voting")

    # The facilitator reveals the tally: the presenter screen shows the bars.
    console.get_by_role("button", name="Vis stillingen for alle").click()
    expect(screen.locator("#results")).to_be_visible()
    expect(screen.locator("#bars li").first).to_contain_text("Flere frivillige i sundhedshuset")
    expect(screen.locator("#bars li").first).to_contain_text("5 prikker")
    expect(card(cem, "Flere frivillige i sundhedshuset").locator("[data-field=total]")) \
        .to_have_text("5 prikker i alt")
    screenshots(screen, "presenter-voting-revealed")

    # Results.
    assert next_phase(console) == "results"
    for page in people.values():
        wait_phase(page, "results")
    results = anna.locator("#resultater")
    expect(results).to_be_visible()
    expect(results.locator("tbody tr").first).to_contain_text("Flere frivillige i sundhedshuset")
    screenshots(anna, "participant-results")
    screenshots(console, "facilitator-console-results")
    screenshots(screen, "presenter-results")

    # A politician reads the outcome.
    politician = person(DESKTOP)
    login(politician, server, reviewer)
    politician.goto(f"{server.url}/review/")
    expect(politician.locator("main")).to_contain_text("Frivillige og sundhedsvæsenet")
    screenshots(politician, "review-index")
    politician.goto(f"{server.url}/review/{code}")
    main = politician.locator("main")
    expect(main).to_contain_text("Flere frivillige i sundhedshuset")
    expect(main).to_contain_text("Gratis bus til frivillige")
    first_row = main.locator("table tbody tr").first
    expect(first_row).to_contain_text("Flere frivillige i sundhedshuset")
    screenshots(politician, "review-workshop")
