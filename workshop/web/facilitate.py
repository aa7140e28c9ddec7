"""Pages for facilitators: their workshops, creating one, and the console that runs one (phases,
join link and QR code, participants, settings, model elements, moderation and its log)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)

from ..api.serialize import join_url
from ..domain import facilitation, moderation, privacy, proposals, workshops
from ..domain.access import can_facilitate
from ..domain.errors import DomainError
from ..domain.facilitation import timer_state
from ..domain.participants import ORGANISATION_TYPE_LABELS
from ..domain.similarity import Text, similar_pairs
from ..domain.templates import DEFAULT_TEMPLATE, TEMPLATES
from ..models import Moderation, Phase, ProposalStatus, Role, Workshop
from . import queries
from .common import (
    LOG_ACTION_LABELS,
    MODERATION_LABELS,
    PHASE_ACTIONS,
    PHASE_LABELS,
    STATUS_LABELS,
    WholeNumberField,
    attach_error,
    first_error,
    int_or_none,
)
from .qr import qr_svg

bp = Blueprint("facilitate", __name__, url_prefix="/facilitate")


@bp.before_request
def facilitators_only():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_user.role not in (Role.FACILITATOR.value, Role.ADMIN.value):
        abort(403)
    return None


def _workshop(code: str) -> Workshop:
    workshop = workshops.get_workshop(code)
    if not can_facilitate(current_user, workshop):
        abort(403)
    return workshop


# --- Forms ----------------------------------------------------------------------------------------


def _moderation_choices():
    return [(m.value, MODERATION_LABELS[m.value]) for m in Moderation]


class SettingsFields(FlaskForm):
    title = StringField(_l("Titel"), render_kw={"maxlength": workshops.TITLE_MAX,
                                                "required": True})
    description = TextAreaField(_l("Beskrivelse"), render_kw={
        "maxlength": workshops.DESCRIPTION_MAX, "rows": 3})
    dots_per_participant = WholeNumberField(_l("Prikker pr. deltager"), default=5,
                                            render_kw={"min": 1, "max": 100})
    max_dots_per_proposal = WholeNumberField(_l("Højst prikker på ét forslag"), default=3,
                                             render_kw={"min": 1, "max": 100})
    moderation = RadioField(_l("Moderation"), choices=_moderation_choices,
                            default=Moderation.POST.value, validate_choice=False)
    max_proposals_per_participant = WholeNumberField(
        _l("Højst antal forslag pr. deltager (valgfrit)"), render_kw={"min": 1, "max": 1000})
    show_names = BooleanField(_l("Vis deltagernes navne for de andre deltagere"), default=True)

    def settings(self) -> dict:
        return {
            "dots_per_participant": self.dots_per_participant.data,
            "max_dots_per_proposal": self.max_dots_per_proposal.data,
            "moderation": self.moderation.data,
            "max_proposals_per_participant": self.max_proposals_per_participant.data,
            "show_names": bool(self.show_names.data),
        }


def _template_choices():
    return [(key, tpl.name) for key, tpl in TEMPLATES.items()]


class CreateWorkshopForm(SettingsFields):
    template = SelectField(_l("Skabelon"), choices=_template_choices, default=DEFAULT_TEMPLATE,
                           validate_choice=False)
    submit = SubmitField(_l("Opret workshop"))


class SettingsForm(SettingsFields):
    submit = SubmitField(_l("Gem indstillinger"))


class ElementForm(FlaskForm):
    title = StringField(_l("Titel"), render_kw={"maxlength": workshops.ELEMENT_TITLE_MAX,
                                                "required": True})
    description = TextAreaField(_l("Beskrivelse"), render_kw={
        "maxlength": workshops.ELEMENT_DESCRIPTION_MAX, "rows": 2})
    submit = SubmitField(_l("Gem element"))


class AddElementForm(ElementForm):
    submit = SubmitField(_l("Tilføj element"))


class HideForm(FlaskForm):
    reason = StringField(_l("Begrundelse (vises for forfatteren)"),
                         render_kw={"maxlength": moderation.REASON_MAX, "required": True})
    submit = SubmitField(_l("Skjul forslaget"))


class ModerationEditForm(FlaskForm):
    title = StringField(_l("Titel"), render_kw={"maxlength": proposals.TITLE_MAX,
                                                "required": True})
    body = TextAreaField(_l("Beskrivelse"), render_kw={"maxlength": proposals.BODY_MAX,
                                                       "rows": 3})
    element_id = SelectField(_l("Element i modellen"), coerce=int_or_none,
                             validate_choice=False)
    reason = StringField(_l("Hvad blev rettet (valgfrit)"),
                         render_kw={"maxlength": moderation.REASON_MAX})
    submit = SubmitField(_l("Gem rettelsen"))


class ProposalNumberField(StringField):
    """A proposal chosen by its number: "12", "#12" or "#12 Title" (what the shared list of
    proposals fills in) give 12; anything else gives None, and the domain explains."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        match = re.match(r"\s*#?\s*(\d{1,18})\b", self.data or "")
        self.data = int(match.group(1)) if match else None

    def _value(self):
        return "" if self.data is None else str(self.data)


