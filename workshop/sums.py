"""The live tally's running sums, kept by the database (tables `tally_cell` and `tally_group`).

The live tally ranks every vote of a workshop summed per proposal and organisation
(`ranking.Summary`). Summing the votes afresh for every tally made its cost grow with the votes
(1,000 participants: 17-28 ms on the event loop, five times a second; most of it SQLite sorting
every vote), and the whole process waits while it runs. Instead, the database keeps the sums as
votes are written, and a tally reads one row per (proposal, organisation) already summed.

The sums are kept by triggers, not by the code that writes votes: a vote, a change of dots, a
vote taken back, a merge, a hidden proposal's voided votes, a participant removed with their
votes, an import, a proposal or workshop deleted (cascades), an organisation pseudonymised at
the end of retention: every write to `dot_vote` or to a participant's `organisation_key` keeps
them in step, in its own transaction, whatever wrote it. Only the live tally reads them
(`results.summary`, `results.proposal_totals`); the results, lenses and exports still rank
every vote.

- `tally_cell`, per (workshop, proposal, group): the votes with a value (`ballots`), their
  values summed (`total`) and how many are `SUPPORT_SCORE` or more (`high`: support under the
  score method; under the others every vote is support, i.e. `ballots`). Keeping both means a
  change of voting method changes no sum.
- `tally_group`, per (workshop, group): voters, i.e. participants with a vote on anything.

`group_key` is the organisation key, or '' for participants without one (they share one
cell, which the ranking reads as each counting for themselves).

When a proposal or a workshop is deleted, its votes go by cascade and so do its sums; a vote's
trigger then leaves a sum whose proposal or workshop is gone alone (PostgreSQL would otherwise
check the updated sum's foreign key against the deleted row and refuse the delete).
Participants are only deleted with their workshop.

A vote's workshop, participant and proposal never change (a merge writes new votes): the
triggers refuse such an update rather than keep sums that could drift.

SQLite runs a row trigger as each row is written (AFTER triggers). PostgreSQL queues AFTER row
triggers to the end of the statement, when every row of a multi-row INSERT is visible, so
"this participant's first vote" would be seen by none of them; there the vote's trigger runs
BEFORE each row, when the rows already written by the same statement are visible and this one
is not yet.
"""

from __future__ import annotations

from sqlalchemy import Connection, event
from sqlalchemy.schema import MetaData

from .domain.ranking import SUPPORT_SCORE

_HIGH = "CASE WHEN {v}.dots >= " + str(SUPPORT_SCORE) + " THEN 1 ELSE 0 END"
_GROUP = "coalesce({p}.organisation_key, '')"

