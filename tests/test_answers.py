"""Answers and accountability: a status with a public reasoning, its history, and what
participants see once the facilitator publishes."""

from __future__ import annotations

import pytest

from tests.factories import (
    answer,
    facilitator_of,
    finished_workshop,
    join_as,
    make_user,
    make_workshop,
    propose,
)
from workshop.domain import answers
from workshop.domain.errors import DomainError
from workshop.extensions import db
from workshop.models import ProposalAnswer

pytestmark = pytest.mark.usefixtures("app", "fast_passwords")


def test_every_answer_is_kept_and_the_newest_counts():
    workshop, carried, shared, _third = finished_workshop()
    reviewer = make_user("reviewer")
    answer(workshop, carried, "under_consideration", "", user=reviewer)
    answer(workshop, carried, "partly_adopted", "Delvist med i modellen", user=reviewer)
    answer(workshop, carried, "partly_adopted", "Delvist med i modellen", user=reviewer)  # no-op
    answer(workshop, shared, "adopted", "Indarbejdet")
    current = answers.current_answers(workshop)
    assert current[carried.id].status == "partly_adopted"
    assert [a.status for a in answers.history(workshop)[carried.id]] == [
        "under_consideration", "partly_adopted"]
    assert db.session.query(ProposalAnswer).count() == 3


@pytest.mark.parametrize("status,reasoning,code", [
    ("maybe", "x", "invalid"), (None, "x", "invalid"), ("adopted", "", "invalid"),
    ("adopted", 5, "invalid"), ("adopted", "x" * 4001, "invalid"),
])
def test_bad_answers_are_refused_and_nothing_is_written(status, reasoning, code):
    workshop, carried, *_ = finished_workshop()
    with pytest.raises(DomainError) as refused:
        answers.set_answer(workshop, facilitator_of(workshop), carried.id, status, reasoning)
    assert refused.value.code == code
    assert db.session.query(ProposalAnswer).count() == 0


def test_only_reviewers_and_the_workshops_facilitators_answer():
    workshop, carried, *_ = finished_workshop()
    with pytest.raises(DomainError) as refused:
        answer(workshop, carried, user=make_user("facilitator"))
    assert refused.value.code == "forbidden"
    answer(workshop, carried, user=make_user("admin"))


def test_answers_wait_for_the_end_of_voting():
    workshop = make_workshop(phase="ideation")
    proposal = propose(workshop, join_as(workshop, "Anna"))
    with pytest.raises(DomainError) as refused:
        answer(workshop, proposal)
    assert refused.value.code == "wrong_phase"


def test_participants_see_the_answers_only_after_publishing(isolated_api):
    workshop, carried, shared, third = finished_workshop()
    answer(workshop, shared, "adopted", "Den er med i modellen")
    author = join_as(workshop, "Sen")  # a participant without proposals
    isolated_api.client.set_cookie(f"samskab_p_{workshop.code}", author.token)
    refused = isolated_api.get(f"/workshops/{workshop.code}/answers")
    assert refused.status_code == 409
    assert "ikke offentliggjort" in refused.get_json()["error"]["message"]
    reviewer = make_user("reviewer")
    with pytest.raises(DomainError):
        answers.publish(workshop, reviewer, True)
    answers.publish(workshop, facilitator_of(workshop), True, "Tak for jeres bidrag")
    seen = isolated_api.get(f"/workshops/{workshop.code}/answers").get_json()
    assert seen["note"] == "Tak for jeres bidrag"
    assert [(a["proposal_id"], a["status"], a["own"]) for a in seen["answers"]] == [
        (shared.id, "adopted", False)]


def test_the_author_reads_the_answer_on_their_original_link(client):
    workshop, carried, shared, third = finished_workshop()
    from workshop.models import Participant

    author = db.session.get(Participant, shared.author_id)
    answer(workshop, shared, "adopted", "Den er med i modellen")
    client.set_cookie(f"samskab_p_{workshop.code}", _token_for(author))
    page = client.get(f"/w/{workshop.code}").get_data(as_text=True)
    assert "Workshoppens udfald" not in page
    answers.publish(workshop, facilitator_of(workshop), True)
    page = client.get(f"/w/{workshop.code}").get_data(as_text=True)
    section = page[page.index("Svar på dine forslag"):]
    assert section.index("Fælles indgang") < section.index("Indarbejdet i modellen")
    assert "Den er med i modellen" in section


def _token_for(participant):
    """Give a factory-made participant a fresh cookie token (tokens are stored hashed)."""
    import hashlib
    import secrets

    token = secrets.token_urlsafe(24)
    participant.token_hash = hashlib.sha256(token.encode()).hexdigest()
    db.session.commit()
    return token


def test_the_api_answers_and_publishes(isolated_api):
    workshop, carried, *_ = finished_workshop()
    fac = facilitator_of(workshop)
    isolated_api.login(fac.email)
    bad = isolated_api.put(f"/proposals/{carried.id}/answer", {"status": "adopted"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "reasoning"
    ok = isolated_api.put(f"/proposals/{carried.id}/answer",
                          {"status": "not_adopted", "reasoning": "Passer ikke"})
    assert ok.status_code == 200 and ok.get_json()["status"] == "not_adopted"
    published = isolated_api.post(f"/workshops/{workshop.code}/publish", {"published": True})
    assert published.get_json()["published_at"]
    staff = isolated_api.get(f"/workshops/{workshop.code}/answers").get_json()
    assert staff["history"][str(carried.id)][0]["reasoning"] == "Passer ikke"
    wrong = isolated_api.post(f"/workshops/{workshop.code}/publish", {"published": "ja"})
    assert wrong.status_code == 400
