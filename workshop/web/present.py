"""The presenter screen for the projector: read-only, opened by its secret link, no login."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, render_template, request

from ..api.serialize import join_url
from ..domain import workshops
from ..models import Workshop
from .common import PHASE_LABELS
from .qr import qr_svg

bp = Blueprint("present", __name__, url_prefix="/present")


def _workshop_with_key(code: str) -> tuple[Workshop, str]:
    workshop = workshops.get_workshop(code)
    key = request.args.get("key", "")
    if not workshop.presenter_key or not hmac.compare_digest(
        key.encode(), workshop.presenter_key.encode()
    ):
        abort(403)
    return workshop, key


@bp.get("/<code>")
def screen(code: str):
    workshop, key = _workshop_with_key(code)
    response = render_template(
        "present/screen.html", workshop=workshop, presenter_key=key, join_url=join_url(workshop),
        phase_labels={k: str(v) for k, v in PHASE_LABELS.items()},
    )
    return response, 200, {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@bp.get("/<code>/qr.svg")
def qr(code: str):
    """The join link's QR code: public, like the join link itself."""
    workshop = workshops.get_workshop(code)
    return qr_svg(join_url(workshop))