SQLITE = [
    f"""
    CREATE TRIGGER IF NOT EXISTS tally_vote_insert AFTER INSERT ON dot_vote BEGIN
      INSERT INTO tally_cell (workshop_id, proposal_id, group_key, ballots, total, high)
      SELECT NEW.workshop_id, NEW.proposal_id, {_GROUP.format(p='participant')}, 1, NEW.dots,
             {_HIGH.format(v='NEW')}
      FROM participant WHERE participant.id = NEW.participant_id
      ON CONFLICT (workshop_id, proposal_id, group_key) DO UPDATE SET
        ballots = ballots + 1, total = total + excluded.total, high = high + excluded.high;
      INSERT INTO tally_group (workshop_id, group_key, voters)
      SELECT NEW.workshop_id, {_GROUP.format(p='participant')}, 1
      FROM participant WHERE participant.id = NEW.participant_id
        AND NOT EXISTS (SELECT 1 FROM dot_vote AS v
                        WHERE v.participant_id = NEW.participant_id AND v.id <> NEW.id)
      ON CONFLICT (workshop_id, group_key) DO UPDATE SET voters = voters + 1;
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS tally_vote_delete AFTER DELETE ON dot_vote BEGIN
      UPDATE tally_cell SET ballots = ballots - 1, total = total - OLD.dots,
                            high = high - {_HIGH.format(v='OLD')}
      WHERE workshop_id = OLD.workshop_id AND proposal_id = OLD.proposal_id
        AND group_key = (SELECT {_GROUP.format(p='p')} FROM participant AS p
                         WHERE p.id = OLD.participant_id)
        AND EXISTS (SELECT 1 FROM proposal WHERE proposal.id = OLD.proposal_id);
      UPDATE tally_group SET voters = voters - 1
      WHERE workshop_id = OLD.workshop_id
        AND group_key = (SELECT {_GROUP.format(p='p')} FROM participant AS p
                         WHERE p.id = OLD.participant_id)
        AND NOT EXISTS (SELECT 1 FROM dot_vote AS v WHERE v.participant_id = OLD.participant_id)
        AND EXISTS (SELECT 1 FROM workshop WHERE workshop.id = OLD.workshop_id);
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS tally_vote_update AFTER UPDATE OF dots ON dot_vote BEGIN
      UPDATE tally_cell SET total = total + NEW.dots - OLD.dots,
                            high = high + {_HIGH.format(v='NEW')} - {_HIGH.format(v='OLD')}
      WHERE workshop_id = NEW.workshop_id AND proposal_id = NEW.proposal_id
        AND group_key = (SELECT {_GROUP.format(p='p')} FROM participant AS p
                         WHERE p.id = NEW.participant_id);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS tally_vote_fixed
    BEFORE UPDATE OF workshop_id, participant_id, proposal_id ON dot_vote
    WHEN NEW.workshop_id IS NOT OLD.workshop_id OR NEW.participant_id IS NOT OLD.participant_id
      OR NEW.proposal_id IS NOT OLD.proposal_id
    BEGIN
      SELECT RAISE(ABORT, 'a vote stays with its workshop, participant and proposal');
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS tally_participant_group
    AFTER UPDATE OF organisation_key ON participant
    WHEN {_GROUP.format(p='OLD')} <> {_GROUP.format(p='NEW')}
    BEGIN
      UPDATE tally_cell SET
        ballots = ballots - 1,
        total = total - (SELECT v.dots FROM dot_vote AS v WHERE v.participant_id = NEW.id
                         AND v.proposal_id = tally_cell.proposal_id),
        high = high - (SELECT {_HIGH.format(v='v')} FROM dot_vote AS v
                       WHERE v.participant_id = NEW.id
                       AND v.proposal_id = tally_cell.proposal_id)
      WHERE workshop_id = NEW.workshop_id AND group_key = {_GROUP.format(p='OLD')}
        AND proposal_id IN (SELECT v.proposal_id FROM dot_vote AS v
                            WHERE v.participant_id = NEW.id);
      INSERT INTO tally_cell (workshop_id, proposal_id, group_key, ballots, total, high)
      SELECT v.workshop_id, v.proposal_id, {_GROUP.format(p='NEW')}, 1, v.dots,
             {_HIGH.format(v='v')}
      FROM dot_vote AS v WHERE v.participant_id = NEW.id
      ON CONFLICT (workshop_id, proposal_id, group_key) DO UPDATE SET
        ballots = ballots + 1, total = total + excluded.total, high = high + excluded.high;
      UPDATE tally_group SET voters = voters - 1
      WHERE workshop_id = NEW.workshop_id AND group_key = {_GROUP.format(p='OLD')}
        AND EXISTS (SELECT 1 FROM dot_vote AS v WHERE v.participant_id = NEW.id);
      INSERT INTO tally_group (workshop_id, group_key, voters)
      SELECT NEW.workshop_id, {_GROUP.format(p='NEW')}, 1
      WHERE EXISTS (SELECT 1 FROM dot_vote AS v WHERE v.participant_id = NEW.id)
      ON CONFLICT (workshop_id, group_key) DO UPDATE SET voters = voters + 1;
    END
    """,
]

