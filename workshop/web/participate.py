"""Pages for participants: the landing page, joining by link, and the workshop page with what
the current phase allows (propose, comment, vote, see results). Every write calls one domain
function; a refusal is shown on the page with its status, never as a 500."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField

from ..api.serialize import CommentRow
from ..domain import privacy, proposals, results, voting, workshops
from ..domain.access import require_participant
from ..domain.errors import DomainError
from ..domain.participants import (
    NAME_MAX,
    ORGANISATION_MAX,
    ORGANISATION_TYPE_LABELS,
    check_joinable,
    public_name,
)
from ..domain.participants import (
    join as join_workshop,
)
from ..domain.ranking import within_elements
from ..extensions import limiter
from ..identity import clear_participant_cookie, participant_for, set_participant_cookie
from ..models import Participant, Phase, ProposalStatus, Workshop
from ..security import PARTICIPANT_VOTE_SCOPE, PARTICIPANT_WRITE_SCOPE, participant_rate_key
from . import queries
from .common import (
    PHASE_LABELS,
    STATUS_LABELS,
    WEIGHTING_LABELS,
    ClientIdField,
    attach_error,
    first_error,
    int_or_none,
    new_client_id,
)

bp = Blueprint("participate", __name__)


# Writes are counted per participant (a whole venue may share one address), with one
# allowance shared by the pages, the API and the sockets.
participant_write_limit = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_PARTICIPANT_WRITE"], scope=PARTICIPANT_WRITE_SCOPE,
    key_func=participant_rate_key)
participant_vote_limit = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_PARTICIPANT_VOTE"], scope=PARTICIPANT_VOTE_SCOPE,
    key_func=participant_rate_key)


# --- Forms ----------------------------------------------------------------------------------------


class CodeForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that only looks a code up

    code = StringField(_l("Workshopkode"), render_kw={
        "autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
        "maxlength": 20})
    submit = SubmitField(_l("Gå til workshoppen"))


def _organisation_type_choices():
    return [("", _l("Vælg type (valgfrit)"))] + list(ORGANISATION_TYPE_LABELS.items())


class JoinForm(FlaskForm):
    display_name = StringField(_l("Dit navn"), render_kw={
        "maxlength": NAME_MAX, "autocomplete": "name", "required": True})
    organisation = StringField(_l("Organisation (valgfrit)"), render_kw={
        "maxlength": ORGANISATION_MAX, "autocomplete": "organization"})
    organisation_type = SelectField(_l("Organisationstype (valgfrit)"),
                                    choices=_organisation_type_choices, validate_choice=False)
    consent = BooleanField(_l("Jeg har læst oplysningerne om mine data og vil deltage"))
    submit = SubmitField(_l("Deltag i workshoppen"))


class ProposalForm(FlaskForm):
    title = StringField(_l("Titel"), render_kw={"maxlength": proposals.TITLE_MAX,
                                                "required": True})
    body = TextAreaField(_l("Beskrivelse"), render_kw={"maxlength": proposals.BODY_MAX,
                                                       "rows": 4})
    element_id = SelectField(_l("Element i modellen"), coerce=int_or_none,
                             validate_choice=False)
    client_id = ClientIdField()
    submit = SubmitField(_l("Send forslag"))


class EditProposalForm(FlaskForm):
    title = StringField(_l("Titel"), render_kw={"maxlength": proposals.TITLE_MAX,
                                                "required": True})
    body = TextAreaField(_l("Beskrivelse"), render_kw={"maxlength": proposals.BODY_MAX,
                                                       "rows": 4})
    element_id = SelectField(_l("Element i modellen"), coerce=int_or_none,
                             validate_choice=False)
    submit = SubmitField(_l("Gem ændringer"))


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Din kommentar"), render_kw={"maxlength": proposals.COMMENT_MAX,
                                                         "rows": 2, "required": True})
    client_id = ClientIdField()
    submit = SubmitField(_l("Send kommentar"))


def _element_choices(workshop: Workshop, empty: bool):
    choices = [(e.id, e.title) for e in workshop.elements]
    if empty:
        choices = [("", _l("Vælg element"))] + choices
    return choices


def _proposal_form(workshop: Workshop, formdata=None) -> ProposalForm:
    if formdata is None:
        form = ProposalForm(formdata=None, client_id=new_client_id())
    else:
        form = ProposalForm()
    form.element_id.choices = _element_choices(workshop, empty=True)
    return form


def _edit_form(workshop: Workshop, proposal, formdata: bool = False) -> EditProposalForm:
    prefix = f"edit-{proposal.id}"
    if formdata:
        form = EditProposalForm(prefix=prefix)
    else:
        form = EditProposalForm(formdata=None, prefix=prefix, title=proposal.title,
                                body=proposal.body, element_id=proposal.element_id)
    form.element_id.choices = _element_choices(workshop, empty=False)
    return form


def _comment_form(proposal_id: int, formdata: bool = False) -> CommentForm:
    prefix = f"comment-{proposal_id}"
    if formdata:
        return CommentForm(prefix=prefix)
    return CommentForm(formdata=None, prefix=prefix, client_id=new_client_id())


# --- Landing page and joining ---------------------------------------------------------------------


@bp.get("/")
def home():
    form = CodeForm(request.args)
    status = 200
    if "code" in request.args:
        code = workshops.normalise_code(form.code.data or "")
        if not code:
            form.code.errors = [_("Skriv workshoppens kode.")]
            status = 400
        else:
            try:
                workshop = workshops.get_workshop(code)
            except DomainError:
                form.code.errors = [_("Vi kender ikke koden %(code)s. Tjek den, og prøv igen.",
                                      code=code[:20])]
                status = 404
            else:
                return redirect(url_for(".join", code=workshop.code))
    return render_template("participate/home.html", form=form), status


def _own_participant(workshop: Workshop) -> Participant | None:
    """The participant behind this workshop's cookie, if they may take part in it."""
    participant = participant_for(workshop)
    if participant is None or participant.workshop_id != workshop.id \
            or participant.removed_at is not None:
        return None
    return participant


