"""Who may do what: the rights checks every door relies on."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import Participant, Role, User, Workshop, WorkshopFacilitator
from .errors import DomainError


def is_staff(user) -> bool:
    return isinstance(user, User) and user.is_authenticated and user.is_active


def can_create_workshops(user) -> bool:
    return is_staff(user) and user.role in (Role.FACILITATOR.value, Role.ADMIN.value)


def can_facilitate(user, workshop: Workshop) -> bool:
    if not is_staff(user):
        return False
    if user.role == Role.ADMIN.value:
        return True
    if user.role != Role.FACILITATOR.value:
        return False
    return (
        db.session.get(WorkshopFacilitator, {"workshop_id": workshop.id, "user_id": user.id})
        is not None
    )


def can_review(user, workshop: Workshop) -> bool:
    """Reviewers and admins read every workshop's outcomes; facilitators their own."""
    if not is_staff(user):
        return False
    if user.role in (Role.REVIEWER.value, Role.ADMIN.value):
        return True
    return can_facilitate(user, workshop)


def require_facilitator(user, workshop: Workshop) -> None:
    if not is_staff(user):
        raise DomainError("unauthenticated", _l("Log ind som facilitator."))
    if not can_facilitate(user, workshop):
        raise DomainError("forbidden", _l("Du er ikke facilitator for denne workshop."))


def require_reviewer(user, workshop: Workshop) -> None:
    if not is_staff(user):
        raise DomainError("unauthenticated", _l("Log ind for at se resultaterne."))
    if not can_review(user, workshop):
        raise DomainError("forbidden")


def require_participant(participant: Participant | None, workshop: Workshop) -> Participant:
    """The participant must belong to this workshop and not have been removed."""
    if participant is None:
        raise DomainError("unauthenticated", _l("Deltag i workshoppen først."))
    if participant.workshop_id != workshop.id:
        raise DomainError("forbidden", _l("Du deltager ikke i denne workshop."))
    if participant.removed_at is not None:
        raise DomainError("forbidden", _l("Du er fjernet fra denne workshop."))
    if participant.anonymised_at is not None:  # their data is deleted: the link is spent
        raise DomainError("unauthenticated", _l("Deltag i workshoppen først."))
    return participant
