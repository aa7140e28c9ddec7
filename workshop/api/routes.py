"""The routes of the JSON API. Each parses JSON, calls the domain and shapes the answer."""

from __future__ import annotations

from flask import current_app, jsonify, request, session
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from sqlalchemy import select

from ..domain import moderation, proposals, results, voting, workshops
from ..domain.access import can_facilitate, can_review, is_staff, require_facilitator
from ..domain.errors import DomainError
from ..domain.participants import join
from ..domain.ranking import within_elements
from ..domain.users import authenticate, end_sessions
from ..extensions import db, limiter
from ..identity import participant_for, set_participant_cookie, staff_user
from ..models import Participant, Proposal, Workshop, WorkshopFacilitator
from ..security import (
    PARTICIPANT_VOTE_SCOPE,
    PARTICIPANT_WRITE_SCOPE,
    login_account_limit,
    participant_rate_key,
)
from . import ApiError, bp, json_body
from .openapi import spec
from .serialize import (
    CommentRow,
    comment_json,
    participant_json,
    proposal_json,
    user_json,
    workshop_json,
)


def _limit(name: str):
    return lambda: current_app.config[name]


# Proposals and comments share one allowance per participant with the pages and the sockets.
participant_write_limit = limiter.shared_limit(
    _limit("RATELIMIT_PARTICIPANT_WRITE"), scope=PARTICIPANT_WRITE_SCOPE,
    key_func=participant_rate_key)
participant_vote_limit = limiter.shared_limit(
    _limit("RATELIMIT_PARTICIPANT_VOTE"), scope=PARTICIPANT_VOTE_SCOPE,
    key_func=participant_rate_key)


# --- Auth -----------------------------------------------------------------------------------------


@bp.post("/auth/login")
@limiter.limit(_limit("RATELIMIT_LOGIN"))
@login_account_limit()
def api_login():
    data = json_body()
    user = authenticate(data.get("email"), data.get("password"))
    if user is None:
        raise ApiError(401, "unauthenticated", _("Forkert e-mail eller adgangskode."))
    session.clear()  # a fresh session on every login
    login_user(user)
    return jsonify({"user": user_json(user)})


@bp.post("/auth/logout")
def api_logout():
    user = staff_user()
    if user is not None:
        # Every session and live connection of this user ends, not only this client's.
        end_sessions(user)
    logout_user()
    session.clear()
    return jsonify({"ok": True})


@bp.get("/auth/me")
def api_me():
    user = staff_user()
    if user is None:
        raise DomainError("unauthenticated")
    return jsonify({"user": user_json(user)})


# --- Workshops ------------------------------------------------------------------------------------


def _workshop(code: str) -> Workshop:
    return workshops.get_workshop(code)


def _require_staff():
    user = staff_user()
    if user is None:
        raise DomainError("unauthenticated")
    return user


@bp.get("/workshops")
def list_workshops():
    user = _require_staff()
    query = select(Workshop).order_by(Workshop.created_at.desc())
    if user.role == "facilitator":
        query = query.join(WorkshopFacilitator).where(WorkshopFacilitator.user_id == user.id)
    return jsonify({"workshops": [
        workshop_json(w, staff=True, brief=True) for w in db.session.scalars(query)
    ]})


@bp.post("/workshops")
def create_workshop():
    user = _require_staff()
    data = json_body()
    settings = data.get("settings")
    if settings is not None and not isinstance(settings, dict):
        raise ApiError(400, "invalid", _("settings skal være et JSON-objekt."), "settings")
    template = data.get("template")
    if template is not None and not isinstance(template, str):
        raise ApiError(400, "invalid", _("template skal være tekst."), "template")
    workshop = workshops.create_workshop(
        user, data.get("title"), data.get("description"), template, settings
    )
    return jsonify(workshop_json(workshop, staff=True)), 201


@bp.get("/workshops/<code>")
def get_workshop(code: str):
    workshop = _workshop(code)
    return jsonify(workshop_json(workshop, staff=can_facilitate(staff_user(), workshop)))


@bp.patch("/workshops/<code>")
def update_workshop(code: str):
    workshop = _workshop(code)
    data = json_body()
    changes = dict(data.get("settings") or {}) if isinstance(data.get("settings"), dict) else None
    if changes is None and data.get("settings") is not None:
        raise ApiError(400, "invalid", _("settings skal være et JSON-objekt."), "settings")
    changes = changes or {}
    for key in ("title", "description"):
        if key in data:
            changes[key] = data[key]
    workshops.update_workshop(workshop, staff_user(), changes)
    return jsonify(workshop_json(workshop, staff=True))


@bp.post("/workshops/<code>/phase")
def set_phase(code: str):
    workshop = _workshop(code)
    data = json_body()
    workshops.set_phase(workshop, staff_user(), data.get("phase"))
    return jsonify(workshop_json(workshop, staff=True))


