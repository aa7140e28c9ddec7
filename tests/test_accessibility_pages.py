"""The accessibility statement: linked from every page's footer, built in unless configured."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/", "/login", "/tilgaengelighed", "/findes-ikke"])
def test_every_page_links_to_the_built_in_statement(client, path):
    page = client.get(path)
    assert '<a href="/tilgaengelighed">Tilgængelighedserklæring</a>' in page.text


def test_the_built_in_statement_is_in_danish_and_english(client):
    page = client.get("/tilgaengelighed")
    assert page.status_code == 200
    assert "<h1>Tilgængelighedserklæring</h1>" in page.text and "WCAG 2.1" in page.text
    english = client.get("/tilgaengelighed?lang=en")
    assert "<h1>Accessibility statement</h1>" in english.text


@pytest.mark.app_config({"ACCESSIBILITY_STATEMENT_URL": "https://was.digst.dk/samskab"})
def test_a_configured_statement_address_is_linked_instead(client):
    page = client.get("/")
    assert '<a href="https://was.digst.dk/samskab">Tilgængelighedserklæring</a>' in page.text
    assert "https://was.digst.dk/samskab" in client.get("/tilgaengelighed").text