class MergeForm(FlaskForm):
    # One text field with a list of proposals shared by every form on the page (a <select>
    # per proposal listing every other one made the console grow with the square of them).
    into = ProposalNumberField(_l("Læg sammen med forslag nr."),
                               render_kw={"list": "merge-targets", "autocomplete": "off",
                                          "inputmode": "search"})
    reason = StringField(_l("Begrundelse (valgfrit)"),
                         render_kw={"maxlength": moderation.REASON_MAX})
    submit = SubmitField(_l("Læg sammen"))


class AddFacilitatorForm(FlaskForm):
    email = StringField(_l("E-mail på en anden facilitator"),
                        render_kw={"maxlength": 254, "autocomplete": "off"})
    submit = SubmitField(_l("Tilføj facilitator"))


# --- My workshops and creating one ----------------------------------------------------------------


def _index(form: CreateWorkshopForm, status: int = 200, error_message: str | None = None):
    own_only = current_user.role != Role.ADMIN.value
    rows = queries.workshops_with_counts(current_user, own_only=own_only)
    return render_template("facilitate/index.html", rows=rows, form=form,
                           phase_labels=PHASE_LABELS, error_message=error_message,
                           own_only=own_only), status


@bp.get("/")
def index():
    return _index(CreateWorkshopForm(formdata=None))


@bp.post("/")
def create():
    form = CreateWorkshopForm()
    if not form.validate():
        return _index(form, 400, first_error(form))
    try:
        workshop = workshops.create_workshop(current_user, form.title.data, form.description.data,
                                             form.template.data or None, form.settings())
    except DomainError as error:
        if error.code in ("unauthenticated", "forbidden"):
            raise
        message = None if attach_error(form, error) else error.message
        return _index(form, error.status, message or error.message)
    flash(_("Workshoppen er oprettet. Del linket eller koden med deltagerne."), "success")
    return redirect(url_for(".console", code=workshop.code))


# --- The console ----------------------------------------------------------------------------------


@dataclass
class Failure:
    """A refused console action: shown at the top and next to the form it came from."""

    kind: str
    message: str
    target_id: int | None = None
    form: object | None = None

    @property
    def anchor(self) -> str:
        if self.kind.startswith("proposal") and self.target_id:
            return f"forslag-{self.target_id}"
        if self.kind.startswith("element") and self.target_id:
            return f"element-{self.target_id}"
        return {"phase": "fase", "settings": "indstillinger", "element-add": "elementer",
                "facilitator": "facilitatorer", "join-lock": "deltag"}.get(self.kind, "main")


STATUS_ORDER = {
    ProposalStatus.PENDING.value: 0,
    ProposalStatus.VISIBLE.value: 1,
    ProposalStatus.HIDDEN.value: 2,
    ProposalStatus.MERGED.value: 3,
    ProposalStatus.WITHDRAWN.value: 4,
}


def _settings_form(workshop: Workshop) -> SettingsForm:
    return SettingsForm(
        formdata=None, title=workshop.title, description=workshop.description,
        dots_per_participant=workshop.dots_per_participant,
        max_dots_per_proposal=workshop.max_dots_per_proposal,
        moderation=workshop.moderation,
        max_proposals_per_participant=workshop.max_proposals_per_participant,
        show_names=workshop.show_names,
    )


def _element_choices(workshop: Workshop):
    return [(e.id, e.title) for e in workshop.elements]


