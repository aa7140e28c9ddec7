"""What the page blueprints share: Danish labels for phases and statuses, form fields that
speak Danish, and turning a DomainError into an error on the right form field."""

from __future__ import annotations

import uuid

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField

from ..domain.errors import DomainError
from ..models import Phase

PHASE_LABELS = {
    Phase.LOBBY.value: _l("Venteværelse"),
    Phase.IDEATION.value: _l("Idéfase"),
    Phase.REVIEW.value: _l("Drøftelse"),
    Phase.VOTING.value: _l("Afstemning"),
    Phase.RESULTS.value: _l("Resultater"),
    Phase.CLOSED.value: _l("Lukket"),
}

# What the facilitator's button says when it moves the workshop into each phase.
PHASE_ACTIONS = {
    Phase.LOBBY.value: _l("Tilbage til venteværelset"),
    Phase.IDEATION.value: _l("Start idéfasen"),
    Phase.REVIEW.value: _l("Start drøftelsen"),
    Phase.VOTING.value: _l("Start afstemningen"),
    Phase.RESULTS.value: _l("Vis resultaterne"),
    Phase.CLOSED.value: _l("Luk workshoppen"),
}

STATUS_LABELS = {
    "pending": _l("Venter på godkendelse"),
    "visible": _l("Synligt"),
    "hidden": _l("Skjult"),
    "withdrawn": _l("Trukket tilbage"),
    "merged": _l("Lagt sammen"),
}

MODERATION_LABELS = {
    "post": _l("Efterfølgende: forslag vises med det samme, facilitatoren kan skjule dem"),
    "pre": _l("Forudgående: forslag venter, til facilitatoren godkender dem"),
}

LOG_ACTION_LABELS = {
    "create": _l("Oprettede workshoppen"),
    "settings": _l("Ændrede indstillinger"),
    "phase": _l("Skiftede fase"),
    "add_facilitator": _l("Tilføjede en facilitator"),
    "add_element": _l("Tilføjede et element"),
    "edit_element": _l("Rettede et element"),
    "move_element": _l("Flyttede et element"),
    "remove_element": _l("Fjernede et element"),
    "approve": _l("Godkendte forslag"),
    "hide": _l("Skjulte forslag"),
    "unhide": _l("Viste forslag igen"),
    "edit": _l("Rettede forslag"),
    "merge": _l("Lagde forslag sammen"),
}

WEIGHTING_LABELS = {
    "participant": _l("Deltagervægtning"),
    "organisation": _l("Organisationsvægtning"),
}


def new_client_id() -> str:
    """A fresh id per rendered form, so that a form sent twice creates one thing, not two."""
    return uuid.uuid4().hex


def int_or_none(value):
    """Coerce for select fields: a bad value becomes None and the domain explains."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class WholeNumberField(IntegerField):
    """An integer field whose parse error is in Danish (WTForms' own is English)."""

    def process_formdata(self, valuelist):
        if not valuelist or valuelist[0].strip() == "":
            self.data = None
            return
        try:
            self.data = int(valuelist[0].strip())
        except ValueError:
            self.data = None
            raise ValueError(_("Skriv et helt tal.")) from None


class ClientIdField(HiddenField):
    pass


def attach_error(form, error: DomainError) -> bool:
    """Put the domain's message on the form field it names; False when no field matches."""
    if form is None or not error.field:
        return False
    field = getattr(form, error.field, None)
    if field is None or not hasattr(field, "errors"):
        return False
    if not isinstance(field.errors, list):
        field.errors = list(field.errors)
    field.errors.append(error.message)
    return True


def first_error(form) -> str | None:
    """The first error on a validated form, naming the field when the message does not."""
    for field in form:
        for message in field.errors or ():
            label = str(field.label.text)
            return str(message) if label in str(message) else f"{label}: {message}"
    return None
