"""API routes for outcomes: exports, the PDF report, answers, publishing and the voting method.

Exports and the report are for reviewers, admins and the workshop's facilitators; a
participant's cookie gets a 403.
"""

from __future__ import annotations

from flask import Response, current_app, jsonify, request, stream_with_context
from flask_babel import gettext as _

from ..domain import answers, exports, reports, voting
from ..domain.access import can_review, require_reviewer
from ..domain.errors import DomainError
from ..extensions import db
from ..identity import participant_for, staff_user
from ..models import Workshop
from . import ApiError, bp, json_body
from .routes import _proposal_and_workshop, _workshop


def _require_reader(workshop: Workshop):
    user = staff_user()
    if user is None and participant_for(workshop) is not None:
        raise DomainError("forbidden", _("Eksport og rapport er for facilitatorer og "
                                         "politikere, ikke for deltagere."))
    require_reviewer(user, workshop)
    return user


def _streamed(produce, workshop: Workshop, *args):
    """A body streamed from `produce(workshop, *args)`.

    A streamed body runs after its view has returned: the view's database session has ended,
    and every object it loaded (the workshop first) is detached, so a lazy attribute raises.
    The body reads the workshop again in the session it runs in. (tests/test_exports_server.py
    downloads every export from the real server; the tests' isolated client serves a request
    the same way, see tests/conftest.py.)"""
    workshop_id = workshop.id

    def body():
        fresh = db.session.get(Workshop, workshop_id)
        if fresh is not None:  # deleted since the view answered: nothing more to send
            yield from produce(fresh, *args)

    return stream_with_context(body())


def _filename(workshop: Workshop, suffix: str) -> str:
    return f"samskab-{workshop.code}-{suffix}"


@bp.get("/workshops/<code>/export.csv")
def export_csv(code: str):
    workshop = _workshop(code)
    _require_reader(workshop)
    table = request.args.get("table", "ranking")
    if table not in exports.TABLES:
        raise ApiError(400, "invalid", _("table skal være 'ranking', 'proposals' eller 'votes'."),
                       "table")
    from ..domain.results import check_weighting

    weighting = check_weighting(request.args.get("weighting"))
    body = _streamed(exports.csv_export, workshop, table, current_app.config["SECRET_KEY"],
                     weighting)
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_filename(workshop, table)}.csv"')
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/workshops/<code>/export.json")
def export_json(code: str):
    workshop = _workshop(code)
    _require_reader(workshop)
    body = _streamed(exports.json_export, workshop, current_app.config["SECRET_KEY"])
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_filename(workshop, "eksport")}.json"')
    return response


@bp.get("/workshops/<code>/report.pdf")
def report_pdf(code: str):
    workshop = _workshop(code)
    _require_reader(workshop)
    response = Response(reports.build_report(workshop), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="{_filename(workshop, "rapport")}.pdf"')
    return response


@bp.get("/workshops/<code>/answers")
def list_answers(code: str):
    """Staff: every current answer and the history. Participants: once published."""
    workshop = _workshop(code)
    user = staff_user()
    if user is not None and can_review(user, workshop):
        history = answers.history(workshop)
        return jsonify({
            "published_at": workshop.published_at.isoformat() if workshop.published_at else None,
            "note": workshop.outcome_note or "",
            "answers": [a.as_dict() for a in answers.current_answers(workshop).values()],
            "history": {str(pid): [a.as_dict() for a in rows] for pid, rows in history.items()},
        })
    participant = participant_for(workshop)
    answers.require_published_for(workshop, participant)
    own = answers.own_proposal_ids(workshop, participant)
    return jsonify({
        "published_at": workshop.published_at.isoformat(),
        "note": workshop.outcome_note or "",
        "answers": [dict(a.as_dict(), own=a.proposal_id in own)
                    for a in answers.current_answers(workshop).values()],
    })


@bp.put("/proposals/<int:proposal_id>/answer")
def answer_proposal(proposal_id: int):
    proposal, workshop = _proposal_and_workshop(proposal_id)
    data = json_body()
    user = staff_user()
    answer = answers.set_answer(workshop, user, proposal.id, data.get("status"),
                                data.get("reasoning"))
    return jsonify(answer.as_dict())


@bp.post("/workshops/<code>/publish")
def publish(code: str):
    workshop = _workshop(code)
    data = json_body()
    user = staff_user()
    if user is None:
        raise DomainError("unauthenticated", _("Log ind som facilitator."))
    answers.publish(workshop, user, data.get("published", True), data.get("note"))
    return jsonify({"published_at": workshop.published_at.isoformat()
                    if workshop.published_at else None, "note": workshop.outcome_note or ""})


@bp.put("/workshops/<code>/voting-method")
def set_voting_method(code: str):
    workshop = _workshop(code)
    data = json_body()
    user = staff_user()
    if user is None:
        raise DomainError("unauthenticated", _("Log ind som facilitator."))
    voting.set_voting_method(workshop, user, data.get("voting_method"))
    return jsonify({"voting_method": workshop.voting_method,
                    "max_per_proposal": voting.vote_cap(workshop),
                    "budget": workshop.dots_per_participant if voting.has_budget(workshop)
                    else None})
