"""CSV and JSON exports of a workshop: proposals, votes and rankings, streamed row by row.

No personal data: a participant is a pseudonymous id (a keyed hash, the same in every export of
the workshop, useless without the server's secret) with their organisation type; their
organisation is a pseudonym too, so the organisation weighting can be recomputed from the file.
CSV cells are safe to open in a spreadsheet: text that starts with =, +, -, @, a tab or a
carriage return is prefixed with ' so it is never read as a formula.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterator

from sqlalchemy import select

from ..cpu import cpu_bound
from ..extensions import db
from ..models import DotVote, Participant, Proposal, Workshop
from .answers import current_answers
from .lenses import Outcome
from .results import ballots, candidates, lenses, voters

TABLES = ("ranking", "proposals", "votes")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> object:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def pseudonym(secret: str, workshop: Workshop, kind: str, value) -> str | None:
    if value is None:
        return None
    digest = hmac.new(secret.encode(), f"{kind}:{workshop.id}:{value}".encode(),
                      hashlib.sha256).hexdigest()
    return f"{kind[0].upper()}-{digest[:12]}"


def _csv_lines(rows) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _elements(workshop: Workshop) -> dict[int, tuple[str | None, str]]:
    return {e.id: (e.key, e.title) for e in workshop.elements}


def _proposal_rows(workshop: Workshop) -> Iterator[dict]:
    elements = _elements(workshop)
    answers = current_answers(workshop)
    query = (select(Proposal.id, Proposal.element_id, Proposal.title, Proposal.body,
                    Proposal.status, Proposal.status_reason, Proposal.merged_into_id,
                    Proposal.created_at)
             .where(Proposal.workshop_id == workshop.id).order_by(Proposal.id))
    for pid, element_id, title, body, status, reason, into, created in \
            db.session.execute(query).yield_per(500):
        answer = answers.get(pid)
        key, element = elements.get(element_id, (None, ""))
        yield {"id": pid, "element_id": element_id, "element_key": key, "element": element,
               "title": title, "body": body, "status": status,
               "moderation_reason": reason if status in ("hidden", "merged") else "",
               "merged_into": into, "created_at": created.isoformat() if created else None,
               "answer_status": answer.status if answer else None,
               "answer_reasoning": answer.reasoning if answer else None}


def _vote_rows(workshop: Workshop, secret: str) -> Iterator[dict]:
    query = (select(DotVote.participant_id, Participant.organisation_key,
                    Participant.organisation_type, DotVote.proposal_id, DotVote.dots)
             .join(Participant, DotVote.participant_id == Participant.id)
             .where(DotVote.workshop_id == workshop.id)
             .order_by(DotVote.participant_id, DotVote.proposal_id))
    for pid, org, kind, proposal_id, value in db.session.execute(query).yield_per(1000):
        yield {"participant": pseudonym(secret, workshop, "participant", pid),
               "organisation": pseudonym(secret, workshop, "organisation", org),
               "organisation_type": kind, "proposal_id": proposal_id, "value": value}


def _ranking_rows(outcome: Outcome, elements) -> Iterator[dict]:
    for row in outcome.rows:
        data = row.as_dict()
        by_type = data.pop("by_type")
        data.pop("tied_with")
        span = data.pop("rank_range")
        data["rank_low"], data["rank_high"] = span["low"], span["high"]
        data["element"] = elements.get(row.ranked.element_id, (None, ""))[1]
        for kind in outcome.types:
            support = by_type.get(kind, {})
            data[f"{kind}_dots"] = support.get("dots", 0)
            data[f"{kind}_supporters"] = support.get("supporters", 0)
            data[f"{kind}_share"] = support.get("share", 0.0)
        yield data


def _dict_csv(rows: Iterator[dict], header: list[str] | None = None) -> Iterator[str]:
    first = next(rows, None)
    if first is None:
        if header:
            yield from _csv_lines([header])
        return
    columns = list(first)
    yield from _csv_lines([columns])
    yield from _csv_lines([[first.get(c) for c in columns]])
    yield from _csv_lines([row.get(c) for c in columns] for row in rows)


PROPOSAL_COLUMNS = ["id", "element_id", "element_key", "element", "title", "body", "status",
                    "moderation_reason", "merged_into", "created_at", "answer_status",
                    "answer_reasoning"]
VOTE_COLUMNS = ["participant", "organisation", "organisation_type", "proposal_id", "value"]
RANKING_COLUMNS = ["rank", "proposal_id", "title", "element_id", "score", "supporters", "dots"]


def csv_export(workshop: Workshop, table: str, secret: str,
               weighting: str = "participant") -> Iterator[str]:
    """One table as CSV lines (a UTF-8 BOM first, so that spreadsheets read æøå)."""
    yield "\ufeff"
    if table == "proposals":
        yield from _dict_csv(_proposal_rows(workshop), PROPOSAL_COLUMNS)
    elif table == "votes":
        yield from _dict_csv(_vote_rows(workshop, secret), VOTE_COLUMNS)
    else:
        outcome = lenses(workshop, weighting)
        yield from _dict_csv(_ranking_rows(outcome, _elements(workshop)), RANKING_COLUMNS)


def json_export(workshop: Workshop, secret: str) -> Iterator[str]:
    """The whole workshop as one JSON document, written piece by piece."""
    data = (candidates(workshop), ballots(workshop), voters(workshop))
    by_person = lenses(workshop, "participant", data=data)
    by_org = lenses(workshop, "organisation", data=data)
    head = {
        "workshop": {"code": workshop.code, "title": workshop.title,
                     "description": workshop.description, "phase": workshop.phase,
                     "voting_method": workshop.voting_method,
                     "published_at": workshop.published_at.isoformat()
                     if workshop.published_at else None,
                     "elements": [{"id": e.id, "key": e.key, "title": e.title,
                                   "description": e.description} for e in workshop.elements]},
        "fairness": by_person.fairness.as_dict(),
        "bootstrap_samples": by_person.samples,
        "organisation_types": by_person.types,
        "rankings": {"participant": [r.as_dict() for r in by_person.rows],
                     "organisation": [r.as_dict() for r in by_org.rows]},
    }
    del data, by_person, by_org
    text = cpu_bound(json.dumps, head, ensure_ascii=False)  # rankings of every proposal
    yield text[:-1]  # leave the object open for the streamed lists
    for name, rows in (("proposals", _proposal_rows(workshop)),
                       ("votes", _vote_rows(workshop, secret))):
        yield f', "{name}": ['
        for i, row in enumerate(rows):
            yield ("," if i else "") + json.dumps(row, ensure_ascii=False)
        yield "]"
    yield "}"
