"""Workshops: creating them from a template, their settings, phases and model elements."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from ..extensions import db
from ..models import (
    PHASE_ORDER,
    ModelElement,
    Moderation,
    ModerationAction,
    Phase,
    Proposal,
    ProposalStatus,
    User,
    Workshop,
    WorkshopFacilitator,
    utcnow,
)
from .access import can_create_workshops, require_facilitator
from .errors import DomainError, check_text, invalid, is_id
from .events import Event, unit_of_work
from .templates import DEFAULT_TEMPLATE, TEMPLATES, WorkshopTemplate

# Join codes avoid look-alikes (0/O, 1/I/L) so they can be read off a projector.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6

TITLE_MAX = 200
DESCRIPTION_MAX = 4000
ELEMENT_TITLE_MAX = 120
ELEMENT_DESCRIPTION_MAX = 1000


@dataclass(frozen=True)
class Settings:
    dots_per_participant: int = 5
    max_dots_per_proposal: int = 3
    moderation: str = Moderation.POST.value
    max_proposals_per_participant: int | None = None
    show_names: bool = True

    @classmethod
    def of(cls, workshop: Workshop) -> Settings:
        return cls(
            dots_per_participant=workshop.dots_per_participant,
            max_dots_per_proposal=workshop.max_dots_per_proposal,
            moderation=workshop.moderation,
            max_proposals_per_participant=workshop.max_proposals_per_participant,
            show_names=workshop.show_names,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "dots_per_participant": self.dots_per_participant,
            "max_dots_per_proposal": self.max_dots_per_proposal,
            "moderation": self.moderation,
            "max_proposals_per_participant": self.max_proposals_per_participant,
            "show_names": self.show_names,
        }


def normalise_code(raw: str) -> str:
    """Codes are read aloud and typed on phones: ignore case, spaces and dashes."""
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


def new_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.session.scalar(select(Workshop.id).where(Workshop.code == code)) is None:
            return code


def get_workshop(code: str) -> Workshop:
    workshop = db.session.scalar(select(Workshop).where(Workshop.code == normalise_code(code)))
    if workshop is None:
        raise DomainError("not_found", _l("Workshoppen findes ikke. Tjek koden."))
    return workshop


def _int_setting(value, field: str, low: int, high: int, label) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(_l("%(field)s skal være et helt tal.", field=label), field)
    if not low <= value <= high:
        raise invalid(
            _l("%(field)s skal være mellem %(low)d og %(high)d.", field=label, low=low, high=high),
            field,
        )
    return value


def check_settings(raw: dict[str, Any] | None, base: Settings | None = None) -> Settings:
    """Validate a (partial) settings dict on top of `base`; unknown keys are refused."""
    base = base or Settings()
    raw = dict(raw or {})
    known = set(Settings.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise invalid(_l("Ukendt indstilling: %(name)s", name=", ".join(sorted(unknown))))
    values = base.as_dict()
    if "dots_per_participant" in raw:
        values["dots_per_participant"] = _int_setting(
            raw["dots_per_participant"], "dots_per_participant", 1, 100, _l("Prikker pr. deltager")
        )
    if "max_dots_per_proposal" in raw:
        values["max_dots_per_proposal"] = _int_setting(
            raw["max_dots_per_proposal"],
            "max_dots_per_proposal",
            1,
            100,
            _l("Maks. prikker på ét forslag"),
        )
    if "moderation" in raw:
        if raw["moderation"] not in (Moderation.POST.value, Moderation.PRE.value):
            raise invalid(_l("Moderation skal være 'post' eller 'pre'."), "moderation")
        values["moderation"] = raw["moderation"]
    if "max_proposals_per_participant" in raw:
        value = raw["max_proposals_per_participant"]
        values["max_proposals_per_participant"] = (
            None
            if value is None
            else _int_setting(
                value,
                "max_proposals_per_participant",
                1,
                1000,
                _l("Maks. forslag pr. deltager"),
            )
        )
    if "show_names" in raw:
        if not isinstance(raw["show_names"], bool):
            raise invalid(_l("Vis navne skal være sand eller falsk."), "show_names")
        values["show_names"] = raw["show_names"]
    if values["max_dots_per_proposal"] > values["dots_per_participant"]:
        raise invalid(
            _l("Maks. prikker på ét forslag kan ikke være flere end prikker pr. deltager."),
            "max_dots_per_proposal",
        )
    return Settings(**values)


def _apply_settings(workshop: Workshop, settings: Settings) -> None:
    for name, value in settings.as_dict().items():
        setattr(workshop, name, value)


def record(workshop: Workshop, user: User | None, action: str, *, proposal_id=None,
           reason: str = "", detail: dict | None = None) -> ModerationAction:
    entry = ModerationAction(
        workshop_id=workshop.id,
        proposal_id=proposal_id,
        user_id=user.id if user is not None else None,
        action=action,
        reason=reason or "",
        detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
    )
    db.session.add(entry)
    return entry


def bump_version(workshop: Workshop) -> None:
    """Count a change in the workshop, atomically in the database."""
    db.session.execute(
        update(Workshop).where(Workshop.id == workshop.id).values(version=Workshop.version + 1)
    )


def template_elements(tpl: WorkshopTemplate) -> list[ModelElement]:
    """The model's elements as a template lays them out, for a new workshop (and the
    benchmarks' workshops)."""
    return [ModelElement(position=position, key=element.key, title=element.title,
                         description=element.description, source=element.source)
            for position, element in enumerate(tpl.elements)]