def _moderation_edit_form(workshop, proposal, formdata: bool = False) -> ModerationEditForm:
    prefix = f"medit-{proposal.id}"
    form = ModerationEditForm(prefix=prefix) if formdata else ModerationEditForm(
        formdata=None, prefix=prefix, title=proposal.title, body=proposal.body,
        element_id=proposal.element_id)
    form.element_id.choices = _element_choices(workshop)
    return form


def _merge_form(proposal, formdata: bool = False) -> MergeForm:
    prefix = f"merge-{proposal.id}"
    return MergeForm(prefix=prefix) if formdata else MergeForm(formdata=None, prefix=prefix)


def _log_detail(entry, titles, elements) -> str:
    """A short Danish summary of what a log entry changed."""
    try:
        detail = json.loads(entry.detail or "{}")
    except ValueError:
        return ""
    if entry.action == "phase":
        return _("fra %(a)s til %(b)s", a=PHASE_LABELS.get(detail.get("from"), "?"),
                 b=PHASE_LABELS.get(detail.get("to"), "?"))
    if entry.action == "merge" and detail.get("into"):
        into = detail["into"]
        return _("ind i #%(id)d %(title)s", id=into, title=titles.get(into, ""))
    if entry.action == "edit":
        before, after = detail.get("before", {}), detail.get("after", {})
        changed = [name for name in ("title", "body", "element_id")
                   if before.get(name) != after.get(name)]
        if "title" in changed:
            return _("titel: »%(a)s« → »%(b)s«", a=before.get("title"), b=after.get("title"))
        names = {"body": _("beskrivelse"), "element_id": _("element")}
        return ", ".join(str(names[c]) for c in changed)
    if entry.action in ("add_element", "remove_element"):
        return detail.get("title", "")
    if entry.action in ("edit_element", "move_element"):
        return elements.get(detail.get("element_id"), "")
    if entry.action == "create":
        template = TEMPLATES.get(detail.get("template"))
        return str(template.name) if template else ""
    return ""


def _render_console(workshop: Workshop, failure: Failure | None = None, status: int = 200):
    participants = queries.participants(workshop)
    rows = sorted(proposals.all_proposals(workshop),
                  key=lambda p: (STATUS_ORDER.get(p.status, 9), p.id))
    merged = proposals.merged_into_map(workshop)
    comments = proposals.comments_by_proposal(workshop)
    targets = [p for p in rows if p.status in (ProposalStatus.VISIBLE.value,
                                               ProposalStatus.PENDING.value)]

    def pick(kind, target_id, make):
        if failure is not None and failure.kind == kind and failure.target_id == target_id:
            return failure.form
        return make()

    hide_forms, edit_forms, merge_forms = {}, {}, {}
    for p in rows:
        if p.status in proposals.GONE:
            continue
        hide_forms[p.id] = pick("proposal-hide", p.id,
                                lambda p=p: HideForm(formdata=None, prefix=f"hide-{p.id}"))
        edit_forms[p.id] = pick("proposal-edit", p.id,
                                lambda p=p: _moderation_edit_form(workshop, p))
        merge_forms[p.id] = pick("proposal-merge", p.id,
                                 lambda p=p: _merge_form(p))
    element_forms = {
        e.id: pick("element-edit", e.id, lambda e=e: ElementForm(
            formdata=None, prefix=f"element-{e.id}", title=e.title, description=e.description))
        for e in workshop.elements
    }
    moves = workshops.allowed_phase_moves(workshop)
    current = workshop.phase_enum
    forward = next((m for m in moves if m.index == current.index + 1), None)
    back = next((m for m in moves if m.index == current.index - 1), None)
    later = [m for m in moves if m.index > current.index + 1]
    titles = queries.proposal_titles(workshop)
    element_titles = {e.id: e.title for e in workshop.elements}
    log = queries.moderation_log(workshop)
    by_id = {p.id: p for p in targets}
    pairs = similar_pairs([Text(p.id, f"{p.title} {p.body}", p.element_id) for p in targets],
                          limit=10)
    duplicates = [(by_id[pair.a], by_id[pair.b], round(pair.score * 100)) for pair in pairs]
    return render_template(
        "facilitate/console.html",
        workshop=workshop,
        presenter_url=url_for("present.screen", code=workshop.code, key=workshop.presenter_key,
                              _external=False),
        timer=timer_state(workshop),
        duplicates=duplicates,
        voting_or_later=workshop.phase_enum.index >= Phase.VOTING.index,
        join_url=join_url(workshop),
        phase_label=PHASE_LABELS[workshop.phase],
        phase_labels=PHASE_LABELS,
        phase_actions=PHASE_ACTIONS,
        forward=forward,
        back=back,
        later=later,
        participants=participants,
        organisation_types=ORGANISATION_TYPE_LABELS,
        settings_form=pick("settings", None, lambda: _settings_form(workshop)),
        add_element_form=pick("element-add", None,
                              lambda: AddElementForm(formdata=None, prefix="new-element")),
        facilitator_form=pick("facilitator", None,
                              lambda: AddFacilitatorForm(formdata=None, prefix="facilitator")),
        element_forms=element_forms,
        elements_editable=not queries.voting_started(workshop),
        proposals=rows,
        merged=merged,
        comments=comments,
        hide_forms=hide_forms,
        edit_forms=edit_forms,
        merge_forms=merge_forms,
        merge_targets=targets,
        element_titles=element_titles,
        status_labels=STATUS_LABELS,
        log=log,
        log_labels=LOG_ACTION_LABELS,
        voting_method_labels=_voting_method_labels(),
        log_detail=lambda entry: _log_detail(entry, titles, element_titles),
        titles=titles,
        closed=workshop.phase == Phase.CLOSED.value,
        failure=failure,
    ), status