@bp.post("/workshops/<code>/elements")
def add_element(code: str):
    workshop = _workshop(code)
    data = json_body()
    element = workshops.add_element(workshop, staff_user(), data.get("title"),
                                    data.get("description"))
    return jsonify(_element_json(element)), 201


@bp.patch("/workshops/<code>/elements/<int:element_id>")
def edit_element(code: str, element_id: int):
    workshop = _workshop(code)
    data = json_body()
    element = workshops.edit_element(workshop, staff_user(), element_id,
                                      data.get("title"), data.get("description"))
    return jsonify(_element_json(element))


@bp.post("/workshops/<code>/elements/<int:element_id>/move")
def move_element(code: str, element_id: int):
    workshop = _workshop(code)
    data = json_body()
    workshops.move_element(workshop, staff_user(), element_id, data.get("offset"))
    return jsonify(workshop_json(workshop, staff=True))


@bp.delete("/workshops/<code>/elements/<int:element_id>")
def remove_element(code: str, element_id: int):
    workshop = _workshop(code)
    workshops.remove_element(workshop, staff_user(), element_id)
    return jsonify({"ok": True})


def _element_json(element) -> dict:
    return {"id": element.id, "title": element.title, "description": element.description,
            "position": element.position, "source": element.source}


# --- Participants ---------------------------------------------------------------------------------


@bp.post("/workshops/<code>/participants")
@limiter.limit(_limit("RATELIMIT_JOIN"))
def join_workshop(code: str):
    workshop = _workshop(code)
    data = json_body()
    joined = join(workshop, data.get("display_name"), data.get("organisation"),
                  data.get("organisation_type"), data.get("consent"))
    response = jsonify({"participant": participant_json(joined.participant)})
    response.status_code = 201
    set_participant_cookie(response, workshop, joined.token)
    return response


@bp.get("/workshops/<code>/participants/me")
def me_in_workshop(code: str):
    workshop = _workshop(code)
    participant = _participant(workshop)
    return jsonify({"participant": participant_json(participant)})


@bp.get("/workshops/<code>/participants")
def list_participants(code: str):
    workshop = _workshop(code)
    require_facilitator(staff_user(), workshop)
    rows = db.session.scalars(
        select(Participant).where(Participant.workshop_id == workshop.id).order_by(Participant.id)
    )
    return jsonify({"participants": [participant_json(p, staff=True) for p in rows]})


def _participant(workshop: Workshop) -> Participant:
    from ..domain.access import require_participant

    return require_participant(participant_for(workshop), workshop)


# --- Proposals and comments -----------------------------------------------------------------------


@bp.post("/workshops/<code>/proposals")
@participant_write_limit
def submit_proposal(code: str):
    workshop = _workshop(code)
    data = json_body()
    proposal, created = proposals.submit_proposal(
        workshop, participant_for(workshop), data.get("title"), data.get("body"),
        data.get("element_id"), data.get("client_id"),
    )
    participant = participant_for(workshop)
    body = proposal_json(proposal, workshop, viewer=participant)
    return jsonify(body), 201 if created else 200


@bp.get("/workshops/<code>/proposals")
def list_proposals(code: str):
    workshop = _workshop(code)
    user = staff_user()
    if user is not None and (can_facilitate(user, workshop) or can_review(user, workshop)):
        rows = proposals.all_proposals(workshop)
        merged = proposals.merged_into_map(workshop)
        return jsonify({"proposals": [
            proposal_json(p, workshop, staff=True, merged_from=merged.get(p.id, ()))
            for p in rows
        ]})
    participant = _participant(workshop)
    rows = proposals.proposals_for_participant(workshop, participant)
    merged = proposals.merged_into_map(workshop)
    return jsonify({"proposals": [
        proposal_json(p, workshop, viewer=participant, merged_from=merged.get(p.id, ()))
        for p in rows
    ]})


def _proposal_and_workshop(proposal_id: int) -> tuple[Proposal, Workshop]:
    proposal = proposals.get_proposal(None, proposal_id)
    return proposal, db.session.get(Workshop, proposal.workshop_id)


@bp.patch("/proposals/<int:proposal_id>")
def edit_own_proposal(proposal_id: int):
    proposal, workshop = _proposal_and_workshop(proposal_id)
    data = json_body()
    participant = participant_for(workshop)
    proposals.edit_own_proposal(workshop, participant, proposal.id, data.get("title"),
                                data.get("body"), data.get("element_id"))
    return jsonify(proposal_json(proposal, workshop, viewer=participant))


@bp.post("/proposals/<int:proposal_id>/withdraw")
def withdraw_proposal(proposal_id: int):
    proposal, workshop = _proposal_and_workshop(proposal_id)
    json_body()
    participant = participant_for(workshop)
    proposals.withdraw_proposal(workshop, participant, proposal.id)
    return jsonify(proposal_json(proposal, workshop, viewer=participant))


