"""The one error type the domain raises; each door turns it into HTML, JSON or an ack."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# HTTP status for each error code, used by the JSON API and the pages alike.
STATUS = {
    "invalid": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "wrong_phase": 409,
    "budget_exceeded": 409,
    "closed": 409,
    "conflict": 409,
    "rate_limited": 429,
    "unavailable": 503,
}


class DomainError(Exception):
    """A refused action. `code` is stable (for programs); `message` is for people."""

    def __init__(self, code: str, message: str | None = None, field: str | None = None):
        assert code in STATUS, code
        self.code = code
        self.message = str(message) if message is not None else str(DEFAULT_MESSAGES[code])
        self.field = field
        super().__init__(f"{code}: {self.message}")

    @property
    def status(self) -> int:
        return STATUS[self.code]


DEFAULT_MESSAGES = {
    "invalid": _l("Ugyldige oplysninger."),
    "unauthenticated": _l("Du skal logge ind eller deltage i workshoppen først."),
    "forbidden": _l("Du har ikke adgang til dette."),
    "not_found": _l("Findes ikke."),
    "wrong_phase": _l("Det er ikke muligt i workshoppens nuværende fase."),
    "budget_exceeded": _l("Du har ikke flere prikker at give."),
    "closed": _l("Workshoppen er lukket."),
    "conflict": _l("Handlingen er i konflikt med workshoppens tilstand."),
    "rate_limited": _l("For mange forespørgsler. Vent lidt og prøv igen."),
    "unavailable": _l("Tjenesten er optaget lige nu. Prøv igen om et øjeblik."),
}


# Ids are 32-bit integers in the database; a bigger number names nothing (and SQLite would
# overflow on it rather than find nothing).
MAX_ID = 2**31 - 1


def is_id(value) -> bool:
    """A whole number that can be a row id (a bool is not one, though Python says it is)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def require_phase(workshop, allowed: tuple[str, ...], message) -> None:
    """Refuse an action outside the phases that allow it; a closed workshop says so."""
    if workshop.phase in allowed:
        return
    if workshop.phase == "closed":
        raise DomainError("closed")
    raise DomainError("wrong_phase", message)


def invalid(message, field: str | None = None) -> DomainError:
    return DomainError("invalid", message, field)


def check_text(value, field: str, *, max_len: int, required: bool = True, label=None) -> str:
    """Strip and check a piece of user text; a clear error names the field."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid(_l("%(field)s skal være tekst.", field=label or field), field)
    value = value.strip()
    if required and not value:
        raise invalid(_l("%(field)s skal udfyldes.", field=label or field), field)
    if len(value) > max_len:
        raise invalid(
            _l("%(field)s må højst være %(n)d tegn.", field=label or field, n=max_len), field
        )
    if "\x00" in value:
        raise invalid(_l("%(field)s indeholder ugyldige tegn.", field=label or field), field)
    return value