POSTGRESQL = [
    f"""
    CREATE OR REPLACE FUNCTION tally_vote_row() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      grp text;
    BEGIN
      IF TG_OP = 'INSERT' THEN
        SELECT {_GROUP.format(p='p')} INTO grp FROM participant AS p
        WHERE p.id = NEW.participant_id;
        INSERT INTO tally_cell AS c (workshop_id, proposal_id, group_key, ballots, total, high)
        VALUES (NEW.workshop_id, NEW.proposal_id, grp, 1, NEW.dots, {_HIGH.format(v='NEW')})
        ON CONFLICT (workshop_id, proposal_id, group_key) DO UPDATE SET
          ballots = c.ballots + 1, total = c.total + excluded.total, high = c.high + excluded.high;
        IF NOT EXISTS (SELECT 1 FROM dot_vote AS v WHERE v.participant_id = NEW.participant_id)
        THEN
          INSERT INTO tally_group AS g (workshop_id, group_key, voters)
          VALUES (NEW.workshop_id, grp, 1)
          ON CONFLICT (workshop_id, group_key) DO UPDATE SET voters = g.voters + 1;
        END IF;
        RETURN NEW;
      ELSIF TG_OP = 'DELETE' THEN
        SELECT {_GROUP.format(p='p')} INTO grp FROM participant AS p
        WHERE p.id = OLD.participant_id;
        UPDATE tally_cell SET ballots = ballots - 1, total = total - OLD.dots,
                              high = high - {_HIGH.format(v='OLD')}
        WHERE workshop_id = OLD.workshop_id AND proposal_id = OLD.proposal_id
          AND group_key = grp
          AND EXISTS (SELECT 1 FROM proposal WHERE proposal.id = OLD.proposal_id);
        IF NOT EXISTS (SELECT 1 FROM dot_vote AS v
                       WHERE v.participant_id = OLD.participant_id AND v.id <> OLD.id) THEN
          UPDATE tally_group SET voters = voters - 1
          WHERE workshop_id = OLD.workshop_id AND group_key = grp
            AND EXISTS (SELECT 1 FROM workshop WHERE workshop.id = OLD.workshop_id);
        END IF;
        RETURN OLD;
      END IF;
      IF NEW.workshop_id <> OLD.workshop_id OR NEW.participant_id <> OLD.participant_id
         OR NEW.proposal_id <> OLD.proposal_id THEN
        RAISE EXCEPTION 'a vote stays with its workshop, participant and proposal';
      END IF;
      IF NEW.dots <> OLD.dots THEN
        SELECT {_GROUP.format(p='p')} INTO grp FROM participant AS p
        WHERE p.id = NEW.participant_id;
        UPDATE tally_cell SET total = total + NEW.dots - OLD.dots,
                              high = high + {_HIGH.format(v='NEW')} - {_HIGH.format(v='OLD')}
        WHERE workshop_id = NEW.workshop_id AND proposal_id = NEW.proposal_id
          AND group_key = grp;
      END IF;
      RETURN NEW;
    END
    $$
    """,
    """
    CREATE OR REPLACE TRIGGER tally_vote BEFORE INSERT OR UPDATE OR DELETE ON dot_vote
    FOR EACH ROW EXECUTE FUNCTION tally_vote_row()
    """,
    f"""
    CREATE OR REPLACE FUNCTION tally_participant_group() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      old_grp text := {_GROUP.format(p='OLD')};
      new_grp text := {_GROUP.format(p='NEW')};
    BEGIN
      IF old_grp = new_grp THEN
        RETURN NULL;
      END IF;
      UPDATE tally_cell AS c SET ballots = c.ballots - 1, total = c.total - v.dots,
                                 high = c.high - {_HIGH.format(v='v')}
      FROM dot_vote AS v
      WHERE v.participant_id = NEW.id AND c.workshop_id = v.workshop_id
        AND c.proposal_id = v.proposal_id AND c.group_key = old_grp;
      INSERT INTO tally_cell AS c (workshop_id, proposal_id, group_key, ballots, total, high)
      SELECT v.workshop_id, v.proposal_id, new_grp, 1, v.dots, {_HIGH.format(v='v')}
      FROM dot_vote AS v WHERE v.participant_id = NEW.id
      ON CONFLICT (workshop_id, proposal_id, group_key) DO UPDATE SET
        ballots = c.ballots + 1, total = c.total + excluded.total, high = c.high + excluded.high;
      IF EXISTS (SELECT 1 FROM dot_vote AS v WHERE v.participant_id = NEW.id) THEN
        UPDATE tally_group SET voters = voters - 1
        WHERE workshop_id = NEW.workshop_id AND group_key = old_grp;
        INSERT INTO tally_group AS g (workshop_id, group_key, voters)
        VALUES (NEW.workshop_id, new_grp, 1)
        ON CONFLICT (workshop_id, group_key) DO UPDATE SET voters = g.voters + 1;
      END IF;
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE OR REPLACE TRIGGER tally_participant_group AFTER UPDATE OF organisation_key
    ON participant FOR EACH ROW EXECUTE FUNCTION tally_participant_group()
    """,
]

# The sums of the votes already in the database: what the triggers would have made of them.
BACKFILL = [
    f"""
    INSERT INTO tally_cell (workshop_id, proposal_id, group_key, ballots, total, high)
    SELECT v.workshop_id, v.proposal_id, {_GROUP.format(p='p')}, count(*), sum(v.dots),
           sum({_HIGH.format(v='v')})
    FROM dot_vote AS v JOIN participant AS p ON p.id = v.participant_id
    GROUP BY v.workshop_id, v.proposal_id, {_GROUP.format(p='p')}
    """,
    f"""
    INSERT INTO tally_group (workshop_id, group_key, voters)
    SELECT p.workshop_id, {_GROUP.format(p='p')}, count(*)
    FROM participant AS p
    WHERE EXISTS (SELECT 1 FROM dot_vote AS v WHERE v.participant_id = p.id)
    GROUP BY p.workshop_id, {_GROUP.format(p='p')}
    """,
]

DROP = {
    "sqlite": [f"DROP TRIGGER IF EXISTS {name}" for name in (
        "tally_vote_insert", "tally_vote_delete", "tally_vote_update", "tally_vote_fixed",
        "tally_participant_group")],
    "postgresql": ["DROP TRIGGER IF EXISTS tally_vote ON dot_vote",
                   "DROP TRIGGER IF EXISTS tally_participant_group ON participant",
                   "DROP FUNCTION IF EXISTS tally_vote_row()",
                   "DROP FUNCTION IF EXISTS tally_participant_group()"],
}


def statements(dialect: str) -> list[str]:
    """The triggers' DDL for a database (`sqlite` or `postgresql`)."""
    if dialect == "sqlite":
        return SQLITE
    if dialect == "postgresql":
        return POSTGRESQL
    raise ValueError(f"the tally's triggers are written for SQLite and PostgreSQL, not {dialect}")


def create_triggers(connection: Connection) -> None:
    """Install the triggers (again: each statement replaces what it creates)."""
    for statement in statements(connection.dialect.name):
        connection.exec_driver_sql(statement)


def install(metadata: MetaData) -> None:
    """Create the triggers whenever `metadata.create_all` creates the tables (tests, `init-db`);
    the migration creates them on a migrated database."""

    @event.listens_for(metadata, "after_create")
    def _after_create(target, connection, **kw):
        create_triggers(connection)
