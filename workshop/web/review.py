"""Pages for reviewers (politicians and officials): the workshops they may read; one workshop's
ranking through every lens (popular and uniting, per organisation type, rank ranges and ties,
fairness) with answer forms; and the living model across workshops."""

from __future__ import annotations

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
from flask_login import current_user

from ..domain import answers, results, workshops
from ..domain.access import can_facilitate, can_review, require_reviewer
from ..domain.charts import popular_chart, range_chart, to_svg, uniting_chart
from ..domain.errors import DomainError
from ..domain.ranking import within_elements
from ..domain.reports import (
    fairness_explanation,
    method_explanation,
    method_label,
    moderation_summary,
    type_label,
)
from ..domain.templates import TEMPLATES
from ..models import Phase, Role, Workshop
from . import queries
from .common import PHASE_LABELS, WEIGHTING_LABELS

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.before_request
def staff_only():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    return None


@bp.get("/")
def index():
    own_only = current_user.role == Role.FACILITATOR.value
    rows = queries.workshops_with_counts(current_user, own_only=own_only)
    return render_template("review/index.html", rows=rows, phase_labels=PHASE_LABELS,
                           templates=_model_templates(rows))


def _model_templates(rows) -> list[tuple[str, str]]:
    used = {row.workshop.template for row in rows}
    return [(key, tpl.name) for key, tpl in TEMPLATES.items() if key in used and tpl.elements]


def _render_workshop(workshop: Workshop, weighting: str, *, error: DomainError | None = None,
                     status: int = 200):
    outcome = results.lenses(workshop, weighting)
    ranking = [row.ranked for row in outcome.rows]
    current = answers.current_answers(workshop)
    history = answers.history(workshop)
    return render_template(
        "review/workshop.html",
        workshop=workshop,
        weighting=weighting,
        weighting_labels=WEIGHTING_LABELS,
        outcome=outcome,
        ranking=ranking,
        by_element=within_elements(ranking),
        elements=workshop.elements,
        element_titles={e.id: e.title for e in workshop.elements},
        phase_label=PHASE_LABELS[workshop.phase],
        participants=outcome.fairness.participants,
        voters=outcome.fairness.voters,
        uniting=sorted(outcome.rows, key=lambda r: (r.consensus_rank, r.ranked.proposal_id)),
        charts={
            "popular": to_svg(popular_chart(outcome, _("Flest point")), "chart-popular"),
            "uniting": to_svg(uniting_chart(outcome, _("Størst konsensus")), "chart-uniting"),
            "ranges": to_svg(range_chart(outcome, _("Placering med usikkerhed")),
                             "chart-ranges"),
        },
        type_label=type_label,
        method_label=method_label(outcome.method),
        method_explanation=method_explanation(outcome.method),
        fairness_text=fairness_explanation(outcome.fairness),
        moderation=moderation_summary(workshop),
        answers=current,
        history=history,
        answer_labels=answers.STATUS_LABELS,
        can_answer=workshop.phase_enum.index >= Phase.RESULTS.index,
        can_publish=can_facilitate(current_user, workshop),
        titles={r.ranked.proposal_id: r.ranked.title for r in outcome.rows},
        error=error,
    ), status


@bp.get("/<code>")
def workshop(code: str):
    workshop = workshops.get_workshop(code)
    if workshop.code != code:
        return redirect(url_for(".workshop", code=workshop.code, **request.args))
    require_reviewer(current_user, workshop)
    weighting = results.check_weighting(request.args.get("weighting"))
    return _render_workshop(workshop, weighting)


@bp.post("/<code>/proposals/<int:proposal_id>/answer")
def answer(code: str, proposal_id: int):
    workshop = workshops.get_workshop(code)
    require_reviewer(current_user, workshop)
    try:
        answers.set_answer(workshop, current_user, proposal_id, request.form.get("status"),
                           request.form.get("reasoning", ""))
    except DomainError as error:
        if error.code in ("forbidden", "unauthenticated", "not_found"):
            raise
        return _render_workshop(workshop, "participant", error=error, status=error.status)
    flash(_("Svaret er gemt."), "success")
    return redirect(url_for(".workshop", code=workshop.code, _anchor=f"svar-{proposal_id}"))


@bp.post("/<code>/publish")
def publish(code: str):
    workshop = workshops.get_workshop(code)
    published = request.form.get("published") == "1"
    try:
        answers.publish(workshop, current_user, published, request.form.get("note"))
    except DomainError as error:
        if error.code in ("forbidden", "unauthenticated"):
            raise
        return _render_workshop(workshop, "participant", error=error, status=error.status)
    flash(_("Udfaldet er offentliggjort for deltagerne.") if published
          else _("Udfaldet er ikke længere offentligt."), "success")
    return redirect(url_for(".workshop", code=workshop.code, _anchor="offentliggoer"))


@bp.get("/model")
def living_model():
    """The collaboration model as a document: each element, what was adopted into it across
    the workshops that use the template, and what is still under consideration."""
    from ..domain.living_model import living_model as build

    key = request.args.get("template", "generic-model")
    template = TEMPLATES.get(key)
    if template is None or not template.elements:
        abort(404)
    readable = [row.workshop for row in queries.workshops_with_counts(
        current_user, own_only=current_user.role == Role.FACILITATOR.value)
        if can_review(current_user, row.workshop)]
    model = build(template, key, readable)
    return render_template("model/document.html", model=model, template=template,
                           answer_labels=answers.STATUS_LABELS)
