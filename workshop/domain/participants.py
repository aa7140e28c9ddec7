"""Participants: joining a workshop by its link, and being recognised again by a token."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import OrganisationType, Participant, Phase, Workshop
from .errors import DomainError, check_text, invalid
from .events import Event, unit_of_work

NAME_MAX = 80
ORGANISATION_MAX = 120

ORGANISATION_TYPE_LABELS = {
    OrganisationType.CITIZEN.value: _l("Borger"),
    OrganisationType.ASSOCIATION.value: _l("Forening"),
    OrganisationType.VOLUNTEER_CENTRE.value: _l("Frivilligcenter"),
    OrganisationType.PATIENT_ORGANISATION.value: _l("Patientforening"),
    OrganisationType.INTEREST_ORGANISATION.value: _l("Interesseorganisation"),
    OrganisationType.REGIONAL_STAFF.value: _l("Regionsansat"),
    OrganisationType.POLITICIAN.value: _l("Politiker"),
    OrganisationType.OTHER.value: _l("Andet"),
}


def organisation_key(name: str | None) -> str | None:
    """Members of one organisation match case-insensitively with whitespace collapsed."""
    if not name:
        return None
    key = re.sub(r"\s+", " ", name).strip().casefold()
    return key or None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Joined:
    participant: Participant
    token: str  # give it to the participant once, in an HttpOnly cookie; never stored


def check_joinable(workshop: Workshop) -> None:
    """Refuse joining a closed workshop, or one whose facilitator has locked joining."""
    if workshop.phase == Phase.CLOSED.value:
        raise DomainError("closed", _l("Workshoppen er lukket for nye deltagere."))
    if workshop.join_locked:
        raise DomainError("closed", _l("Facilitatoren har lukket for nye deltagere."))


def join(workshop: Workshop, display_name, organisation=None, organisation_type=None,
         consent=False) -> Joined:
    check_joinable(workshop)
    display_name = check_text(display_name, "display_name", max_len=NAME_MAX, label=_l("Navn"))
    organisation = check_text(
        organisation, "organisation", max_len=ORGANISATION_MAX, required=False,
        label=_l("Organisation"),
    ) or None
    if organisation_type in ("", None):
        organisation_type = None
    elif not isinstance(organisation_type, str) \
            or organisation_type not in ORGANISATION_TYPE_LABELS:
        raise invalid(_l("Vælg en organisationstype fra listen."), "organisation_type")
    if consent is not True:
        raise invalid(
            _l("Du skal acceptere privatlivserklæringen for at deltage."), "consent"
        )
    token = secrets.token_urlsafe(32)  # 256 bits
    with unit_of_work() as events:
        participant = Participant(
            workshop_id=workshop.id,
            display_name=display_name,
            organisation=organisation,
            organisation_key=organisation_key(organisation),
            organisation_type=organisation_type,
            token_hash=hash_token(token),
        )
        db.session.add(participant)
        db.session.flush()
        events.append(Event(workshop.id, "participant", {"change": "joined", "id": participant.id}))
    return Joined(participant, token)


def participant_for_token(token: str | None) -> Participant | None:
    """The participant a token belongs to, in whichever workshop; None for an unknown token."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    return db.session.scalar(select(Participant).where(Participant.token_hash == hash_token(token)))


def public_name(participant: Participant | None, workshop: Workshop) -> str | None:
    """What other participants see of an author: the name, unless the workshop hides names."""
    return shown_name(participant.display_name if participant is not None else None, workshop)


def shown_name(display_name: str | None, workshop: Workshop) -> str | None:
    """`public_name` for a display name read without its participant."""
    return display_name if workshop.show_names else None