@bp.get("/<code>")
def console(code: str):
    workshop = _workshop(code)
    if workshop.code != code:
        return redirect(url_for(".console", code=workshop.code))
    return _render_console(workshop)


@bp.get("/<code>/qr.svg")
def qr(code: str):
    workshop = _workshop(code)
    return qr_svg(join_url(workshop))


def _voting_method_labels():
    from ..domain.voting import METHOD_LABELS

    return METHOD_LABELS


def _done(workshop: Workshop, message: str, anchor: str):
    flash(message, "success")
    return redirect(url_for(".console", code=workshop.code, _anchor=anchor))


def _refused(workshop: Workshop, error: DomainError, failure: Failure):
    if error.code in ("unauthenticated", "forbidden"):
        raise error
    attach_error(failure.form, error)
    failure.message = error.message
    return _render_console(workshop, failure, error.status)


def _act(workshop: Workshop, call, failure: Failure, message: str, anchor: str):
    """Run one domain action for a console form: a refusal is shown on the console, success
    is confirmed with `message` and the page returns to `anchor`."""
    try:
        call()
    except DomainError as error:
        return _refused(workshop, error, failure)
    return _done(workshop, message, anchor)


def _invalid(workshop: Workshop, failure: Failure):
    failure.message = first_error(failure.form) or _("Ugyldige oplysninger.")
    return _render_console(workshop, failure, 400)


@bp.post("/<code>/phase")
def phase(code: str):
    workshop = _workshop(code)
    target = request.form.get("phase", "")
    failure = Failure("phase", "")
    if target == Phase.CLOSED.value and request.form.get("confirm_close") != "y":
        failure.message = _("Sæt kryds for at bekræfte, at workshoppen skal lukkes. "
                            "En lukket workshop kan ikke åbnes igen.")
        return _render_console(workshop, failure, 400)
    try:
        workshops.set_phase(workshop, current_user, target)
    except DomainError as error:
        return _refused(workshop, error, failure)
    return _done(workshop, _("Workshoppen er nu i fasen: %(phase)s.",
                             phase=PHASE_LABELS[workshop.phase]), "fase")


@bp.post("/<code>/timer")
def timer(code: str):
    workshop = _workshop(code)
    action = request.form.get("action", "")
    seconds = None
    if action in ("start", "extend"):
        field_name = "minutes" if action == "start" else "extend_minutes"
        minutes = _minutes(request.form.get(field_name, "1" if action == "extend" else ""))
        seconds = None if minutes is None else round(minutes * 60)
    return _act(workshop, lambda: facilitation.control_timer(workshop, current_user, action,
                                                             seconds),
                Failure("timer", ""), _("Uret er opdateret."), "live")


def _minutes(raw: str) -> float | None:
    """Minutes as typed by a person: '5', '2,5' or '2.5'."""
    try:
        return float((raw or "").replace(",", ".").strip())
    except ValueError:
        return None


