"""The PDF report: it opens, holds the rankings in Danish, and shows hostile text as text."""

from __future__ import annotations

import base64
import re
import zlib

import pytest

from tests.factories import (
    HOSTILE_TEXTS,
    answer,
    facilitator_of,
    finished_workshop,
    join_as,
    make_user,
    make_workshop,
    move_to,
    propose,
    vote,
)
from workshop.domain.reports import build_report

pytestmark = pytest.mark.usefixtures("app", "fast_passwords")


def pdf_text(data: bytes) -> str:
    """The text shown on the pages: every content stream decoded, the strings in its
    text operators joined (ReportLab writes standard-font text as PDF literal strings)."""
    assert data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF")
    assert b"/Type /Pages" in data
    shown = []
    for raw in re.findall(rb"stream\r?\n(.*?)endstream", data, flags=re.S):
        try:  # ReportLab writes /Filter [/ASCII85Decode /FlateDecode]
            stream = zlib.decompress(base64.a85decode(raw.strip(), adobe=True))
        except (ValueError, zlib.error):
            continue
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", stream):
            text = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), literal)
            text = re.sub(rb"\\(.)", rb"\1", text)
            shown.append(text.decode("cp1252", errors="replace"))
    return " ".join(shown)


def test_the_report_holds_method_fairness_rankings_moderation_and_answers():
    workshop, carried, shared, third = finished_workshop("Viborg 2026")
    answer(workshop, shared, "adopted", "Den er indarbejdet i modellen")
    data = build_report(workshop, samples=50)
    text = pdf_text(data)
    for expected in ("Viborg 2026", "Metode", "Deltagelse og retfærdighed", "Rangering",
                     "Foreningshus", "Fælles indgang", "Netværk", "Konsensus", "Moderation",
                     "Reklame", "Dublet", "Indarbejdet i modellen",
                     "Den er indarbejdet i modellen", "Kendalls tau"):
        assert expected in text, expected
    assert text.index("Foreningshus") < text.index("Netværk")
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 2


def test_hostile_text_is_text_in_the_pdf():
    workshop = make_workshop(title=HOSTILE_TEXTS[0], phase="ideation")
    people = [join_as(workshop, f"P{i}") for i in range(len(HOSTILE_TEXTS))]
    made = [propose(workshop, person, text[:120], body=text)
            for person, text in zip(people, HOSTILE_TEXTS, strict=True)]
    move_to(workshop, "voting")
    vote(workshop, people[0], made[0], 1)
    move_to(workshop, "results")
    answer(workshop, made[1], "not_adopted", HOSTILE_TEXTS[1])
    text = pdf_text(build_report(workshop, samples=20))
    assert "<script>alert(1)</script>" in text
    assert '=HYPERLINK("http://evil.example","klik")' in text
    assert "abc[U+202E]dcba" in text
    assert "Grøn" in text


def test_the_api_serves_the_report_to_staff(isolated_api):
    workshop, *_ = finished_workshop()
    isolated_api.login(make_user("reviewer").email)
    response = isolated_api.get(f"/workshops/{workshop.code}/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "Foreningshus" in pdf_text(response.get_data())
    isolated_api.post("/auth/logout")
    isolated_api.login(facilitator_of(workshop).email)
    assert isolated_api.get(f"/workshops/{workshop.code}/report.pdf").status_code == 200
