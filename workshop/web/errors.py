"""Error pages for people, in their language; the API has its own JSON errors."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _

from ..domain.errors import DomainError


def domain_error_page(error: DomainError):
    return render_template("error.html", title=_("Det lykkedes ikke"),
                           message=error.message), error.status


def http_error_page(error):
    status = error.code or 500
    titles = {
        400: _("Ugyldig forespørgsel"),
        403: _("Ingen adgang"),
        404: _("Siden findes ikke"),
        405: _("Metoden er ikke tilladt"),
        413: _("For meget indhold"),
        429: _("For mange forespørgsler"),
    }
    messages = {
        400: _("Forespørgslen kunne ikke forstås. Gå tilbage og prøv igen."),
        403: _("Du har ikke adgang til denne side."),
        404: _("Tjek adressen eller workshopkoden."),
        429: _("Vent et øjeblik, og prøv så igen."),
    }
    if status == 400 and "CSRF" in (error.description or ""):
        messages[400] = _("Formularen er udløbet. Genindlæs siden og prøv igen.")
    return render_template(
        "error.html",
        title=titles.get(status, _("Der opstod en fejl")),
        message=messages.get(status, error.description or ""),
    ), status


def unavailable_page(message: str, status: int = 503):
    return render_template("error.html", title=_("Prøv igen om lidt"), message=message), status
