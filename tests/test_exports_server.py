"""Every export, the report and the review page, downloaded from the real server (gunicorn with
the gevent worker, as the Procfile runs it) of a workshop made through the API.

The streamed exports run after their view has returned, when the view's database session has
ended: the JSON export once failed there with a 500 that no in-process test saw (the test
client then read the first chunk inside the request's context; it no longer does)."""

from __future__ import annotations

import csv
import io

import pytest
import requests

from tests.server import running_server
from tests.test_live_server import join, make_staff, open_workshop, set_phase

pytestmark = pytest.mark.server


@pytest.fixture
def server(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'exports.sqlite3'}") as server:
        yield server


def finished(base: str, staff: requests.Session) -> tuple[str, list[int]]:
    """A workshop in results: three people, three proposals, their votes."""
    code = open_workshop(base, staff)["code"]
    set_phase(base, staff, code, "ideation")
    elements = requests.get(f"{base}/api/v1/workshops/{code}").json()["elements"]
    people = [join(base, code, name, organisation)
              for name, organisation in (("Anna", "Ældre Sagen"), ("Bo", "Røde Kors"),
                                         ("Carl", None))]
    proposals = []
    for i, person in enumerate(people):
        made = person.post(f"{base}/api/v1/workshops/{code}/proposals",
                           json={"title": f"Forslag {i}", "element_id": elements[i]["id"]})
        assert made.status_code == 201, made.text
        proposals.append(made.json()["id"])
    set_phase(base, staff, code, "review")
    set_phase(base, staff, code, "voting")
    for person, (first, second) in zip(people, ((0, 1), (0, 2), (1, 0)), strict=True):
        for proposal, dots in ((proposals[first], 3), (proposals[second], 2)):
            voted = person.put(f"{base}/api/v1/workshops/{code}/votes/{proposal}",
                               json={"dots": dots})
            assert voted.status_code == 200, voted.text
    set_phase(base, staff, code, "results")
    return code, proposals


def test_every_export_downloads_from_the_real_server(server):
    base = server.url
    staff = make_staff(server)
    code, proposals = finished(base, staff)

    exported = staff.get(f"{base}/api/v1/workshops/{code}/export.json")
    assert exported.status_code == 200, exported.text[:500]
    data = exported.json()
    assert data["workshop"]["code"] == code and data["workshop"]["elements"]
    assert [r["proposal_id"] for r in data["rankings"]["participant"]][0] == proposals[0]
    assert len(data["votes"]) == 6 and len(data["proposals"]) == 3

    for table, rows in (("ranking", 3), ("proposals", 3), ("votes", 6)):
        answer = staff.get(f"{base}/api/v1/workshops/{code}/export.csv", params={
            "table": table, "weighting": "organisation"})
        assert answer.status_code == 200, (table, answer.text[:500])
        assert len(list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))) == rows

    report = staff.get(f"{base}/api/v1/workshops/{code}/report.pdf")
    assert report.status_code == 200 and report.content.startswith(b"%PDF")
    results = staff.get(f"{base}/api/v1/workshops/{code}/results")
    assert results.status_code == 200 and results.json()["ranking"][0]["proposal_id"] == \
        proposals[0]

    # The politician's review page.
    page = make_staff(server, role="reviewer").get(f"{base}/review/{code}")
    assert page.status_code == 200 and "Forslag 0" in page.text