def _joining_closed_message(workshop: Workshop) -> str | None:
    """Why the join form would not work, if it would not (the domain's rule)."""
    try:
        check_joinable(workshop)
    except DomainError as error:
        return error.message
    return None


@bp.route("/j/<code>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_JOIN"], methods=["POST"])
def join(code: str):
    workshop = workshops.get_workshop(code)
    if workshop.code != code:
        return redirect(url_for(".join", code=workshop.code))
    if _own_participant(workshop) is not None:
        return redirect(url_for(".workshop", code=workshop.code))
    closed = _joining_closed_message(workshop)
    if closed:
        status = 409 if request.method == "POST" else 200
        return render_template("participate/join.html", workshop=workshop, form=None,
                               closed_message=closed), status
    form = JoinForm()
    status = 200
    error_message = None
    if request.method == "POST":
        if form.validate():
            try:
                joined = join_workshop(workshop, form.display_name.data, form.organisation.data,
                              form.organisation_type.data or None, form.consent.data is True)
            except DomainError as error:
                if not attach_error(form, error):
                    error_message = error.message
                status = error.status
            else:
                response = redirect(url_for(".workshop", code=workshop.code))
                set_participant_cookie(response, workshop, joined.token)
                flash(_("Velkommen, %(name)s. Du deltager nu i workshoppen.",
                        name=joined.participant.display_name), "success")
                return response
        else:
            status = 400
        error_message = error_message or first_error(form)
    return render_template("participate/join.html", workshop=workshop, form=form,
                           closed_message=None, error_message=error_message), status


# --- The workshop page ----------------------------------------------------------------------------


@dataclass
class Failure:
    """A refused action, shown at the top of the page and next to the form it came from."""

    kind: str  # propose | edit | withdraw | comment | vote
    message: str
    proposal_id: int | None = None
    form: object | None = None
    extra: dict = field(default_factory=dict)

    @property
    def anchor(self) -> str:
        if self.kind == "propose":
            return "nyt-forslag"
        if self.kind in ("edit", "withdraw") and self.proposal_id:
            return f"mit-p-{self.proposal_id}"
        return f"p-{self.proposal_id}" if self.proposal_id else "main"


# The stand-in proposal the page renders once inside a <template>, so that the live client can
# show a new proposal with the same markup as the server (its id is replaced by the real one).
PLACEHOLDER = SimpleNamespace(id=987654321, title="", body="", author=None, author_id=None,
                              edited_by_staff=False, element_id=0, status="visible")