@bp.post("/<code>/reveal")
def reveal(code: str):
    workshop = _workshop(code)
    revealed = request.form.get("revealed") == "1"
    message = (_("Stillingen vises nu for deltagerne og på skærmen.") if revealed
               else _("Stillingen er skjult for deltagerne og på skærmen."))
    return _act(workshop, lambda: facilitation.set_revealed(workshop, current_user, revealed),
                Failure("reveal", ""), message, "live")


@bp.post("/<code>/spotlight")
def spotlight(code: str):
    workshop = _workshop(code)
    proposal_id = int_or_none(request.form.get("proposal_id"))
    message = (_("Forslaget vises nu på skærmen.") if proposal_id
               else _("Skærmen viser ikke længere et forslag."))
    return _act(workshop, lambda: facilitation.set_spotlight(workshop, current_user, proposal_id),
                Failure("spotlight", "", target_id=proposal_id), message,
                f"forslag-{proposal_id}" if proposal_id else "live")


@bp.post("/<code>/participants/<int:participant_id>/remove")
def remove_participant(code: str, participant_id: int):
    workshop = _workshop(code)
    return _act(workshop, lambda: facilitation.remove_participant(
                    workshop, current_user, participant_id,
                    void_votes=request.form.get("void_votes") == "y",
                    reason=request.form.get("reason", "")),
                Failure("participant", "", target_id=participant_id),
                _("Deltageren er fjernet."), "deltagere")


@bp.post("/<code>/join-lock")
def join_lock(code: str):
    workshop = _workshop(code)
    locked = request.form.get("locked") == "1"
    message = (_("Der er lukket for nye deltagere.") if locked
               else _("Der er åbnet for nye deltagere."))
    return _act(workshop, lambda: facilitation.set_join_locked(workshop, current_user, locked),
                Failure("join-lock", ""), message, "deltag")


@bp.post("/<code>/voting-method")
def voting_method(code: str):
    from ..domain import voting

    workshop = _workshop(code)
    return _act(workshop, lambda: voting.set_voting_method(
                    workshop, current_user, request.form.get("voting_method")),
                Failure("phase", ""), _("Afstemningsformen er gemt."), "afstemningsform")


@bp.post("/<code>/settings")
def settings(code: str):
    workshop = _workshop(code)
    form = SettingsForm()
    failure = Failure("settings", "", form=form)
    if not form.validate():
        return _invalid(workshop, failure)
    changes = form.settings()
    changes["title"] = form.title.data
    changes["description"] = form.description.data
    try:
        workshops.update_workshop(workshop, current_user, changes)
    except DomainError as error:
        return _refused(workshop, error, failure)
    return _done(workshop, _("Indstillingerne er gemt."), "indstillinger")


@bp.post("/<code>/facilitators")
def add_facilitator(code: str):
    workshop = _workshop(code)
    form = AddFacilitatorForm(prefix="facilitator")
    failure = Failure("facilitator", "", form=form)
    if not form.validate():
        return _invalid(workshop, failure)
    try:
        other = workshops.add_facilitator(workshop, current_user, form.email.data)
    except DomainError as error:
        return _refused(workshop, error, failure)
    return _done(workshop, _("%(email)s er nu facilitator for workshoppen.", email=other.email),
                 "facilitatorer")


@bp.post("/<code>/elements")
def add_element(code: str):
    workshop = _workshop(code)
    form = AddElementForm(prefix="new-element")
    failure = Failure("element-add", "", form=form)
    if not form.validate():
        return _invalid(workshop, failure)
    try:
        element = workshops.add_element(workshop, current_user, form.title.data,
                                        form.description.data)
    except DomainError as error:
        return _refused(workshop, error, failure)
    return _done(workshop, _("Elementet er tilføjet."), f"element-{element.id}")


@bp.post("/<code>/elements/<int:element_id>/edit")
def edit_element(code: str, element_id: int):
    workshop = _workshop(code)
    form = ElementForm(prefix=f"element-{element_id}")
    failure = Failure("element-edit", "", target_id=element_id, form=form)
    if not form.validate():
        return _invalid(workshop, failure)
    try:
        workshops.edit_element(workshop, current_user, element_id, form.title.data,
                               form.description.data)
    except DomainError as error:
        return _refused(workshop, error, failure)
    return _done(workshop, _("Elementet er rettet."), f"element-{element_id}")


