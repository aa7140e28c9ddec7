"""The export benchmark (issue 4): CSV and JSON exports and the PDF report of a workshop with
2,000 participants and 500 proposals, at two vote counts, timed, with peak memory.

A script, not a test: it asserts no time. It builds the workshop straight into a fresh SQLite
file (bulk inserts, not the domain: building is not what is measured), then for each export
runs it once in a fresh child process and reports wall time, the peak of Python's allocations
(tracemalloc, on a second run: it slows allocation-heavy code) and the growth of the process's
peak RSS during the timed run.

    .venv/bin/python bench/exports.py   # 2,000 people, 500 proposals, 5 and 15 votes each
    .venv/bin/python bench/exports.py --votes 5,15 --participants 2000 --proposals 500 --samples 200
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(path: str, participants: int, proposals: int, votes_each: int, seed: int = 1) -> str:
    from sqlalchemy import insert

    from workshop import create_app
    from workshop.domain.templates import TEMPLATES
    from workshop.domain.workshops import template_elements
    from workshop.extensions import db
    from workshop.models import DotVote, Participant, Proposal, User, Workshop, WorkshopFacilitator

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench",
                      "RATELIMIT_ENABLED": False, "REDIS_URL": None})
    rng = random.Random(seed)
    types = ["citizen", "association", "volunteer_centre", "patient_organisation",
             "interest_organisation", "regional_staff"]
    with app.app_context():
        db.create_all()
        user = User(email="bench@region.dk", password_hash="x", role="facilitator")
        db.session.add(user)
        workshop = Workshop(code="BENCH1", title="Benchmark", template="generic-model",
                            phase="results", dots_per_participant=votes_each,
                            max_dots_per_proposal=min(3, votes_each),
                            voting_method="approval" if votes_each > 5 else "dots")
        workshop.elements.extend(template_elements(TEMPLATES["generic-model"]))
        db.session.add(workshop)
        db.session.flush()
        db.session.add(WorkshopFacilitator(workshop_id=workshop.id, user_id=user.id))
        elements = [e.id for e in workshop.elements]
        orgs = [(f"Forening {i}", rng.choice(types)) for i in range(150)]
        people = []
        for i in range(participants):
            org, kind = rng.choice(orgs) if rng.random() < 0.7 else (None, "citizen")
            people.append({"workshop_id": workshop.id, "display_name": f"Deltager {i}",
                           "organisation": org, "organisation_key": org.lower() if org else None,
                           "organisation_type": kind})
        db.session.execute(insert(Participant), people)
        ids = [p for (p,) in db.session.execute(db.select(Participant.id))]
        db.session.execute(insert(Proposal), [
            {"workshop_id": workshop.id, "element_id": rng.choice(elements),
             "author_id": rng.choice(ids), "title": f"Forslag {i} " + "ord " * rng.randint(1, 12),
             "body": "Begrundelse " * rng.randint(5, 40), "status": "visible"}
            for i in range(proposals)])
        pids = [p for (p,) in db.session.execute(db.select(Proposal.id))]
        weights = [1 / (1 + i) ** 0.8 for i in range(len(pids))]
        rows = []
        for person in ids:
            chosen = set()
            while len(chosen) < votes_each:
                chosen.add(rng.choices(pids, weights)[0])
            rows += [{"workshop_id": workshop.id, "participant_id": person, "proposal_id": p,
                      "dots": 1} for p in chosen]
        db.session.execute(insert(DotVote), rows)
        db.session.commit()
        return str(len(rows))


def _peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _measure(path: str, kind: str, samples: int, queue) -> None:
    from workshop import create_app
    from workshop.domain import exports, reports
    from workshop.domain.workshops import get_workshop

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench",
                      "RATELIMIT_ENABLED": False, "REDIS_URL": None})
    def run(workshop) -> int:
        if kind == "report.pdf":
            return len(reports.build_report(workshop, samples=samples))
        if kind == "export.json":
            return sum(len(chunk) for chunk in exports.json_export(workshop, "bench"))
        table = kind.split(":")[1]
        return sum(len(chunk) for chunk in exports.csv_export(workshop, table, "bench"))

    with app.test_request_context():
        workshop = get_workshop("BENCH1")
        # Timed without tracemalloc (it slows every allocation several times over); the peak
        # RSS growth is taken on this run, the Python allocation peak on a second one.
        rss_before = _peak_rss_kb()
        started = time.perf_counter()
        size = run(workshop)
        seconds = time.perf_counter() - started
        rss_growth = _peak_rss_kb() - rss_before
        tracemalloc.start()
        run(workshop)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        queue.put({"export": kind, "seconds": round(seconds, 2), "bytes": size,
                   "tracemalloc_peak_mb": round(peak / 2**20, 1),
                   "rss_growth_mb": round(rss_growth / 1024, 1)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--proposals", type=int, default=500)
    parser.add_argument("--votes", default="5,15", help="votes per participant, comma-separated")
    parser.add_argument("--samples", type=int, default=200, help="bootstrap draws")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    kinds = ["csv:votes", "csv:proposals", "csv:ranking", "export.json", "report.pdf"]
    figures = []
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        for votes_each in (int(v) for v in args.votes.split(",")):
            path = os.path.join(tmp, f"bench-{votes_each}.sqlite3")
            total = build(path, args.participants, args.proposals, votes_each)
            print(f"\n{args.participants} participants, {args.proposals} proposals, "
                  f"{total} votes ({votes_each} each)")
            print(f"{'export':<15}{'seconds':>9}{'MB out':>9}{'tracemalloc MB':>16}"
                  f"{'RSS growth MB':>15}")
            for kind in kinds:
                queue = ctx.Queue()
                child = ctx.Process(target=_measure, args=(path, kind, args.samples, queue))
                child.start()
                row = queue.get()
                child.join()
                row["votes"] = int(total)
                figures.append(row)
                print(f"{kind:<15}{row['seconds']:>9}{row['bytes'] / 2**20:>9.1f}"
                      f"{row['tracemalloc_peak_mb']:>16}{row['rss_growth_mb']:>15}")
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
