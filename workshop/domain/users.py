"""Staff accounts: creating them and checking a password."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import Role, User
from .errors import DomainError, check_text, invalid
from .events import Event, unit_of_work

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PASSWORD_MIN = 8


def create_user(email, password, role, name: str = "") -> User:
    email = check_text(email, "email", max_len=254, label=_l("E-mail")).lower()
    if not EMAIL.match(email):
        raise invalid(_l("Ugyldig e-mailadresse."), "email")
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise invalid(_l("Adgangskoden skal være mindst %(n)d tegn.", n=PASSWORD_MIN), "password")
    if len(password) > 1000:
        raise invalid(_l("Adgangskoden er for lang."), "password")
    if role not in {r.value for r in Role}:
        raise invalid(_l("Rollen skal være facilitator, reviewer eller admin."), "role")
    name = check_text(name, "name", max_len=120, required=False, label=_l("Navn"))
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DomainError("conflict", _l("Der findes allerede en bruger med den e-mail."))
    with unit_of_work():
        user = User(email=email, role=role, name=name)
        user.set_password(password)
        db.session.add(user)
    return user


def authenticate(email, password) -> User | None:
    """The active user with this email and password, else None (the same answer for both)."""
    if not isinstance(email, str) or not isinstance(password, str) or len(password) > 1000:
        return None
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active or not user.check_password(password):
        return None
    return user


def user_for_session(user_id: str) -> User | None:
    """The user a session's `"<id>:<generation>"` names, while that generation is current.

    A session from before the user's last logout names an older generation and finds no one,
    so a copied or left-behind cookie stops working at logout (Flask keeps sessions only in
    the cookie, so there is nothing on the server to delete).
    """
    raw_id, sep, raw_generation = (user_id or "").partition(":")
    if not sep or not raw_id.isdigit() or not raw_generation.isdigit() or len(user_id) > 40:
        return None
    user = db.session.get(User, int(raw_id))
    if user is None or (user.session_generation or 0) != int(raw_generation):
        return None
    return user


def end_sessions(user: User) -> int:
    """Log the user out everywhere: every session and live connection made so far stops working.

    Returns the new generation. After the commit, a "session_ended" event tells the live layer
    to close the user's sockets.
    """
    from sqlalchemy import update

    user_id = user.id
    with unit_of_work() as events:
        db.session.execute(
            update(User).where(User.id == user_id)
            .values(session_generation=User.session_generation + 1)
            .execution_options(synchronize_session=False)
        )
        generation = db.session.scalar(select(User.session_generation).where(User.id == user_id))
        events.append(Event(0, "session_ended", {"user_id": user_id}))
    return generation
