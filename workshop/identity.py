"""Who is asking: the participant behind a cookie, for pages, API and sockets alike.

A participant gets one opaque token per workshop, kept in an HttpOnly cookie named after the
workshop's code; the token never appears in a URL and only its hash is stored.
"""

from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

from .domain.participants import participant_for_token
from .models import Participant, Workshop

COOKIE_PREFIX = "samskab_p_"
COOKIE_MAX_AGE = 180 * 24 * 3600  # participants come back through their link for the answers


def cookie_name(workshop: Workshop) -> str:
    return COOKIE_PREFIX + workshop.code


def set_participant_cookie(response, workshop: Workshop, token: str) -> None:
    response.set_cookie(
        cookie_name(workshop),
        token,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        secure=current_app.config["PARTICIPANT_COOKIE_SECURE"],
        samesite="Lax",
        path="/",
    )


def clear_participant_cookie(response, workshop: Workshop) -> None:
    response.delete_cookie(cookie_name(workshop), path="/")


def participant_for(workshop: Workshop, cookies=None) -> Participant | None:
    """The participant for this workshop's cookie.

    Without one, a token from another workshop's cookie is returned as it is (a participant of
    that other workshop), so that the domain can answer "forbidden" rather than "who are you?".
    """
    cookies = request.cookies if cookies is None else cookies
    # Cached per request (not in `g`, which tests and CLI commands share between requests).
    cache = request.environ.setdefault("samskab.participants", {})
    if workshop.id in cache:
        return cache[workshop.id]
    participant = participant_for_token(cookies.get(cookie_name(workshop)))
    if participant is None:
        for name, value in cookies.items():
            if name.startswith(COOKIE_PREFIX) and name != cookie_name(workshop):
                participant = participant_for_token(value)
                if participant is not None:
                    break
    cache[workshop.id] = participant
    return participant


def staff_user():
    """The signed-in staff user, or None."""
    return current_user if current_user.is_authenticated else None
