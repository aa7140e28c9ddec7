"""Operations endpoints for load balancers: /healthz (alive) and /readyz (can serve)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from .extensions import db

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive and answering."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """The database (and Redis, when configured) can be reached: send traffic here."""
    checks: dict[str, str] = {}
    ready = True
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        db.session.rollback()
        checks["database"] = f"unavailable: {type(error).__name__}"
        ready = False
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        try:
            import redis

            redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1).ping()
            checks["redis"] = "ok"
        except Exception as error:  # noqa: BLE001
            checks["redis"] = f"unavailable: {type(error).__name__}"
            ready = False
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), (
        200 if ready else 503
    )