def _phase_at_least(workshop: Workshop, phase: Phase) -> bool:
    return workshop.phase_enum.index >= phase.index


def _render_workshop(workshop: Workshop, participant: Participant, *,
                     failure: Failure | None = None, status: int = 200):
    queries.participants(workshop)  # one query for every author and commenter on the page
    phase = workshop.phase
    rows = proposals.proposals_for_participant(workshop, participant)
    visible = [p for p in rows if p.status == ProposalStatus.VISIBLE.value]
    own = [p for p in rows if p.author_id == participant.id]
    backed = proposals.authored_ids(participant)
    merged = proposals.merged_into_map(workshop)
    # As the live client shows them (the same author rule), from one column read.
    comments = {pid: [CommentRow(*row).json(workshop) for row in thread]
                for pid, thread in proposals.comments_by_proposal(workshop).items()}
    by_element: dict[int, list] = {e.id: [] for e in workshop.elements}
    for proposal in visible:
        by_element.setdefault(proposal.element_id, []).append(proposal)

    can_propose = phase == Phase.IDEATION.value
    can_comment = phase in (Phase.IDEATION.value, Phase.REVIEW.value)
    can_edit_own = not _phase_at_least(workshop, Phase.VOTING)
    is_voting = phase == Phase.VOTING.value

    propose_form = None
    if can_propose:
        propose_form = failure.form if failure and failure.kind == "propose" \
            else _proposal_form(workshop)
    comment_forms, edit_forms = {}, {}
    if can_comment:
        comment_forms[PLACEHOLDER.id] = _comment_form(PLACEHOLDER.id)
        for proposal in visible + own:
            if failure and failure.kind == "comment" and failure.proposal_id == proposal.id:
                comment_forms[proposal.id] = failure.form
            else:
                comment_forms[proposal.id] = _comment_form(proposal.id)
    if can_edit_own:
        for proposal in own:
            if failure and failure.kind == "edit" and failure.proposal_id == proposal.id:
                edit_forms[proposal.id] = failure.form
            else:
                edit_forms[proposal.id] = _edit_form(workshop, proposal)

    allocations, remaining = {}, None
    vote_budget = workshop.dots_per_participant
    if voting.has_budget(workshop):
        if is_voting:
            allocations = voting.allocations(participant)
            remaining = workshop.dots_per_participant - sum(allocations.values())
    else:  # approval and score have no budget: the page's counter never runs out
        vote_budget = voting.vote_cap(workshop) * max(1, len(visible))
        if is_voting:
            allocations = voting.allocations(participant)
            remaining = vote_budget - sum(allocations.values())
    outcome = _published_outcome(workshop, participant)

    ranking = by_element_ranking = None
    weighting = results.check_weighting(request.args.get("weighting"))
    try:
        results.require_results_visible(workshop, None, participant)
    except DomainError:
        pass
    else:
        ranking = results.ranking(workshop, weighting)
        by_element_ranking = within_elements(ranking)

    return render_template(
        "participate/workshop.html",
        workshop=workshop,
        participant=participant,
        placeholder=PLACEHOLDER,
        phase_label=PHASE_LABELS[phase],
        status_labels=STATUS_LABELS,
        elements=workshop.elements,
        element_titles={e.id: e.title for e in workshop.elements},
        by_element=by_element,
        own=own,
        backed=backed,
        merged=merged,
        comments=comments,
        author_name=lambda p: public_name(p.author, workshop),
        can_propose=can_propose,
        can_comment=can_comment,
        can_edit_own=can_edit_own,
        is_voting=is_voting,
        propose_form=propose_form,
        comment_forms=comment_forms,
        edit_forms=edit_forms,
        allocations=allocations,
        remaining=remaining,
        ranking=ranking,
        by_element_ranking=by_element_ranking,
        weighting=weighting,
        weighting_labels=WEIGHTING_LABELS,
        failure=failure,
        phase=phase,
        vote_budget=vote_budget,
        vote_cap=voting.vote_cap(workshop),
        outcome=outcome,
    ), status


