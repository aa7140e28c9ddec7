"""Privacy: the notice on the join page, retention with a frozen clock, a participant seeing and
deleting their own data, a facilitator deleting a workshop, and the audit record that stays."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.factories import (
    facilitator_of,
    join_as,
    make_user,
    make_workshop,
    move_to,
    propose,
    refresh,
    vote,
)
from workshop.domain import results
from workshop.domain.errors import DomainError
from workshop.domain.privacy import (
    ANONYMOUS_NAME,
    apply_retention,
    delete_workshop,
    forget_participant,
)
from workshop.extensions import db
from workshop.models import (
    AuditEvent,
    Comment,
    DotVote,
    ModerationAction,
    Participant,
    Proposal,
    Workshop,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")
SECRET = "test-secret"


def closed_workshop_with_votes(closed_at: datetime, retention_days: int = 90):
    workshop = make_workshop(phase="ideation", dots_per_participant=5)
    people = [join_as(workshop, "Karen", "Ældre Sagen Viborg", "association"),
              join_as(workshop, "Henrik", "ældre sagen  viborg", "association"),
              join_as(workshop, "Aisha", None, "citizen")]
    first = propose(workshop, people[0], "Fast kontaktperson")
    second = propose(workshop, people[2], "Åbne kriterier")
    move_to(workshop, "voting")
    vote(workshop, people[0], first, 3)
    vote(workshop, people[1], first, 1)
    vote(workshop, people[1], second, 2)
    vote(workshop, people[2], second, 3)
    move_to(workshop, "closed")
    workshop.closed_at = closed_at
    workshop.retention_days = retention_days
    db.session.commit()
    return workshop, people


def test_the_join_page_says_what_is_stored_why_for_how_long_and_whom_to_ask(client):
    workshop = make_workshop(phase="ideation")
    workshop.retention_days = 30
    db.session.commit()
    page = client.get(f"/j/{workshop.code}").get_data(as_text=True)
    notice = page[page.index('id="privacy-heading"'):page.index("</section>",
                                                                page.index("privacy-heading"))]
    for words in ("dit navn", "din organisation", "forslag, kommentarer og prikker",  # what
                  "Hvorfor", "gennemføre workshoppen",  # why
                  "30 dage efter, at workshoppen er lukket",  # how long (this workshop's)
                  "spørg facilitatoren",  # whom to ask
                  "se og slette dine oplysninger"):  # their rights, in practice
        assert words in notice, words


@pytest.mark.app_config({"PRIVACY_CONTACT": "dpo@region.dk"})
def test_the_privacy_contact_is_named_when_configured(client):
    workshop = make_workshop(phase="ideation")
    assert "dpo@region.dk" in client.get(f"/j/{workshop.code}").get_data(as_text=True)


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_retention_anonymises_only_after_the_period_and_keeps_the_outcome(app):
    closed = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    workshop, people = closed_workshop_with_votes(closed, retention_days=90)
    recent = make_workshop(phase="ideation")
    still_here = join_as(recent, "Ole", "Lev")
    move_to(recent, "closed")
    before = {w: [row.as_dict() for row in results.ranking(workshop, w)]
              for w in ("participant", "organisation")}
    votes_before = db.session.execute(
        select(DotVote.participant_id, DotVote.proposal_id, DotVote.dots)).all()

    day_89 = closed + timedelta(days=89, hours=23)
    assert apply_retention(day_89, SECRET).participants == 0
    assert refresh(people[0]).display_name == "Karen"

    dry = apply_retention(closed + timedelta(days=90), SECRET, dry_run=True)
    assert dry.workshops == {workshop.code: 3}
    assert refresh(people[0]).display_name == "Karen"  # a dry run changes nothing

    report = apply_retention(closed + timedelta(days=90), SECRET)
    assert report.workshops == {workshop.code: 3}
    db.session.expire_all()
    for person in people:
        person = db.session.get(Participant, person.id)
        assert person.display_name == ANONYMOUS_NAME
        assert person.organisation is None
        assert person.token_hash is None
        assert person.anonymised_at == closed + timedelta(days=90)
        assert person.organisation_type is not None  # a category, not a person
    keys = [db.session.get(Participant, p.id).organisation_key for p in people]
    assert keys[0] == keys[1] and keys[0].startswith("ANON-")  # one organisation, one key
    assert "sagen" not in keys[0] and keys[2] is None
    # The outcome and the pseudonymous votes stay exactly as they were.
    assert db.session.execute(
        select(DotVote.participant_id, DotVote.proposal_id, DotVote.dots)).all() == votes_before
    assert {w: [row.as_dict() for row in results.ranking(workshop, w)]
            for w in ("participant", "organisation")} == before
    assert refresh(still_here).display_name == "Ole"  # closed today: not yet
    assert apply_retention(closed + timedelta(days=400), SECRET).participants == 0  # idempotent
    logged = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "retention")).all()
    assert [e.workshop_code for e in logged] == [workshop.code]


def test_the_retention_command_runs_with_a_dry_run(runner):
    closed = datetime.now(UTC) - timedelta(days=200)
    workshop, people = closed_workshop_with_votes(closed)
    result = runner.invoke(args=["retention", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"Would anonymise 3 participant(s) in workshop {workshop.code}" in result.output
    assert refresh(people[0]).display_name == "Karen"
    result = runner.invoke(args=["retention"])
    assert result.exit_code == 0 and "Anonymised 3 participant(s)" in result.output
    assert refresh(people[0]).display_name == ANONYMOUS_NAME


def test_a_link_stops_working_after_anonymisation(app):
    closed = datetime(2026, 1, 1, tzinfo=UTC)
    workshop, people = closed_workshop_with_votes(closed)
    phone = app.test_client()
    phone.set_cookie(f"samskab_p_{workshop.code}", people[0].token)
    assert phone.get(f"/api/v1/workshops/{workshop.code}/participants/me").status_code == 200
    apply_retention(closed + timedelta(days=91), SECRET)
    assert phone.get(f"/api/v1/workshops/{workshop.code}/participants/me").status_code == 401


def test_a_participant_sees_their_own_data_and_no_one_elses(app):
    workshop = make_workshop(phase="ideation")
    ane = join_as(workshop, "Ane Andersen", "Lev Viborg", "association")
    other = join_as(workshop, "Bo Berg")
    proposal = propose(workshop, ane, "Anes forslag", "Med en begrundelse")
    from workshop.domain import proposals

    proposals.add_comment(workshop, proposal.id, "Anes kommentar", participant=ane)
    proposals.add_comment(workshop, proposal.id, "Bos kommentar", participant=other)
    phone = app.test_client()
    phone.set_cookie(f"samskab_p_{workshop.code}", ane.token)
    page = phone.get(f"/w/{workshop.code}/mine")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for mine in ("Ane Andersen", "Lev Viborg", "Anes forslag", "Med en begrundelse",
                 "Anes kommentar", "Slet mine data", "Anonym deltager"):
        assert mine in text, mine
    assert "Bos kommentar" not in text and "Bo Berg" not in text
    assert app.test_client().get(f"/w/{workshop.code}/mine").status_code == 302  # to join


def test_slet_mine_data_anonymises_the_participant_and_removes_the_cookie(app):
    workshop = make_workshop(phase="ideation")
    ane = join_as(workshop, "Ane Andersen", "Lev Viborg")
    proposal = propose(workshop, ane, "Anes forslag")
    move_to(workshop, "voting")
    vote(workshop, ane, proposal, 2)
    phone = app.test_client()
    phone.set_cookie(f"samskab_p_{workshop.code}", ane.token)
    refused = phone.post(f"/w/{workshop.code}/mine/delete", data={})  # not confirmed
    assert refused.status_code == 400
    assert refresh(ane).display_name == "Ane Andersen"
    response = phone.post(f"/w/{workshop.code}/mine/delete", data={"confirm": "y"})
    assert response.status_code == 302
    assert f"samskab_p_{workshop.code}=;" in response.headers["Set-Cookie"]
    ane = refresh(ane)
    assert (ane.display_name, ane.organisation, ane.token_hash) == (ANONYMOUS_NAME, None, None)
    assert ane.anonymised_at is not None
    assert db.session.get(Proposal, proposal.id).author_id == ane.id  # the proposal stays
    assert db.session.scalar(select(DotVote.dots).where(DotVote.participant_id == ane.id)) == 2
    # The old token is spent, wherever it was copied.
    copy = app.test_client()
    copy.set_cookie(f"samskab_p_{workshop.code}", "x")
    copy.set_cookie(f"samskab_p_{workshop.code}", ane_token_of(phone, workshop) or "gone")
    assert copy.get(f"/api/v1/workshops/{workshop.code}/participants/me").status_code == 401
    assert db.session.scalar(select(AuditEvent.action).where(
        AuditEvent.action == "participant_deleted_data")) is not None


def ane_token_of(client, workshop):
    cookie = client.get_cookie(f"samskab_p_{workshop.code}")
    return cookie.value if cookie else None


def test_deleting_data_closes_the_participants_socket(app):
    from workshop.extensions import socketio
    from workshop.live.broadcaster import NAMESPACE

    workshop = make_workshop(phase="ideation")
    ane = join_as(workshop, "Ane")
    phone = app.test_client()
    phone.set_cookie(f"samskab_p_{workshop.code}", ane.token)
    with app.app_context():
        live = socketio.test_client(app, namespace=NAMESPACE, auth={"workshop": workshop.code},
                                    flask_test_client=phone)
    assert live.is_connected(NAMESPACE)
    forget_participant(workshop, ane)
    assert not live.is_connected(NAMESPACE)


def test_someone_else_cannot_delete_a_participants_data(app):
    workshop, other = make_workshop(phase="ideation"), make_workshop(phase="ideation")
    stranger = join_as(other, "Fremmed")
    with pytest.raises(DomainError) as refused:
        forget_participant(workshop, stranger)
    assert refused.value.code == "forbidden"
    with pytest.raises(DomainError):
        forget_participant(workshop, None)


def count(model) -> int:
    return db.session.query(model).count()


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_a_facilitator_deletes_a_workshop_and_an_audit_record_stays(app):
    workshop = make_workshop(phase="ideation")
    keep = make_workshop(phase="ideation")
    kept_person = join_as(keep, "Bliver")
    propose(keep, kept_person, "Bliver her")
    ane = join_as(workshop, "Ane")
    proposal = propose(workshop, ane, "Forsvinder")
    from workshop.domain import facilitation, proposals

    proposals.add_comment(workshop, proposal.id, "Også væk", participant=ane)
    user = facilitator_of(workshop)
    facilitation.set_spotlight(workshop, user, proposal.id)
    move_to(workshop, "voting")
    vote(workshop, ane, proposal, 2)
    code, wid = workshop.code, workshop.id
    console = app.test_client()
    assert console.post("/api/v1/auth/login", json={"email": user.email,
                                                    "password": "correct-horse"}).status_code == 200
    page = console.get(f"/facilitate/{code}/delete")
    assert page.status_code == 200 and code in page.get_data(as_text=True)
    wrong = console.post(f"/facilitate/{code}/delete", data={"confirm": "FORKERT"})
    assert wrong.status_code == 400
    assert db.session.get(Workshop, wid) is not None
    outsider = app.test_client()
    other_user = make_user("facilitator")
    outsider.post("/api/v1/auth/login", json={"email": other_user.email,
                                              "password": "correct-horse"})
    assert outsider.post(f"/facilitate/{code}/delete", data={"confirm": code}).status_code == 403
    done = console.post(f"/facilitate/{code}/delete", data={"confirm": code.lower()})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Workshop, wid) is None
    for model in (Participant, Proposal, Comment, DotVote, ModerationAction):
        assert db.session.query(model).filter_by(workshop_id=wid).count() == 0 \
            if hasattr(model, "workshop_id") else True
    assert count(Comment) == 0 and count(Participant) == 1 and count(Proposal) == 1
    record = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "delete_workshop"))
    assert (record.workshop_code, record.user_email, record.workshop_id) == (code, user.email, wid)
    detail = json.loads(record.detail)
    assert detail["participants"] == 1 and detail["proposals"] == 1 and detail["votes"] == 1
    assert {"create", "phase", "spotlight"} <= {e["action"] for e in detail["moderation_log"]}
    assert console.get(f"/facilitate/{code}").status_code == 404


def test_deleting_a_workshop_needs_its_code_typed(app):
    workshop = make_workshop()
    with pytest.raises(DomainError) as refused:
        delete_workshop(workshop, facilitator_of(workshop), "")
    assert refused.value.code == "invalid" and refused.value.field == "confirm"
    with pytest.raises(DomainError) as refused:
        delete_workshop(workshop, make_user("reviewer"), workshop.code)
    assert refused.value.code == "forbidden"
    assert count(AuditEvent) == 0