@bp.get("/proposals/<int:proposal_id>/comments")
def list_comments(proposal_id: int):
    proposal, workshop = _proposal_and_workshop(proposal_id)
    user = staff_user()
    if not (user is not None and can_review(user, workshop)):
        participant = _participant(workshop)
        if proposal.status != "visible" and proposal.author_id != participant.id:
            raise DomainError("not_found", _("Forslaget findes ikke."))
    rows = proposals.comment_rows(workshop, proposal.id)
    return jsonify({"comments": [CommentRow(*row).json(workshop) for row in rows]})


@bp.post("/proposals/<int:proposal_id>/comments")
@participant_write_limit
def add_comment(proposal_id: int):
    proposal, workshop = _proposal_and_workshop(proposal_id)
    data = json_body()
    participant = participant_for(workshop)
    user = staff_user()
    if participant is None and user is not None:
        comment, created = proposals.add_comment(workshop, proposal.id, data.get("body"),
                                                 user=user, client_id=data.get("client_id"))
    else:
        comment, created = proposals.add_comment(workshop, proposal.id, data.get("body"),
                                                 participant=participant,
                                                 client_id=data.get("client_id"))
    return jsonify(comment_json(comment, workshop)), 201 if created else 200


@bp.post("/proposals/<int:proposal_id>/moderation")
def moderate(proposal_id: int):
    proposal, workshop = _proposal_and_workshop(proposal_id)
    data = json_body()
    user = staff_user()
    if not is_staff(user):
        raise DomainError("unauthenticated", _("Log ind som facilitator."))
    result = moderation.moderate(
        workshop, user, proposal.id, data.get("action"), reason=data.get("reason"),
        into=data.get("into"), title=data.get("title"), body=data.get("body"),
        element_id=data.get("element_id"),
    )
    merged = proposals.merged_into_map(workshop)
    return jsonify({
        "proposal": proposal_json(proposal, workshop, staff=True,
                                  merged_from=merged.get(proposal.id, ())),
        "target": proposal_json(result, workshop, staff=True,
                                merged_from=merged.get(result.id, ())),
    })


# --- Votes and results ----------------------------------------------------------------------------


@bp.put("/workshops/<code>/votes/<int:proposal_id>")
@participant_vote_limit
def set_votes(code: str, proposal_id: int):
    workshop = _workshop(code)
    data = json_body()
    if "dots" not in data:
        raise ApiError(400, "invalid", _("Angiv antal prikker (dots)."), "dots")
    result = voting.set_dots(workshop, participant_for(workshop), proposal_id, data["dots"],
                             data.get("seq"))
    return jsonify({"proposal_id": result.proposal_id, "dots": result.dots,
                    "remaining": result.remaining, "applied": result.applied,
                    "mark": result.mark})


@bp.get("/workshops/<code>/votes")
def get_votes(code: str):
    workshop = _workshop(code)
    participant = _participant(workshop)
    allocations = voting.allocations(participant)
    return jsonify({
        "allocations": {str(k): v for k, v in sorted(allocations.items())},
        "remaining": workshop.dots_per_participant - sum(allocations.values())
        if voting.has_budget(workshop) else None,
        "budget": workshop.dots_per_participant if voting.has_budget(workshop) else None,
        "max_per_proposal": voting.vote_cap(workshop),
        "voting_method": workshop.voting_method,
    })


@bp.get("/workshops/<code>/results")
def get_results(code: str):
    workshop = _workshop(code)
    weighting = results.check_weighting(request.args.get("weighting"))
    user = staff_user()
    results.require_results_visible(
        workshop, user, None if user is not None and can_review(user, workshop)
        else participant_for(workshop)
    )
    outcome = results.lenses(workshop, weighting)
    ranked = [row.ranked for row in outcome.rows]
    by_element = within_elements(ranked)
    return jsonify({
        "weighting": weighting,
        "voting_method": outcome.method,
        "ranking": [row.as_dict() for row in ranked],
        # The lenses per proposal, in the ranking's order (the ranking rows keep their shape).
        "lenses": [_lens_json(row) for row in outcome.rows],
        "organisation_types": outcome.types,
        "fairness": outcome.fairness.as_dict(),
        "bootstrap_samples": outcome.samples,
        "elements": [
            {"element_id": e.id, "title": e.title,
             "ranking": [row.as_dict() for row in by_element.get(e.id, [])]}
            for e in workshop.elements
        ],
        "voters": outcome.fairness.voters,  # everyone who placed a dot (a yes, a rating)
    })


def _lens_json(row) -> dict:
    data = row.as_dict()
    return {key: data[key] for key in (
        "proposal_id", "consensus", "consensus_rank", "rank_range", "tied", "tied_with",
        "participant_rank", "organisation_rank", "by_type")}


# --- The API's own description --------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())


from . import outcomes  # noqa: E402,F401  (exports, report, answers: registers their routes)
