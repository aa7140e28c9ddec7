"""The JSON API, /api/v1: JSON in and out, the same domain functions as the pages.

Errors are always `{"error": {"code", "message"}}` with a 4xx status; never a 500 for bad input.
State-changing requests must be `application/json` and may not come from another site's Origin.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, jsonify, request
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from ..domain.errors import DomainError
from ..extensions import db
from ..security import origin_allowed

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_response(status: int, code: str, message: str, field: str | None = None):
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    response = jsonify({"error": error})
    response.status_code = status
    return response


def json_body() -> dict:
    """The request's JSON object, or a clear 400."""
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "invalid", _("Forespørgslen skal indeholde gyldig JSON."))
    if not isinstance(data, dict):
        raise ApiError(400, "invalid", _("Forespørgslen skal være et JSON-objekt."))
    return data


@bp.before_request
def json_only_and_same_origin():
    if request.method not in WRITE_METHODS:
        return None
    if not origin_allowed(request.headers.get("Origin")):
        return error_response(403, "forbidden", _("Forespørgsler fra et andet websted afvises."))
    if request.mimetype != "application/json":
        return error_response(
            415, "invalid", _("Indholdstypen skal være application/json.")
        )
    return None


def _is_api() -> bool:
    return request.path.startswith(bp.url_prefix + "/") or request.path == bp.url_prefix


def register_api_errors(app: Flask) -> None:
    """App-level handlers, so that routing errors under /api/v1 are JSON too."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error.status, error.code, error.message, error.field)

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        db.session.rollback()
        if _is_api():
            return error_response(error.status, error.code, error.message, error.field)
        from ..web.errors import domain_error_page

        return domain_error_page(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not _is_api():
            from ..web.errors import http_error_page

            return http_error_page(error)
        codes = {401: "unauthenticated", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 413: "invalid", 429: "rate_limited"}
        messages = {
            404: _("Findes ikke."),
            405: _("Metoden er ikke tilladt her."),
            413: _("Forespørgslen er for stor."),
            429: _("For mange forespørgsler. Vent lidt og prøv igen."),
        }
        status = error.code or 500
        code = codes.get(status, "invalid" if status < 500 else "unavailable")
        response = error_response(status, code, messages.get(status, error.description or ""))
        if status == 429:
            response.headers["Retry-After"] = "60"
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)  # every pooled connection busy: as retryable as a restart
    def database_unavailable(error: OperationalError | PoolTimeout):
        db.session.rollback()
        log.warning("database unavailable: %s", error)
        message = _("Databasen er optaget eller utilgængelig lige nu. Prøv igen om et øjeblik.")
        if _is_api():
            response = error_response(503, "unavailable", message)
            response.headers["Retry-After"] = "2"
            return response
        from ..web.errors import unavailable_page

        return unavailable_page(message)

    @app.errorhandler(SQLAlchemyError)
    def database_error(error: SQLAlchemyError):
        # A constraint the domain's checks did not foresee (e.g. a race): refuse, write nothing.
        db.session.rollback()
        log.exception("database error")
        message = _("Handlingen kunne ikke gennemføres. Prøv igen.")
        if _is_api():
            return error_response(409, "conflict", message)
        from ..web.errors import unavailable_page

        return unavailable_page(message, status=409)


from . import routes  # noqa: E402,F401  (registers the routes on bp)