def create_workshop(
    user: User,
    title,
    description=None,
    template: str | None = None,
    settings: dict[str, Any] | None = None,
) -> Workshop:
    if not can_create_workshops(user):
        raise DomainError("forbidden", _l("Kun facilitatorer kan oprette workshops."))
    title = check_text(title, "title", max_len=TITLE_MAX, label=_l("Titel"))
    description = check_text(
        description, "description", max_len=DESCRIPTION_MAX, required=False, label=_l("Beskrivelse")
    )
    template = template or DEFAULT_TEMPLATE
    if template not in TEMPLATES:
        raise invalid(_l("Ukendt skabelon: %(name)s", name=str(template)[:40]), "template")
    checked = check_settings(settings)
    tpl = TEMPLATES[template]
    with unit_of_work():
        workshop = Workshop(
            code=new_code(),
            title=title,
            description=description or tpl.description,
            template=template,
            phase=Phase.LOBBY.value,
            created_by_id=user.id,
            presenter_key=secrets.token_urlsafe(24),
        )
        _apply_settings(workshop, checked)
        workshop.elements.extend(template_elements(tpl))
        db.session.add(workshop)
        db.session.flush()
        db.session.add(WorkshopFacilitator(workshop_id=workshop.id, user_id=user.id))
        record(workshop, user, "create", detail={"template": template})
    return workshop


def update_workshop(workshop: Workshop, user: User, changes: dict[str, Any]) -> Workshop:
    """Change the title, description and settings. Dot settings are fixed once voting starts."""
    require_facilitator(user, workshop)
    changes = dict(changes)
    title = changes.pop("title", None)
    description = changes.pop("description", None)
    if workshop.phase == Phase.CLOSED.value:
        raise DomainError("closed")
    dot_keys = {"dots_per_participant", "max_dots_per_proposal"}
    current = Settings.of(workshop)
    checked = check_settings(changes, current)
    if workshop.phase_enum.index >= Phase.VOTING.index and any(
        getattr(checked, k) != getattr(current, k) for k in dot_keys
    ):
        raise DomainError(
            "wrong_phase", _l("Prikkerne kan ikke ændres, når afstemningen er begyndt.")
        )
    new_title = (check_text(title, "title", max_len=TITLE_MAX, label=_l("Titel"))
                 if title is not None else workshop.title)
    new_description = (check_text(description, "description", max_len=DESCRIPTION_MAX,
                                  required=False, label=_l("Beskrivelse"))
                       if description is not None else workshop.description)
    if (new_title, new_description, checked) == (workshop.title, workshop.description, current):
        return workshop  # nothing changed: nothing to log or broadcast
    with unit_of_work() as events:
        workshop.title, workshop.description = new_title, new_description
        _apply_settings(workshop, checked)
        bump_version(workshop)
        record(workshop, user, "settings", detail={"settings": checked.as_dict()})
        events.append(Event(workshop.id, "workshop", {"change": "settings"}))
    return workshop


def allowed_phase_moves(workshop: Workshop) -> list[Phase]:
    """Forward to any later phase; back one step; never out of `closed`."""
    current = workshop.phase_enum
    if current == Phase.CLOSED:
        return []
    moves = PHASE_ORDER[current.index + 1:]
    if current.index > 0:
        moves = [PHASE_ORDER[current.index - 1], *moves]
    return moves


def set_phase(workshop: Workshop, user: User, phase) -> Workshop:
    require_facilitator(user, workshop)
    try:
        target = Phase(phase)
    except ValueError:
        raise invalid(_l("Ukendt fase: %(name)s", name=str(phase)[:40]), "phase") from None
    if target.value == workshop.phase:
        return workshop  # a resent command changes nothing
    if workshop.phase == Phase.CLOSED.value:
        raise DomainError("closed", _l("En lukket workshop kan ikke genåbnes."))
    if target not in allowed_phase_moves(workshop):
        raise DomainError("wrong_phase", _l("Man kan kun gå ét trin tilbage ad gangen."))
    previous = workshop.phase
    with unit_of_work() as events:
        workshop.phase = target.value
        if target == Phase.CLOSED:
            workshop.closed_at = utcnow()
        bump_version(workshop)
        record(workshop, user, "phase", detail={"from": previous, "to": target.value})
        events.append(Event(workshop.id, "phase", {"phase": target.value, "previous": previous}))
    return workshop


def add_facilitator(workshop: Workshop, user: User, email: str) -> User:
    require_facilitator(user, workshop)
    email = check_text(email, "email", max_len=254, label=_l("E-mail")).lower()
    other = db.session.scalar(select(User).where(User.email == email))
    if other is None or other.role not in ("facilitator", "admin"):
        raise invalid(_l("Der findes ingen facilitator med den e-mail."), "email")
    with unit_of_work():
        if db.session.get(WorkshopFacilitator, {"workshop_id": workshop.id, "user_id": other.id}) \
                is None:
            db.session.add(WorkshopFacilitator(workshop_id=workshop.id, user_id=other.id))
            record(workshop, user, "add_facilitator", detail={"user_id": other.id})
    return other


