"""The flask commands: `users create` and `demo`."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from workshop.cli import DEMO_FACILITATOR, DEMO_REVIEWER, DEMO_TITLE
from workshop.extensions import db
from workshop.models import Comment, DotVote, Participant, Proposal, User, Workshop


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_users_create_makes_a_user_who_can_sign_in(runner):
    result = runner.invoke(args=["users", "create", "Fac@Region.dk", "--password",
                                 "correct-horse", "--role", "facilitator", "--name", "Fie"])
    assert result.exit_code == 0, result.output
    assert "fac@region.dk" in result.output
    user = db.session.scalar(select(User))
    assert (user.email, user.role, user.name) == ("fac@region.dk", "facilitator", "Fie")
    assert user.check_password("correct-horse") and "correct-horse" not in user.password_hash


@pytest.mark.parametrize(("args", "message"), [
    (["users", "create", "a@region.dk", "--password", "short", "--role", "facilitator"],
     "8"),
    (["users", "create", "a@region.dk", "--password", "correct-horse", "--role", "king"],
     "king"),
    (["users", "create", "not-an-email", "--password", "correct-horse", "--role", "admin"],
     "e-mail"),
    (["users", "create", "a@region.dk", "--role", "admin"], "--password"),
])
def test_users_create_refuses_bad_input_clearly(runner, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert message.lower() in result.output.lower()
    assert "Traceback" not in result.output
    assert count(User) == 0


def test_users_create_refuses_a_duplicate(runner):
    args = ["users", "create", "a@region.dk", "--password", "correct-horse", "--role", "reviewer"]
    assert runner.invoke(args=args).exit_code == 0
    result = runner.invoke(args=[*args[:2], "A@REGION.DK", *args[3:]])
    assert result.exit_code != 0
    assert "findes allerede" in result.output
    assert count(User) == 1


def test_demo_seeds_staff_and_a_workshop_with_proposals_and_votes(runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    facilitator = db.session.scalar(select(User).where(User.email == DEMO_FACILITATOR[0]))
    reviewer = db.session.scalar(select(User).where(User.email == DEMO_REVIEWER[0]))
    assert facilitator.role == "facilitator" and facilitator.check_password(DEMO_FACILITATOR[1])
    assert reviewer.role == "reviewer" and reviewer.check_password(DEMO_REVIEWER[1])
    workshop = db.session.scalar(select(Workshop).where(Workshop.title == DEMO_TITLE))
    assert workshop.phase == "voting"
    assert count(Proposal) >= 5 and count(DotVote) > 0 and count(Participant) >= 5
    assert count(Comment) >= 1
    spent = db.session.execute(select(DotVote.participant_id, func.sum(DotVote.dots))
                               .group_by(DotVote.participant_id)).all()
    assert all(total <= workshop.dots_per_participant for _p, total in spent)
    assert f"/j/{workshop.code}" in result.output
    assert DEMO_FACILITATOR[0] in result.output and DEMO_REVIEWER[0] in result.output


def test_demo_if_empty_does_not_duplicate(runner):
    assert runner.invoke(args=["demo", "--if-empty"]).exit_code == 0
    counts = (count(User), count(Workshop), count(Proposal), count(DotVote))
    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0, again.output
    assert (count(User), count(Workshop), count(Proposal), count(DotVote)) == counts
    code = db.session.scalar(select(Workshop.code).where(Workshop.title == DEMO_TITLE))
    assert f"/j/{code}" in again.output


def test_demo_also_seeds_a_finished_workshop_answered_and_published(runner):
    """So that the afterwards can be tried too: the politician's review, the answers, and
    what participants see through their links once the outcome is published."""
    from workshop.cli import DEMO_ANSWERS, DEMO_FINISHED_TITLE
    from workshop.domain import answers
    from workshop.models import ProposalAnswer

    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    finished = db.session.scalar(select(Workshop).where(Workshop.title == DEMO_FINISHED_TITLE))
    assert finished.phase == "results" and finished.published_at is not None
    assert count(ProposalAnswer) == len(DEMO_ANSWERS)
    given = {db.session.get(Proposal, pid).title: a.status
             for pid, a in answers.current_answers(finished).items()}
    assert given == {title: status for title, (status, _why) in DEMO_ANSWERS.items()}
    assert f"/review/{finished.code}" in result.output
    reviewer = runner.app.test_client()
    assert reviewer.post("/api/v1/auth/login", json={
        "email": DEMO_REVIEWER[0], "password": DEMO_REVIEWER[1]}).status_code == 200
    page = reviewer.get(f"/review/{finished.code}").get_data(as_text=True)
    assert "Regionen udpeger en fast kontaktperson" in page
