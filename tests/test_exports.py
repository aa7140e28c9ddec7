"""CSV and JSON exports: what they hold equals the workshop, no personal data, no formulas."""

from __future__ import annotations

import csv
import io

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
from workshop.domain.exports import safe_cell

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.mark.parametrize("raw,expected", [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2", "'-2"), ("@cmd", "'@cmd"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("Æble", "Æble"), ("a=b", "a=b"), (3, 3), (None, ""),
])
def test_a_cell_that_could_be_a_formula_is_prefixed(raw, expected):
    assert safe_cell(raw) == expected


def read_csv(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_exports_for_staff_hold_the_workshop_without_personal_data(app, isolated_api):
    workshop, carried, shared, third = finished_workshop()
    answer(workshop, shared, "adopted", "Med i modellen")
    isolated_api.login(make_user("reviewer").email)
    code = workshop.code
    ranking = read_csv(isolated_api.get(f"/workshops/{code}/export.csv?table=ranking"))
    assert [int(r["proposal_id"]) for r in ranking][0] == carried.id
    by_org = read_csv(isolated_api.get(
        f"/workshops/{code}/export.csv?table=ranking&weighting=organisation"))
    assert int(by_org[0]["proposal_id"]) == shared.id
    assert {"consensus", "rank_low", "rank_high", "association_share"} <= set(ranking[0])
    votes = read_csv(isolated_api.get(f"/workshops/{code}/export.csv?table=votes"))
    assert len(votes) == 5 + 4 * 2
    body = isolated_api.get(f"/workshops/{code}/export.csv?table=votes").get_data(as_text=True)
    for personal in ("Medlem", "Borger", "Stor Forening", "stor forening"):
        assert personal not in body
    big = {r["participant"] for r in votes if r["organisation_type"] == "association"}
    assert len(big) == 5 and len({r["organisation"] for r in votes
                                  if r["organisation_type"] == "association"}) == 1
    proposals = read_csv(isolated_api.get(f"/workshops/{code}/export.csv?table=proposals"))
    statuses = {r["title"]: (r["status"], r["moderation_reason"], r["answer_status"])
                for r in proposals}
    assert statuses["Reklame"] == ("hidden", "Reklame", "")
    assert statuses["Fælles indgang"] == ("visible", "", "adopted")
    exported = isolated_api.get(f"/workshops/{code}/export.json")
    data = exported.get_json()
    assert data["workshop"]["code"] == code and len(data["votes"]) == 13
    assert data["rankings"]["organisation"][0]["proposal_id"] == shared.id
    assert data["fairness"]["largest_organisation_share"] == pytest.approx(15 / 27)
    assert "Medlem" not in exported.get_data(as_text=True)


def test_participants_and_strangers_get_no_export(app, isolated_api):
    workshop, *_ = finished_workshop()
    code = workshop.code
    assert isolated_api.get(f"/workshops/{code}/export.csv").status_code == 401
    participant = join_as(workshop, "Nysgerrig")
    isolated_api.client.set_cookie(f"samskab_p_{code}", participant.token)
    for path in ("export.csv", "export.json", "report.pdf"):
        response = isolated_api.get(f"/workshops/{code}/{path}")
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "forbidden"
    isolated_api.client.delete_cookie(f"samskab_p_{code}")
    isolated_api.login(make_user("facilitator").email)
    assert isolated_api.get(f"/workshops/{code}/export.json").status_code == 403
    isolated_api.post("/auth/logout")
    isolated_api.login(facilitator_of(workshop).email)
    assert isolated_api.get(f"/workshops/{code}/export.json").status_code == 200
    bad = isolated_api.get(f"/workshops/{code}/export.csv?table=secrets")
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "table"
    assert isolated_api.get(f"/workshops/{code}/export.csv?weighting=x").status_code == 400
    assert isolated_api.get("/workshops/ZZZZZZ/export.csv").status_code == 404


def test_hostile_text_stays_text_in_the_exports(app, isolated_api):
    workshop = make_workshop(title=HOSTILE_TEXTS[1], phase="ideation")
    people = [join_as(workshop, text[:80], organisation=text[:120]) for text in HOSTILE_TEXTS]
    made = [propose(workshop, person, text[:120], body=text)
            for person, text in zip(people, HOSTILE_TEXTS, strict=True)]
    move_to(workshop, "voting")
    for person, proposal in zip(people, made, strict=True):
        vote(workshop, person, proposal, 1)
    isolated_api.login(facilitator_of(workshop).email)
    rows = read_csv(isolated_api.get(f"/workshops/{workshop.code}/export.csv?table=proposals"))
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
    titles = {r["title"] for r in rows}
    assert "'" + HOSTILE_TEXTS[1][:120] in titles and "<script>alert(1)</script>" in titles
    assert "abc\u202edcba" in titles and "Grøn 🌿 hverdag" in titles
    data = isolated_api.get(f"/workshops/{workshop.code}/export.json").get_json()
    assert {p["title"] for p in data["proposals"]} == {t[:120] for t in HOSTILE_TEXTS}