def _published_outcome(workshop: Workshop, participant: Participant) -> dict | None:
    """Once the facilitator has published it: the answers, this participant's first."""
    from ..domain import answers

    if workshop.published_at is None:
        return None
    current = answers.current_answers(workshop)
    own = answers.own_proposal_ids(workshop, participant)
    titles = {p.id: p for p in proposals.all_proposals(workshop)}
    rows = [(titles[pid], answer) for pid, answer in current.items() if pid in titles]
    rows.sort(key=lambda row: row[0].id)
    return {
        "note": workshop.outcome_note or "",
        "own": [row for row in rows if row[0].id in own],
        "others": [row for row in rows if row[0].id not in own],
        "unanswered_own": [titles[pid] for pid in sorted(own)
                           if pid in titles and pid not in current
                           and titles[pid].status == ProposalStatus.VISIBLE.value],
        "labels": answers.STATUS_LABELS,
    }


@bp.get("/w/<code>")
def workshop(code: str):
    workshop = workshops.get_workshop(code)
    if workshop.code != code:
        return redirect(url_for(".workshop", code=workshop.code))
    participant = participant_for(workshop)
    if participant is None or participant.workshop_id != workshop.id:
        return redirect(url_for(".join", code=workshop.code))
    require_participant(participant, workshop)  # a removed participant: 403
    return _render_workshop(workshop, participant)


def _workshop_and_participant(code: str) -> tuple[Workshop, Participant]:
    """For a write: the workshop, and the participant the domain agrees may act in it."""
    workshop = workshops.get_workshop(code)
    participant = require_participant(participant_for(workshop), workshop)
    return workshop, participant


def _refused(workshop, participant, error: DomainError, failure: Failure):
    """Show a refusal on the page with its status. Rights errors go to the error page."""
    if error.code in ("unauthenticated", "forbidden"):
        raise error
    attach_error(failure.form, error)
    failure.message = error.message
    return _render_workshop(workshop, participant, failure=failure, status=error.status)


def _back(workshop: Workshop, anchor: str):
    return redirect(url_for(".workshop", code=workshop.code, _anchor=anchor))


@bp.post("/w/<code>/proposals")
@participant_write_limit
def propose(code: str):
    workshop, participant = _workshop_and_participant(code)
    form = _proposal_form(workshop, formdata=True)
    failure = Failure("propose", "", form=form)
    if not form.validate():
        failure.message = first_error(form) or ""
        return _render_workshop(workshop, participant, failure=failure, status=400)
    try:
        proposal, created = proposals.submit_proposal(
            workshop, participant, form.title.data, form.body.data, form.element_id.data,
            form.client_id.data or None,
        )
    except DomainError as error:
        return _refused(workshop, participant, error, failure)
    if not created:
        flash(_("Forslaget var allerede sendt. Det er kun gemt én gang."), "info")
    elif proposal.status == ProposalStatus.PENDING.value:
        flash(_("Tak! Dit forslag vises for de andre, når facilitatoren har godkendt det."),
              "success")
    else:
        flash(_("Tak! Dit forslag er tilføjet."), "success")
    return _back(workshop, f"mit-p-{proposal.id}")


@bp.post("/w/<code>/proposals/<int:proposal_id>/edit")
def edit_proposal(code: str, proposal_id: int):
    workshop, participant = _workshop_and_participant(code)
    proposal = proposals.get_proposal(workshop, proposal_id)
    form = _edit_form(workshop, proposal, formdata=True)
    failure = Failure("edit", "", proposal_id=proposal.id, form=form)
    if not form.validate():
        failure.message = first_error(form) or ""
        return _render_workshop(workshop, participant, failure=failure, status=400)
    try:
        proposals.edit_own_proposal(workshop, participant, proposal.id, form.title.data,
                                    form.body.data, form.element_id.data)
    except DomainError as error:
        return _refused(workshop, participant, error, failure)
    flash(_("Dit forslag er rettet."), "success")
    return _back(workshop, f"mit-p-{proposal.id}")


@bp.post("/w/<code>/proposals/<int:proposal_id>/withdraw")
def withdraw_proposal(code: str, proposal_id: int):
    workshop, participant = _workshop_and_participant(code)
    try:
        proposals.withdraw_proposal(workshop, participant, proposal_id)
    except DomainError as error:
        return _refused(workshop, participant, error,
                        Failure("withdraw", "", proposal_id=proposal_id))
    flash(_("Dit forslag er trukket tilbage."), "success")
    return _back(workshop, "dine-forslag")