# --- Model elements ----------------------------------------------------------------------------


def _require_elements_editable(workshop: Workshop, user: User) -> None:
    require_facilitator(user, workshop)
    if workshop.phase_enum.index >= Phase.VOTING.index:
        raise DomainError(
            "wrong_phase", _l("Modellens elementer kan kun ændres, før afstemningen begynder.")
        )


def get_element(workshop: Workshop, element_id) -> ModelElement:
    if isinstance(element_id, bool) or not isinstance(element_id, int):
        raise invalid(_l("Vælg et element i modellen."), "element_id")
    element = db.session.get(ModelElement, element_id) if is_id(element_id) else None
    if element is None or element.workshop_id != workshop.id:
        raise invalid(_l("Elementet findes ikke i denne workshop."), "element_id")
    return element


def add_element(workshop: Workshop, user: User, title, description=None) -> ModelElement:
    _require_elements_editable(workshop, user)
    title = check_text(title, "title", max_len=ELEMENT_TITLE_MAX, label=_l("Titel"))
    description = check_text(
        description, "description", max_len=ELEMENT_DESCRIPTION_MAX, required=False,
        label=_l("Beskrivelse"),
    )
    with unit_of_work() as events:
        last = db.session.scalar(
            select(func.max(ModelElement.position)).where(ModelElement.workshop_id == workshop.id)
        )
        element = ModelElement(
            workshop_id=workshop.id,
            position=(last + 1) if last is not None else 0,
            title=title,
            description=description,
        )
        db.session.add(element)
        db.session.flush()
        bump_version(workshop)
        record(workshop, user, "add_element", detail={"element_id": element.id, "title": title})
        events.append(Event(workshop.id, "elements", {"change": "added", "id": element.id}))
    return element


def edit_element(workshop: Workshop, user: User, element_id, title=None, description=None):
    _require_elements_editable(workshop, user)
    element = get_element(workshop, element_id)
    before = {"title": element.title, "description": element.description}
    new_title = (
        check_text(title, "title", max_len=ELEMENT_TITLE_MAX, label=_l("Titel"))
        if title is not None else element.title
    )
    new_description = (
        check_text(description, "description", max_len=ELEMENT_DESCRIPTION_MAX, required=False,
                   label=_l("Beskrivelse"))
        if description is not None else element.description
    )
    with unit_of_work() as events:
        element.title = new_title
        element.description = new_description
        bump_version(workshop)
        record(workshop, user, "edit_element", detail={
            "element_id": element.id, "before": before,
            "after": {"title": new_title, "description": new_description}})
        events.append(Event(workshop.id, "elements", {"change": "edited", "id": element.id}))
    return element


def move_element(workshop: Workshop, user: User, element_id, offset: int) -> ModelElement:
    """Move an element up (offset -1) or down (+1) in the model's order."""
    _require_elements_editable(workshop, user)
    element = get_element(workshop, element_id)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset not in (-1, 1):
        raise invalid(_l("Et element flyttes ét trin op eller ned."), "offset")
    ordered = list(workshop.elements)
    index = ordered.index(element)
    target = index + offset
    if not 0 <= target < len(ordered):
        return element
    ordered[index], ordered[target] = ordered[target], ordered[index]
    with unit_of_work() as events:
        for position, each in enumerate(ordered):
            each.position = position
        bump_version(workshop)
        record(workshop, user, "move_element", detail={"element_id": element.id, "to": target})
        events.append(Event(workshop.id, "elements", {"change": "reordered"}))
    return element


def remove_element(workshop: Workshop, user: User, element_id) -> None:
    _require_elements_editable(workshop, user)
    element = get_element(workshop, element_id)
    attached = list(db.session.scalars(select(Proposal).where(Proposal.element_id == element.id)))
    live = [p for p in attached if p.status not in (ProposalStatus.WITHDRAWN.value,
                                                    ProposalStatus.MERGED.value)]
    if live:
        raise DomainError(
            "conflict",
            _l("Elementet har forslag og kan ikke fjernes. Flyt dem til et andet element først."),
        )
    with unit_of_work() as events:
        for proposal in attached:
            if proposal.status == ProposalStatus.MERGED.value and proposal.merged_into is not None:
                # A merged duplicate belongs with what it was merged into.
                proposal.element_id = proposal.merged_into.element_id
            else:  # withdrawn by its author: nothing left to keep it for
                db.session.delete(proposal)
        db.session.flush()
        workshop.elements.remove(element)
        db.session.delete(element)
        for position, each in enumerate(workshop.elements):
            each.position = position
        bump_version(workshop)
        record(workshop, user, "remove_element", detail={"element_id": element_id,
                                                          "title": element.title})
        events.append(Event(workshop.id, "elements", {"change": "removed", "id": element_id}))
