"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

A test compares it with the app's URL map, so a route cannot be added without describing it.
"""

from __future__ import annotations

from typing import Any

PHASES = ["lobby", "ideation", "review", "voting", "results", "closed"]
ANSWER_STATUSES = ["under_consideration", "adopted", "partly_adopted", "not_adopted"]
ORG_TYPES = ["citizen", "association", "volunteer_centre", "patient_organisation",
             "interest_organisation", "regional_staff", "politician", "other"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: dict | None = None, status: str = "200") -> dict:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    return {status: response, "4XX": {"$ref": "#/components/responses/Error"}}


def _op(summary: str, responses: dict, *, body: dict | None = None, tag: str,
        params: list | None = None) -> dict:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if body is not None:
        op["requestBody"] = _body(body)
    if params:
        op["parameters"] = params
    return op


def _obj(properties: dict, required: list[str] | None = None) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The workshop's join code"}
PROPOSAL_ID = {"name": "proposal_id", "in": "path", "required": True,
               "schema": {"type": "integer"}}
ELEMENT_ID = {"name": "element_id", "in": "path", "required": True,
              "schema": {"type": "integer"}}

SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": _obj({
        "code": {"type": "string", "enum": [
            "invalid", "unauthenticated", "forbidden", "not_found", "wrong_phase",
            "budget_exceeded", "closed", "conflict", "rate_limited", "method_not_allowed",
            "unavailable"]},
        "message": {"type": "string"},
        "field": {"type": "string"},
    }, ["code", "message"])}, ["error"]),
    "Settings": _obj({
        "dots_per_participant": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5},
        "max_dots_per_proposal": {"type": "integer", "minimum": 1, "maximum": 100, "default": 3},
        "moderation": {"type": "string", "enum": ["post", "pre"], "default": "post"},
        "max_proposals_per_participant": {"type": ["integer", "null"], "minimum": 1},
        "show_names": {"type": "boolean", "default": True},
    }),
    "Element": _obj({
        "id": {"type": "integer"}, "title": {"type": "string", "maxLength": 120},
        "description": {"type": "string"}, "position": {"type": "integer"},
        "source": {"type": "string"},
    }, ["id", "title"]),
    "Workshop": _obj({
        "code": {"type": "string"}, "join_url": {"type": "string", "format": "uri"},
        "title": {"type": "string"}, "description": {"type": "string"},
        "template": {"type": "string"}, "phase": {"type": "string", "enum": PHASES},
        "elements": {"type": "array", "items": _ref("Element")},
        "settings": _ref("Settings"),
        "join_locked": {"type": "boolean", "description": "staff only"},
        "results_revealed": {"type": "boolean", "description": "staff only"},
        "facilitators": {"type": "array", "items": {"type": "string"},
                         "description": "staff only"},
    }, ["code", "join_url", "title", "phase", "settings"]),
    "Participant": _obj({
        "id": {"type": "integer"}, "display_name": {"type": "string"},
        "organisation": {"type": ["string", "null"]},
        "organisation_type": {"type": ["string", "null"], "enum": [*ORG_TYPES, None]},
    }, ["id", "display_name"]),
    "Proposal": _obj({
        "id": {"type": "integer"}, "title": {"type": "string"}, "body": {"type": "string"},
        "element_id": {"type": "integer"},
        "status": {"type": "string",
                   "enum": ["pending", "visible", "hidden", "withdrawn", "merged"]},
        "own": {"type": "boolean"}, "author": {"type": ["string", "null"]},
        "merged_into": {"type": ["integer", "null"]},
        "merged_from": {"type": "array", "items": _obj({
            "id": {"type": "integer"}, "title": {"type": "string"}, "body": {"type": "string"}})},
    }, ["id", "title", "body", "element_id", "status"]),
    "Comment": _obj({
        "id": {"type": "integer"}, "proposal_id": {"type": "integer"},
        "body": {"type": "string"}, "author": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
    }, ["id", "proposal_id", "body"]),
    "RankedProposal": _obj({
        "rank": {"type": "integer"}, "proposal_id": {"type": "integer"},
        "title": {"type": "string"}, "element_id": {"type": "integer"},
        "score": {"type": "number"}, "supporters": {"type": "integer"},
        "dots": {"type": "integer"},
    }, ["rank", "proposal_id", "title", "element_id", "score", "supporters"]),
    "TypeSupport": _obj({
        "organisation_type": {"type": "string", "description": "a type, or 'unspecified'"},
        "dots": {"type": "integer", "description": "dots, yeses or the sum of ratings"},
        "supporters": {"type": "integer"}, "voters": {"type": "integer"},
        "share": {"type": "number", "description": "supporters / voters of this type"},
    }),
    "Lens": _obj({
        "proposal_id": {"type": "integer"},
        "consensus": {"type": "number", "description": (
            "product over the organisation types that voted of "
            "(supporters + 1) / (voters + 2)")},
        "consensus_rank": {"type": "integer"},
        "rank_range": _obj({"low": {"type": "integer"}, "high": {"type": "integer"}}),
        "tied": {"type": "boolean", "description": "its rank range overlaps another's"},
        "tied_with": {"type": "array", "items": {"type": "integer"}},
        "participant_rank": {"type": "integer"}, "organisation_rank": {"type": "integer"},
        "by_type": {"type": "object", "additionalProperties": {"$ref":
                                                               "#/components/schemas/TypeSupport"}},
    }, ["proposal_id", "consensus", "rank_range", "by_type"]),
    "Fairness": _obj({
        "participants": {"type": "integer"}, "voters": {"type": "integer"},
        "organisations": {"type": "integer"}, "voting_organisations": {"type": "integer"},
        "participants_by_type": {"type": "object"}, "voters_by_type": {"type": "object"},
        "organisations_by_type": {"type": "object"},
        "largest_organisation_share": {"type": "number"},
        "kendall_tau": {"type": ["number", "null"]}, "footrule": {"type": ["number", "null"]},
        "moved": {"type": "array", "items": {"type": "object"}},
    }),
    "Answer": _obj({
        "proposal_id": {"type": "integer"},
        "status": {"type": "string", "enum": ANSWER_STATUSES},
        "reasoning": {"type": "string"},
        "answered_at": {"type": "string", "format": "date-time"},
        "own": {"type": "boolean", "description": "participants: one of their proposals"},
    }, ["proposal_id", "status", "reasoning"]),
    "User": _obj({"id": {"type": "integer"}, "email": {"type": "string"},
                  "name": {"type": "string"},
                  "role": {"type": "string", "enum": ["facilitator", "reviewer", "admin"]}}),
}

TITLE_BODY = _obj({"title": {"type": "string", "maxLength": 200},
                   "description": {"type": "string"}})


def _paths() -> dict[str, Any]:
    workshop = _ref("Workshop")
    proposal = _ref("Proposal")
    return {
        "/auth/login": {"post": _op(
            "Sign in as staff; sets the session cookie",
            _ok("Signed in", _obj({"user": _ref("User")})), tag="auth",
            body=_obj({"email": {"type": "string"}, "password": {"type": "string"}},
                      ["email", "password"]))},
        "/auth/logout": {"post": _op("Sign out", _ok("Signed out"), tag="auth",
                                     body=_obj({}))},
        "/auth/me": {"get": _op("The signed-in staff user",
                                _ok("The user", _obj({"user": _ref("User")})), tag="auth")},
        "/workshops": {
            "get": _op("The workshops the signed-in staff user may see",
                       _ok("Workshops", _obj({"workshops": {"type": "array",
                                                            "items": workshop}})),
                       tag="workshops"),
            "post": _op(
                "Create a workshop from a template (facilitators)",
                _ok("Created", workshop, "201"), tag="workshops",
                body=_obj({"title": {"type": "string", "maxLength": 200},
                           "description": {"type": "string"},
                           "template": {"type": "string", "enum": ["generic-model", "blank"]},
                           "settings": _ref("Settings")}, ["title"])),
        },
        "/workshops/{code}": {
            "get": _op("A workshop (staff-only fields for its facilitators)",
                       _ok("The workshop", workshop), tag="workshops", params=[CODE]),
            "patch": _op("Change title, description or settings (facilitators)",
                         _ok("The workshop", workshop), tag="workshops", params=[CODE],
                         body=_obj({"title": {"type": "string"},
                                    "description": {"type": "string"},
                                    "settings": _ref("Settings")})),
        },
        "/workshops/{code}/phase": {"post": _op(
            "Move the workshop to a phase (forward, or back one step)",
            _ok("The workshop", workshop), tag="workshops", params=[CODE],
            body=_obj({"phase": {"type": "string", "enum": PHASES}}, ["phase"]))},
        "/workshops/{code}/elements": {"post": _op(
            "Add a model element (before voting)", _ok("Created", _ref("Element"), "201"),
            tag="elements", params=[CODE],
            body=_obj({"title": {"type": "string", "maxLength": 120},
                       "description": {"type": "string", "maxLength": 1000}}, ["title"]))},
        "/workshops/{code}/elements/{element_id}": {
            "patch": _op("Edit a model element", _ok("The element", _ref("Element")),
                         tag="elements", params=[CODE, ELEMENT_ID],
                         body=_obj({"title": {"type": "string"},
                                    "description": {"type": "string"}})),
            "delete": _op("Remove a model element without proposals", _ok("Removed"),
                          tag="elements", params=[CODE, ELEMENT_ID]),
        },
        "/workshops/{code}/elements/{element_id}/move": {"post": _op(
            "Move a model element one step up (-1) or down (1)", _ok("The workshop", workshop),
            tag="elements", params=[CODE, ELEMENT_ID],
            body=_obj({"offset": {"type": "integer", "enum": [-1, 1]}}, ["offset"]))},
        "/workshops/{code}/participants": {
            "post": _op(
                "Join the workshop; sets the participant cookie",
                _ok("Joined", _obj({"participant": _ref("Participant")}), "201"),
                tag="participants", params=[CODE],
                body=_obj({"display_name": {"type": "string", "maxLength": 80},
                           "organisation": {"type": ["string", "null"], "maxLength": 120},
                           "organisation_type": {"type": ["string", "null"],
                                                 "enum": [*ORG_TYPES, None]},
                           "consent": {"const": True}}, ["display_name", "consent"])),
            "get": _op("The workshop's participants (facilitators)",
                       _ok("Participants", _obj({"participants": {
                           "type": "array", "items": _ref("Participant")}})),
                       tag="participants", params=[CODE]),
        },
        "/workshops/{code}/participants/me": {"get": _op(
            "The participant behind the cookie",
            _ok("The participant", _obj({"participant": _ref("Participant")})),
            tag="participants", params=[CODE])},
        "/workshops/{code}/proposals": {
            "post": _op(
                "Submit a proposal (ideation); a resent client_id returns the first (200)",
                {**_ok("Created", proposal, "201"), "200": {"description": "Already created"}},
                tag="proposals", params=[CODE],
                body=_obj({"title": {"type": "string", "maxLength": 120},
                           "body": {"type": "string", "maxLength": 2000},
                           "element_id": {"type": "integer"},
                           "client_id": {"type": "string", "maxLength": 64}},
                          ["title", "element_id"])),
            "get": _op(
                "Proposals: participants see visible ones and their own; staff see all",
                _ok("Proposals", _obj({"proposals": {"type": "array", "items": proposal}})),
                tag="proposals", params=[CODE]),
        },
        "/proposals/{proposal_id}": {"patch": _op(
            "Edit one's own proposal before voting", _ok("The proposal", proposal),
            tag="proposals", params=[PROPOSAL_ID],
            body=_obj({"title": {"type": "string"}, "body": {"type": "string"},
                       "element_id": {"type": "integer"}}))},
        "/proposals/{proposal_id}/withdraw": {"post": _op(
            "Withdraw one's own proposal before voting", _ok("The proposal", proposal),
            tag="proposals", params=[PROPOSAL_ID], body=_obj({}))},
        "/proposals/{proposal_id}/comments": {
            "post": _op("Comment on a proposal (ideation and review)",
                        {**_ok("Created", _ref("Comment"), "201"),
                         "200": {"description": "Already created (same client_id)"}},
                        tag="proposals", params=[PROPOSAL_ID],
                        body=_obj({"body": {"type": "string", "maxLength": 1000},
                                   "client_id": {"type": "string", "maxLength": 64}},
                                  ["body"])),
            "get": _op("Comments on a proposal",
                       _ok("Comments", _obj({"comments": {"type": "array",
                                                          "items": _ref("Comment")}})),
                       tag="proposals", params=[PROPOSAL_ID]),
        },
        "/proposals/{proposal_id}/moderation": {"post": _op(
            "Moderate a proposal (facilitators); every action is recorded",
            _ok("The proposal and the merge target",
                _obj({"proposal": proposal, "target": proposal})),
            tag="moderation", params=[PROPOSAL_ID],
            body=_obj({"action": {"type": "string",
                                  "enum": ["approve", "hide", "unhide", "merge", "edit"]},
                       "reason": {"type": "string", "maxLength": 500},
                       "into": {"type": "integer", "description": "merge target"},
                       "title": {"type": "string"}, "body": {"type": "string"},
                       "element_id": {"type": "integer"}}, ["action"]))},
        "/workshops/{code}/votes/{proposal_id}": {"put": _op(
            "Set this participant's vote on a proposal: dots (0 removes); under approval 1 "
            "(yes) or 0; under score a rating 1-5 (0 removes). remaining is null without a "
            "budget. With seq (a number the client raises for every newer vote), a vote "
            "overtaken by a newer one that was applied first changes nothing: applied is "
            "false and dots is what is counted",
            _ok("The allocation", _obj({"proposal_id": {"type": "integer"},
                                        "dots": {"type": "integer"},
                                        "remaining": {"type": "integer"},
                                        "applied": {"type": "boolean"},
                                        "mark": {"type": "integer",
                                                 "description": "the highest seq applied"}})),
            tag="votes", params=[CODE, PROPOSAL_ID],
            body=_obj({"dots": {"type": "integer", "minimum": 0},
                       "seq": {"type": "integer", "minimum": 1, "maximum": 2**62}},
                      ["dots"]))},
        "/workshops/{code}/votes": {"get": _op(
            "This participant's dots", _ok("Allocations", _obj({
                "allocations": {"type": "object",
                                "additionalProperties": {"type": "integer"}},
                "remaining": {"type": "integer"}})),
            tag="votes", params=[CODE])},
        "/workshops/{code}/results": {"get": _op(
            "The ranking (staff at any time, participants from the results phase)",
            _ok("The ranking", _obj({
                "weighting": {"type": "string", "enum": ["participant", "organisation"]},
                "voting_method": {"type": "string", "enum": ["dots", "approval", "score"]},
                "ranking": {"type": "array", "items": _ref("RankedProposal")},
                "lenses": {"type": "array", "items": _ref("Lens"),
                           "description": "per proposal, in the ranking's order"},
                "organisation_types": {"type": "array", "items": {"type": "string"}},
                "fairness": _ref("Fairness"),
                "bootstrap_samples": {"type": "integer"},
                "elements": {"type": "array", "items": _obj({
                    "element_id": {"type": "integer"}, "title": {"type": "string"},
                    "ranking": {"type": "array", "items": _ref("RankedProposal")}})},
            })),
            tag="results",
            params=[CODE, {"name": "weighting", "in": "query", "required": False,
                           "schema": {"type": "string",
                                      "enum": ["participant", "organisation"],
                                      "default": "participant"}}])},
        "/workshops/{code}/export.csv": {"get": _op(
            "One table as CSV (reviewers, admins, the workshop's facilitators); cells that "
            "start with = + - @ tab or CR are prefixed with '",
            {"200": {"description": "CSV", "content": {"text/csv": {"schema": {
                "type": "string"}}}}, "4XX": {"$ref": "#/components/responses/Error"}},
            tag="exports",
            params=[CODE, {"name": "table", "in": "query", "required": False,
                           "schema": {"type": "string", "enum": ["ranking", "proposals",
                                                                 "votes"],
                                      "default": "ranking"}},
                    {"name": "weighting", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["participant", "organisation"],
                                "default": "participant"}}])},
        "/workshops/{code}/export.json": {"get": _op(
            "The workshop as JSON: proposals, pseudonymous votes, rankings with every lens",
            _ok("The export", {"type": "object"}), tag="exports", params=[CODE])},
        "/workshops/{code}/report.pdf": {"get": _op(
            "The printable report (PDF, Danish)",
            {"200": {"description": "PDF", "content": {"application/pdf": {"schema": {
                "type": "string", "format": "binary"}}}},
             "4XX": {"$ref": "#/components/responses/Error"}},
            tag="exports", params=[CODE])},
        "/workshops/{code}/answers": {"get": _op(
            "Answers to the proposals (staff: with history; participants: once published)",
            _ok("Answers", _obj({"published_at": {"type": ["string", "null"]},
                                 "note": {"type": "string"},
                                 "answers": {"type": "array", "items": _ref("Answer")},
                                 "history": {"type": "object"}})),
            tag="answers", params=[CODE])},
        "/proposals/{proposal_id}/answer": {"put": _op(
            "Answer a proposal (reviewers, admins, facilitators; from the results phase); "
            "every answer is kept in the history",
            _ok("The answer", _ref("Answer")), tag="answers", params=[PROPOSAL_ID],
            body=_obj({"status": {"type": "string", "enum": ANSWER_STATUSES},
                       "reasoning": {"type": "string", "maxLength": 4000,
                                     "description": "required unless under_consideration"}},
                      ["status"]))},
        "/workshops/{code}/publish": {"post": _op(
            "Publish (or withdraw) the outcome and answers to participants (facilitators)",
            _ok("Published", _obj({"published_at": {"type": ["string", "null"]},
                                   "note": {"type": "string"}})),
            tag="answers", params=[CODE],
            body=_obj({"published": {"type": "boolean", "default": True},
                       "note": {"type": "string", "maxLength": 4000}}))},
        "/workshops/{code}/voting-method": {"put": _op(
            "Choose how participants vote (facilitators, before voting starts)",
            _ok("The method", _obj({"voting_method": {"type": "string"},
                                    "max_per_proposal": {"type": "integer"},
                                    "budget": {"type": ["integer", "null"]}})),
            tag="votes", params=[CODE],
            body=_obj({"voting_method": {"type": "string",
                                         "enum": ["dots", "approval", "score"]}},
                      ["voting_method"]))},
        "/openapi.json": {"get": _op("This document", _ok("OpenAPI 3.1"), tag="meta")},
    }


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Samskab API",
            "version": "1.0.0",
            "description": (
                "Live co-creation workshops. JSON in and out; state-changing requests need "
                "Content-Type: application/json and may not come from another site's Origin. "
                "Staff authenticate with a session cookie (POST /auth/login); participants with "
                "the cookie set when they join."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "responses": {"Error": {
                "description": "A refused request",
                "content": {"application/json": {"schema": _ref("Error")}},
            }},
        },
    }