@bp.post("/w/<code>/proposals/<int:proposal_id>/comments")
@participant_write_limit
def comment(code: str, proposal_id: int):
    workshop, participant = _workshop_and_participant(code)
    form = _comment_form(proposal_id, formdata=True)
    failure = Failure("comment", "", proposal_id=proposal_id, form=form)
    if not form.validate():
        failure.message = first_error(form) or ""
        return _render_workshop(workshop, participant, failure=failure, status=400)
    try:
        _comment, created = proposals.add_comment(
            workshop, proposal_id, form.body.data, participant=participant,
            client_id=form.client_id.data or None,
        )
    except DomainError as error:
        return _refused(workshop, participant, error, failure)
    flash(_("Din kommentar er tilføjet.") if created
          else _("Kommentaren var allerede sendt. Den er kun gemt én gang."), "success")
    return _back(workshop, f"p-{proposal_id}")


@bp.post("/w/<code>/proposals/<int:proposal_id>/dots")
@participant_vote_limit
def vote(code: str, proposal_id: int):
    workshop, participant = _workshop_and_participant(code)
    raw = request.form.get("dots", "")
    dots = int_or_none(raw.strip())
    try:
        # A value that is not a whole number goes to the domain as it is: it explains.
        result = voting.set_dots(workshop, participant, proposal_id,
                                 dots if dots is not None else raw)
    except DomainError as error:
        return _refused(workshop, participant, error,
                        Failure("vote", "", proposal_id=proposal_id))
    flash(_vote_saved(workshop, result), "success")
    return _back(workshop, f"p-{proposal_id}")


def _vote_saved(workshop: Workshop, result) -> str:
    """What a vote that was saved did, in the words of the workshop's voting method."""
    if workshop.voting_method == "approval":
        return _("Du støtter nu forslaget.") if result.dots else \
            _("Du støtter ikke længere forslaget.")
    if workshop.voting_method == "score":
        return _("Din karakter til forslaget er nu %(k)d.", k=result.dots) if result.dots else \
            _("Din karakter til forslaget er fjernet.")
    return ngettext("Du har nu %(num)d prik på forslaget og %(left)d tilbage.",
                    "Du har nu %(num)d prikker på forslaget og %(left)d tilbage.",
                    result.dots, left=result.remaining)


# --- A participant's own data ---------------------------------------------------------------------


class ForgetMeForm(FlaskForm):
    confirm = BooleanField(_l("Ja, slet mine oplysninger"))
    submit = SubmitField(_l("Slet mine data"))


def _own_data_page(workshop: Workshop, participant, form: ForgetMeForm, status: int = 200,
                   error_message: str | None = None):
    data = privacy.own_data(workshop, participant)
    return render_template(
        "participate/mine.html", workshop=workshop, data=data, form=form,
        organisation_types=ORGANISATION_TYPE_LABELS, status_labels=STATUS_LABELS,
        error_message=error_message,
        privacy_contact=current_app.config.get("PRIVACY_CONTACT", ""),
    ), status


@bp.get("/w/<code>/mine")
def mine(code: str):
    """What is stored about me in this workshop, and the button that deletes it."""
    workshop = workshops.get_workshop(code)
    participant = participant_for(workshop)
    if participant is None or participant.workshop_id != workshop.id:
        return redirect(url_for(".join", code=workshop.code))
    return _own_data_page(workshop, participant, ForgetMeForm(formdata=None))


@bp.post("/w/<code>/mine/delete")
def forget_me(code: str):
    workshop = workshops.get_workshop(code)
    participant = participant_for(workshop)
    form = ForgetMeForm()
    if not form.validate() or not form.confirm.data:
        privacy.own_data(workshop, participant)  # someone else's link: the same refusal
        return _own_data_page(workshop, participant, form, 400,
                              _("Sæt kryds for at bekræfte, at dine data skal slettes."))
    privacy.forget_participant(workshop, participant)
    response = redirect(url_for(".home"))
    clear_participant_cookie(response, workshop)
    flash(_("Dine data er slettet. Dine forslag, kommentarer og prikker står tilbage uden "
            "dit navn."), "success")
    return response
