"""Plain pages that belong to the whole site: the accessibility statement.

The footer links to `ACCESSIBILITY_STATEMENT_URL` when the region publishes its statement
elsewhere (e.g. on was.digst.dk); without it, to the short built-in statement here."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("pages", __name__)


@bp.get("/tilgaengelighed")
def accessibility():
    return render_template("pages/accessibility.html",
                           external_url=current_app.config.get("ACCESSIBILITY_STATEMENT_URL"))
