"""Danish is the source language (the msgids); English must be complete.

- Every string marked for translation in Python or a template has an English translation that
  is neither missing nor fuzzy, with the same placeholders (`make translations` re-extracts).
- No template shows visible text that is not marked for translation.
- The participant can switch language; dates, numbers and plurals follow it."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po"
PYBABEL = Path(sys.executable).parent / "pybabel"
KEYWORDS = ["-k", "_l", "-k", "lazy_gettext", "-k", "lazy_ngettext:1,2"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%%")


def _extract(tmp_path: Path) -> Path:
    pot = tmp_path / "messages.pot"
    done = subprocess.run([str(PYBABEL), "-q", "extract", "-F", "babel.cfg", *KEYWORDS,
                           "-o", str(pot), "."], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return pot


def _where(message) -> str:
    return ", ".join(f"{path}:{line}" for path, line in message.locations[:3])


def test_every_marked_string_has_an_english_translation(tmp_path):
    with _extract(tmp_path).open("rb") as f:
        template = read_po(f)
    with CATALOG.open("rb") as f:
        english = read_po(f, locale="en")
    problems = []
    for message in template:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        found = english.get(message.id) or english.get(key)
        strings = [] if found is None else (
            list(found.string) if isinstance(found.string, tuple | list) else [found.string])
        if found is None or not all(strings):
            problems.append(f"untranslated: {key!r}  ({_where(message)})")
        elif found.fuzzy:
            problems.append(f"fuzzy: {key!r}  ({_where(message)})")
        else:
            wanted = set(PLACEHOLDER.findall(" ".join(
                message.id if isinstance(message.id, tuple | list) else [message.id])))
            for text in strings:
                if set(PLACEHOLDER.findall(text)) - wanted - {"num"}:
                    problems.append(f"placeholders differ: {key!r} -> {text!r}")
    assert not problems, (
        f"{len(problems)} string(s) lack a usable English translation in "
        f"{CATALOG.relative_to(ROOT)} (run `make translations`, translate, run it again):\n"
        + "\n".join(problems))


def test_the_compiled_catalog_is_up_to_date():
    """The app compiles a missing or stale .mo on start; `make` does it on install."""
    from workshop import create_app

    create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    mo = CATALOG.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= CATALOG.stat().st_mtime


# --- Visible text in templates that is not marked for translation -----------------------------

# Words that are the same in every language (names), and characters that are not words.
ALLOWED = {"Samskab"}
VISIBLE_ATTRIBUTES = ("alt", "title", "placeholder", "aria-label", "aria-description", "value")
# (`value` only on <input type="submit|button|reset">, where it is the button's text)
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))


def bare_text(source: str) -> list[str]:
    """Text a person would see that is neither a Jinja expression nor inside one."""
    text = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)
    text = re.sub(r"\{%.*?%\}", " ", text, flags=re.S)
    found = []
    for tag in re.finditer(r"<[a-zA-Z][^>]*>", text):
        for name, value in re.findall(r'([\w-]+)="([^"]*)"', tag.group(0)):
            shown = name != "value" or (tag.group(0).startswith("<input") and re.search(
                r'type="(submit|button|reset)"', tag.group(0)))
            if name in VISIBLE_ATTRIBUTES and shown and re.search(r"[^\W\d_]", value):
                found.append(f'{name}="{value}"')
    between = re.sub(r"<[^>]*>", "\n", text)
    for chunk in between.split("\n"):
        words = [w for w in re.findall(r"[^\W\d_][\w'’-]*", chunk) if w not in ALLOWED]
        if words:
            found.append(chunk.strip())
    return found


def test_bare_text_finds_what_it_should():
    assert bare_text("<p>Hej verden</p>") == ["Hej verden"]
    assert bare_text('<p>{{ _("Hej") }} · #{{ n }} (–)</p>') == []
    assert bare_text('<img alt="Et billede">') == ['alt="Et billede"']
    assert bare_text("<a>Samskab</a>{# a comment #}<script>var x = 1;</script>") == []


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_templates_have_no_untranslated_visible_text(path):
    found = bare_text(path.read_text())
    assert not found, f"{path.relative_to(ROOT)} shows text not wrapped in _(): {found}"


# --- Switching language; dates, numbers and plurals ----------------------------------------------


def test_the_language_follows_the_choice_and_is_remembered(client):
    page = client.get("/")
    assert 'lang="da"' in page.text and "Deltag i en workshop" in page.text
    assert 'href="?lang=en"' in page.text and "English" in page.text
    english = client.get("/?lang=en")
    assert 'lang="en"' in english.text and "Join a workshop" in english.text
    assert "samskab_lang=en" in english.headers.get("Set-Cookie", "")
    again = client.get("/login")
    assert 'lang="en"' in again.text and "Log in" in again.text
    assert 'href="?lang=da"' in again.text and "Dansk" in again.text
    back = client.get("/login?lang=da")
    assert 'lang="da"' in back.text and "Log ind" in back.text


def test_dates_numbers_and_plurals_follow_the_language(app):
    from flask_babel import force_locale, ngettext

    from workshop.web import register_filters  # noqa: F401  (the filters are registered)

    moment = datetime(2025, 3, 4, 13, 5, tzinfo=UTC)
    localtime = app.jinja_env.filters["localtime"]
    score = app.jinja_env.filters["score"]
    with app.test_request_context("/"):
        with force_locale("da"):
            assert localtime(moment) == "4. mar. 2025 14.05"
            assert score(1234.5) == "1.234,5"
            assert ngettext("%(num)s prik", "%(num)s prikker", 1) == "1 prik"
            assert ngettext("%(num)s prik", "%(num)s prikker", 3) == "3 prikker"
        with force_locale("en"):
            assert localtime(moment) == "Mar 4, 2025, 14:05"
            assert score(1234.5) == "1,234.5"
            assert ngettext("%(num)s prik", "%(num)s prikker", 1) == "1 dot"
            assert ngettext("%(num)s prik", "%(num)s prikker", 3) == "3 dots"
