"""The live tally reads sums the database keeps as votes are written (workshop/sums.py:
triggers on `dot_vote` and on a participant's organisation). Whatever writes the votes, the
sums must always say what summing every ballot afresh says: after socket votes and domain
votes, changes and votes taken back, hidden and merged proposals, a participant removed with
their votes, a change of voting method, a forgotten participant, an organisation changed or
pseudonymised, a proposal deleted, an import, a deleted workshop. On SQLite and PostgreSQL."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import delete, func, select

from tests.factories import facilitator_of, hide, join_as, make_workshop, merge, move_to, propose
from tests.server import flask, server_env
from tests.test_tally import cells
from workshop import sums
from workshop.domain import backup, facilitation, moderation, privacy, results, voting
from workshop.domain.errors import DomainError
from workshop.domain.ranking import rank, scores, summarise
from workshop.extensions import db
from workshop.live.snapshot import tally
from workshop.models import DotVote, Participant, Proposal, TallyCell, TallyGroup, Workshop

pytestmark = pytest.mark.usefixtures("fast_passwords")

ORGANISATIONS = ["Ældre Sagen", "Røde Kors", "Diabetesforeningen", "", None, None]


def assert_in_step(workshop_id: int) -> None:
    """The kept sums equal the ballots summed afresh (`ranking.summarise`)."""
    db.session.expire_all()
    workshop = db.session.get(Workshop, workshop_id)
    ballots = results.ballots(workshop)
    kept, voters = results.summary(workshop)
    fresh = summarise(ballots)
    assert cells(kept) == cells(fresh)
    assert kept.members == fresh.members
    assert voters == len({b.participant_id for b in ballots})
    # And the live tally, which reads them per proposal under dots and approval.
    expected = rank(results.candidates(workshop), ballots, "participant", workshop.voting_method)
    org = scores(ballots, "organisation", workshop.voting_method)
    data = tally(workshop)
    assert [(r["id"], r["rank"], r["dots"], r["supporters"]) for r in data["rows"]] == \
        [(r.proposal_id, r.rank, r.dots, r.supporters) for r in expected]
    for row in data["rows"]:
        assert abs(row["org_score"] - float(org.get(row["id"], 0))) <= 0.5e-4 + 1e-12
    assert data["voters"] == voters


class Evening:
    """A workshop in voting with a crowd from a few organisations, and the moves of an evening
    that touch the votes, each taken at random."""

    def __init__(self, seed: int, people: int = 14, n_proposals: int = 6):
        self.rnd = random.Random(seed)
        self.workshop = make_workshop(phase="ideation")
        self.facilitator = facilitator_of(self.workshop)
        self.crowd = [join_as(self.workshop, f"Deltager {i}",
                              organisation=self.rnd.choice(ORGANISATIONS),
                              organisation_type="association")
                      for i in range(people)]
        self.proposals = [propose(self.workshop, self.crowd[i], f"Forslag {i}")
                          for i in range(n_proposals)]
        move_to(self.workshop, "voting")
        self.wid = self.workshop.id
        self.person_ids = [p.id for p in self.crowd]
        self.proposal_ids = [p.id for p in self.proposals]

    def fresh(self):
        db.session.expire_all()
        return db.session.get(Workshop, self.wid)

    def try_(self, call, *args, **kwargs):
        try:
            call(*args, **kwargs)
        except DomainError:
            db.session.rollback()

    def step(self) -> str:
        rnd, workshop = self.rnd, self.fresh()
        move = rnd.choices(
            ["socket vote", "domain vote", "take back", "hide", "unhide", "merge", "remove",
             "method", "forget", "organisation", "delete proposal"],
            weights=[30, 20, 8, 3, 3, 3, 3, 2, 2, 3, 1])[0]
        pid, proposal_id = rnd.choice(self.person_ids), rnd.choice(self.proposal_ids)
        value = rnd.randint(0, 5)
        if move == "socket vote":
            try:
                taken = voting.cast_vote(self.wid, pid, proposal_id, value)
            except DomainError:
                db.session.rollback()
                taken = True
            if taken is None:  # not the plain case: the socket handler takes set_dots
                self.try_(voting.set_dots, workshop, db.session.get(Participant, pid),
                          proposal_id, value)
        elif move in ("domain vote", "take back"):
            self.try_(voting.set_dots, workshop, db.session.get(Participant, pid), proposal_id,
                      0 if move == "take back" else value)
        elif move == "hide":
            self.try_(hide, workshop, db.session.get(Proposal, proposal_id))
        elif move == "unhide":
            self.try_(moderation.moderate, workshop, self.facilitator, proposal_id, "unhide",
                      reason="Alligevel")
        elif move == "merge":
            target = rnd.choice(self.proposal_ids)
            self.try_(merge, workshop, db.session.get(Proposal, proposal_id),
                      db.session.get(Proposal, target))
        elif move == "remove":
            self.try_(facilitation.remove_participant, workshop, self.facilitator, pid,
                      void_votes=rnd.random() < 0.7)
        elif move == "method":
            move_to(workshop, "review")
            self.try_(voting.set_voting_method, self.fresh(), self.facilitator,
                      rnd.choice(voting.METHODS))
            move_to(self.fresh(), "voting")
        elif move == "forget":
            self.try_(privacy.forget_participant, workshop, db.session.get(Participant, pid))
        elif move == "organisation":  # as retention's pseudonym does, or any other write
            db.session.get(Participant, pid).organisation_key = rnd.choice(
                ["ny forening", "", None, "røde kors"])
            db.session.commit()
        elif move == "delete proposal" and len(self.proposal_ids) > 2:
            db.session.delete(db.session.get(Proposal, proposal_id))
            db.session.commit()
            self.proposal_ids.remove(proposal_id)
        return move


def an_evening(seed: int, steps: int) -> tuple[Evening, set[str]]:
    """An evening of `steps` random moves, the sums checked after each; and the moves made."""
    evening = Evening(seed)
    seen = set()
    for _ in range(steps):
        seen.add(evening.step())
        assert_in_step(evening.wid)
    return evening, seen


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_kept_sums_follow_every_kind_of_write(app, seed):
    _evening, seen = an_evening(seed, 250)
    assert {"socket vote", "domain vote", "take back", "merge", "remove"} <= seen


@pytest.mark.postgres
@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_the_kept_sums_follow_every_kind_of_write_on_postgresql(app):
    _evening, seen = an_evening(4, 150)
    assert {"socket vote", "domain vote", "merge"} <= seen


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_an_import_and_a_deletion_keep_the_sums_in_step(app):
    evening, _seen = an_evening(5, 40)
    data = backup.export_workshop(evening.fresh())
    data["workshop"]["code"] = "KOPI42"
    for row in data["participants"]:
        row["token_hash"] = None
    copy = backup.import_workshop(data)
    assert_in_step(copy.id)
    (copied, copied_voters), (kept, voters) = results.summary(copy), \
        results.summary(evening.fresh())
    assert (copied.members, copied_voters) == (kept.members, voters)

    def counts(summary):
        return sorted((c.group or "", c.ballots, c.total, c.supporters) for c in summary.cells)

    assert counts(copied) == counts(kept)

    # Pseudonymised organisations at the end of retention: the groups keep their voters.
    before = results.summary(copy)
    for participant in db.session.scalars(select(Participant)
                                          .where(Participant.workshop_id == copy.id)):
        privacy._pseudonymise_organisation(participant, "hemmelig")
    db.session.commit()
    assert_in_step(copy.id)
    after = results.summary(db.session.get(Workshop, copy.id))
    assert sorted(after[0].members.values()) == sorted(before[0].members.values())
    assert after[1] == before[1]

    # By the database's cascades alone (in whatever order it takes them).
    db.session.execute(delete(Workshop).where(Workshop.id == copy.id))
    db.session.commit()
    for model in (TallyCell, TallyGroup):
        assert db.session.scalar(select(func.count()).select_from(model)
                                 .where(model.workshop_id == copy.id)) == 0
    assert_in_step(evening.wid)  # the other workshop's sums are untouched


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_a_vote_stays_with_its_participant_and_proposal(app):
    """The sums could drift if a vote moved: the database refuses it (a merge writes new
    votes instead)."""
    evening = Evening(6)
    voter = evening.crowd[0]
    voting.set_dots(evening.fresh(), voter, evening.proposal_ids[0], 1)
    vote = db.session.scalars(select(DotVote).where(DotVote.participant_id == voter.id)).one()
    vote.proposal_id = evening.proposal_ids[1]
    with pytest.raises(Exception, match="a vote stays with its workshop"):
        db.session.commit()
    db.session.rollback()
    assert_in_step(evening.wid)


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_the_migration_sums_the_votes_already_cast_and_keeps_them_from_then_on(app):
    evening, _seen = an_evening(7, 60)
    before = results.summary(evening.fresh())
    # The database as it was before the migration: no sums, no triggers, stamped one back.
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.commit()
    with db.engine.begin() as connection:
        for statement in sums.DROP[connection.dialect.name]:
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql("DROP TABLE tally_group")
        connection.exec_driver_sql("DROP TABLE tally_cell")
    db.engine.dispose()
    env = server_env(url, 5000)
    try:
        for command in (("db", "stamp", "a3f1c2d4e5b6"), ("db", "upgrade")):
            done = flask(env, *command)
            assert done.returncode == 0, done.stdout + done.stderr
        assert results.summary(evening.fresh()) == before
        assert_in_step(evening.wid)
        for _ in range(30):  # and the triggers keep them from here on
            evening.step()
        assert_in_step(evening.wid)
    finally:
        db.session.remove()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
