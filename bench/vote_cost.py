"""What does one vote cost the server? (issue 6)

A voting burst is mostly votes: each one the socket's fast path (`voting.cast_votes`): the
lock, one read, the mark and the write, plus the triggers that keep the tally's sums
(workshop/sums.py), with one commit for the votes that arrive together (on SQLite; `--batch`).
This script times that path alone, without sockets or a server, so a change to it can be
measured in microseconds instead of through a whole burst's noise.

It builds a workshop in the voting phase on a fresh database (SQLite by default; PostgreSQL with
`--database postgresql://...`, in a database of its own that it drops afterwards), then lets
every participant vote as in a burst: five dots placed one at a time, then one changed and one
taken back. Each batch of votes (one vote by default) is timed by the wall clock and by the
thread's CPU time, shared out over its votes. Rounds alternate with a pause, and the figures are
the median, p90 and p99 over all rounds.

A script, not a test: it asserts nothing. It prints a table and writes
`bench/results/<date>-<label>.json`.

    .venv/bin/python bench/vote_cost.py
    .venv/bin/python bench/vote_cost.py --participants 500 --rounds 5 --label vote-cost
    .venv/bin/python bench/vote_cost.py --batch 16     # 16 votes to a transaction
    .venv/bin/python bench/vote_cost.py --database postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from report import machine_info, percentile, write_json  # noqa: E402 - after the path

TYPES = ["citizen", "association", "volunteer_centre", "patient_organisation",
         "interest_organisation"]


def build(app, participants: int, proposals: int, seed: int) -> tuple[int, list[int], list[int]]:
    """A workshop in the voting phase (five dots, at most three on one proposal); its id, the
    participants' ids and the proposals' ids."""
    from sqlalchemy import insert, select

    from workshop.domain.templates import TEMPLATES
    from workshop.domain.workshops import template_elements
    from workshop.extensions import db
    from workshop.models import Participant, Proposal, Workshop

    rng = random.Random(seed)
    with app.app_context():
        db.create_all()
        workshop = Workshop(code="VOTE01", title="Vote cost", template="generic-model",
                            phase="voting", dots_per_participant=5, max_dots_per_proposal=3,
                            voting_method="dots")
        workshop.elements.extend(template_elements(TEMPLATES["generic-model"]))
        db.session.add(workshop)
        db.session.flush()
        elements = [e.id for e in workshop.elements]
        orgs = [f"Forening {i}" for i in range(max(2, participants // 7))]
        people = []
        for i in range(participants):
            org = rng.choice(orgs) if rng.random() < 0.7 else None
            people.append({"workshop_id": workshop.id, "display_name": f"Deltager {i}",
                           "organisation": org,
                           "organisation_key": org.lower() if org else None,
                           "organisation_type": rng.choice(TYPES) if org else "citizen"})
        db.session.execute(insert(Participant), people)
        ids = list(db.session.scalars(select(Participant.id)
                                      .where(Participant.workshop_id == workshop.id)))
        db.session.execute(insert(Proposal), [
            {"workshop_id": workshop.id, "author_id": rng.choice(ids),
             "element_id": rng.choice(elements),
             "title": f"Forslag {i}", "body": "Begrundelse", "status": "visible"}
            for i in range(proposals)])
        pids = list(db.session.scalars(select(Proposal.id)
                                       .where(Proposal.workshop_id == workshop.id)))
        db.session.commit()
        return workshop.id, ids, pids


def burst(participants: list[int], proposals: list[int], rng: random.Random):
    """Every participant's votes, interleaved as a burst's are: (participant, proposal, dots)."""
    plans = []
    for person in participants:
        chosen = rng.sample(proposals, 5)
        votes = [(person, p, 1) for p in chosen]  # five dots, one at a time
        votes.append((person, chosen[0], 0))  # one taken back...
        votes.append((person, chosen[1], 2))  # ...and put on another
        plans.append(votes)
    order = []
    while any(plans):
        for plan in rng.sample(plans, len(plans)):
            if plan:
                order.append(plan.pop(0))
    return order


def reset(app, workshop_id: int) -> None:
    from sqlalchemy import delete, update

    from workshop.extensions import db
    from workshop.models import DotVote, Participant

    with app.app_context():
        db.session.execute(delete(DotVote).where(DotVote.workshop_id == workshop_id))
        db.session.execute(update(Participant).where(Participant.workshop_id == workshop_id)
                           .values(vote_seq=0, vote_mark=0))
        db.session.commit()


def run(app, workshop_id: int, order, seq_start: int,
        batch: int = 1) -> tuple[list[float], list[float], int]:
    """Cast the burst's votes in batches of `batch` (voting.cast_votes, one transaction each,
    as the socket's group commit does when that many arrive together); each vote's wall and
    CPU times in seconds (its batch's, shared out), and refusals."""
    from workshop.domain import voting

    walls, cpus, refused = [], [], 0
    votes = [voting.PlainVote(workshop_id, person, proposal, dots, seq_start + i + 1)
             for i, (person, proposal, dots) in enumerate(order)]
    with app.app_context():
        for start in range(0, len(votes), batch):
            chunk = votes[start:start + batch]
            wall, cpu = time.perf_counter(), time.thread_time()
            outcomes = voting.cast_votes(chunk)
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            cpus += [cpu / len(chunk)] * len(chunk)
            walls += [wall / len(chunk)] * len(chunk)
            refused += sum(1 for o in outcomes
                           if not isinstance(o, voting.VoteResult) or not o.applied)
    return walls, cpus, refused


def micro(values: list[float]) -> dict:
    ordered = sorted(v * 1e6 for v in values)
    return {"count": len(ordered), "p50": round(percentile(ordered, 0.5), 1),
            "p90": round(percentile(ordered, 0.9), 1), "p99": round(percentile(ordered, 0.99), 1),
            "mean": round(statistics.fmean(ordered), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--proposals", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5, help="bursts, each on a clean slate")
    parser.add_argument("--database", default="sqlite",
                        help="sqlite (a fresh file) or a PostgreSQL URL (a fresh database on "
                             "that server, dropped afterwards)")
    parser.add_argument("--batch", type=int, default=1,
                        help="votes per transaction (the socket's group commit on SQLite "
                             "puts together the votes that arrive together)")
    parser.add_argument("--label", default="vote-cost")
    args = parser.parse_args(argv)
    if args.participants < 1 or args.rounds < 1 or args.proposals < 5 or args.batch < 1:
        parser.error("participants, rounds and batch must be positive, and proposals at "
                     "least 5")

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from workshop import create_app
    from workshop.heap import tune_gc

    admin, scratch, tmp = None, None, tempfile.TemporaryDirectory()
    if args.database == "sqlite":
        url = f"sqlite:///{os.path.join(tmp.name, 'votes.sqlite3')}"
    else:
        try:
            base = make_url(args.database)
            admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
            scratch = f"samskab_votecost_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{scratch}"'))
        except (SQLAlchemyError, ValueError) as error:
            parser.error(f"--database: cannot make a database there: {error}")
        url = base.set(database=scratch).render_as_string(hide_password=False)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                          "RATELIMIT_ENABLED": False, "REDIS_URL": None})
        tune_gc(app.config["GC_THRESHOLDS"])  # as the server's worker does
        workshop_id, people, proposals = build(app, args.participants, args.proposals, 1)
        rng = random.Random(2)
        walls, cpus, refused, seq = [], [], 0, 0
        for _ in range(args.rounds):
            reset(app, workshop_id)
            order = burst(people, proposals, rng)
            gc.collect()
            w, c, r = run(app, workshop_id, order, seq, args.batch)
            seq += len(order)
            walls += w
            cpus += c
            refused += r
            time.sleep(0.5)
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            admin.dispose()
        tmp.cleanup()
    figures = {"wall_us": micro(walls), "cpu_us": micro(cpus), "votes": len(walls),
               "batch": args.batch,
               "refused_or_overtaken": refused,
               "database": "sqlite" if args.database == "sqlite" else "postgresql"}
    print(f"{'per vote (us)':<14} {'p50':>8} {'p90':>8} {'p99':>8} {'mean':>8}")
    for name in ("wall_us", "cpu_us"):
        f = figures[name]
        print(f"{name:<14} {f['p50']:>8} {f['p90']:>8} {f['p99']:>8} {f['mean']:>8}")
    print(f"{len(walls)} votes on {figures['database']} in batches of {args.batch}, "
          f"{refused} refused or overtaken")
    out = HERE / "results" / f"{datetime.date.today().isoformat()}-{args.label}.json"
    arguments = {**vars(args), "database": figures["database"]}  # no credentials in results
    write_json(out, {"benchmark": "vote_cost", "machine": machine_info(), "args": arguments,
                     "figures": figures})
    print(f"\nwritten: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