@bp.post("/<code>/elements/<int:element_id>/move")
def move_element(code: str, element_id: int):
    workshop = _workshop(code)
    offset = {"up": -1, "down": 1}.get(request.form.get("direction", ""), 0)
    try:
        workshops.move_element(workshop, current_user, element_id, offset)
    except DomainError as error:
        return _refused(workshop, error, Failure("element-move", "", target_id=element_id))
    return _done(workshop, _("Elementet er flyttet."), f"element-{element_id}")


@bp.post("/<code>/elements/<int:element_id>/remove")
def remove_element(code: str, element_id: int):
    workshop = _workshop(code)
    try:
        workshops.remove_element(workshop, current_user, element_id)
    except DomainError as error:
        return _refused(workshop, error, Failure("element-remove", "", target_id=element_id))
    return _done(workshop, _("Elementet er fjernet."), "elementer")


MODERATION_DONE = {
    "approve": _l("Forslaget er godkendt og vises nu for deltagerne."),
    "hide": _l("Forslaget er skjult."),
    "unhide": _l("Forslaget vises igen."),
    "edit": _l("Rettelsen er gemt og noteret i loggen."),
    "merge": _l("Forslagene er lagt sammen."),
}


@bp.post("/<code>/proposals/<int:proposal_id>/<any(approve, hide, unhide, edit, merge):action>")
def moderate(code: str, proposal_id: int, action: str):
    workshop = _workshop(code)
    proposal = proposals.get_proposal(workshop, proposal_id)
    form = None
    kwargs: dict = {}
    if action == "hide":
        form = HideForm(prefix=f"hide-{proposal.id}")
    elif action == "edit":
        form = _moderation_edit_form(workshop, proposal, formdata=True)
    elif action == "merge":
        form = _merge_form(proposal, formdata=True)
    failure = Failure(f"proposal-{action}", "", target_id=proposal.id, form=form)
    if form is not None:
        if not form.validate():
            return _invalid(workshop, failure)
        kwargs["reason"] = form.reason.data
    if action == "edit":
        kwargs["title"] = form.title.data
        kwargs["body"] = form.body.data
        if form.element_id.data is not None and form.element_id.data != proposal.element_id:
            kwargs["element_id"] = form.element_id.data
    elif action == "merge":
        # Nothing chosen: the domain says "choose the proposal to merge with".
        kwargs["into"] = form.into.data
    try:
        result = moderation.moderate(workshop, current_user, proposal.id, action, **kwargs)
    except DomainError as error:
        return _refused(workshop, error, failure)
    anchor = f"forslag-{result.id}" if action == "merge" else f"forslag-{proposal.id}"
    return _done(workshop, str(MODERATION_DONE[action]), anchor)


# --- Deleting a workshop --------------------------------------------------------------------------


class DeleteWorkshopForm(FlaskForm):
    confirm = StringField(_l("Skriv workshoppens kode for at bekræfte"),
                          render_kw={"maxlength": 20, "autocomplete": "off",
                                     "autocapitalize": "characters", "spellcheck": "false"})
    submit = SubmitField(_l("Slet workshoppen for altid"))


def _delete_page(workshop: Workshop, form: DeleteWorkshopForm, status: int = 200):
    return render_template("facilitate/delete.html", workshop=workshop, form=form,
                           participants=len(queries.participants(workshop)),
                           proposals=len(proposals.all_proposals(workshop))), status


@bp.route("/<code>/delete", methods=["GET", "POST"])
def delete(code: str):
    """Delete a workshop and all its data, after typing its code; an audit record stays."""
    workshop = _workshop(code)
    if request.method == "GET":
        return _delete_page(workshop, DeleteWorkshopForm(formdata=None))
    form = DeleteWorkshopForm()
    if not form.validate():
        return _delete_page(workshop, form, 400)
    title = workshop.title
    try:
        privacy.delete_workshop(workshop, current_user, form.confirm.data)
    except DomainError as error:
        if error.code in ("unauthenticated", "forbidden"):
            raise
        attach_error(form, error)
        return _delete_page(workshop, form, error.status)
    flash(_("Workshoppen »%(title)s« og alle dens data er slettet.", title=title), "success")
    return redirect(url_for(".index"))
