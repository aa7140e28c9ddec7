"""The living model: the generic collaboration model as one document, element by element, with
what each workshop that used the template adopted into it and what is still being considered.

Elements match across workshops by their template key (`ModelElement.key`); elements a
facilitator added by hand have no key and are gathered under "other elements".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models import AnswerStatus, Workshop
from .answers import ADOPTED, current_answers
from .results import ranking


@dataclass(frozen=True)
class ModelEntry:
    workshop: Workshop
    proposal_id: int
    title: str
    element_title: str
    rank: int
    status: str
    reasoning: str


@dataclass
class ModelSection:
    key: str | None
    title: str
    description: str
    source: str
    adopted: list[ModelEntry] = field(default_factory=list)
    considering: list[ModelEntry] = field(default_factory=list)


@dataclass
class LivingModel:
    template_key: str
    sections: list[ModelSection]
    workshops: list[Workshop]


def living_model(template, template_key: str, workshops: list[Workshop]) -> LivingModel:
    sections = {e.key: ModelSection(e.key, e.title, e.description, e.source)
                for e in template.elements}
    other = ModelSection(None, "", "", "")
    used = sorted((w for w in workshops if w.template == template_key),
                  key=lambda w: (w.created_at, w.id))
    for workshop in used:
        answers = current_answers(workshop)
        if not answers:
            continue
        elements = {e.id: e for e in workshop.elements}
        for row in ranking(workshop, "participant"):
            answer = answers.get(row.proposal_id)
            if answer is None:
                continue
            element = elements.get(row.element_id)
            section = sections.get(element.key if element is not None else None, other)
            entry = ModelEntry(workshop, row.proposal_id, row.title,
                               element.title if element is not None else "", row.rank,
                               answer.status, answer.reasoning)
            if answer.status in ADOPTED:
                section.adopted.append(entry)
            elif answer.status == AnswerStatus.UNDER_CONSIDERATION.value:
                section.considering.append(entry)
    ordered = list(sections.values())
    if other.adopted or other.considering:
        ordered.append(other)
    return LivingModel(template_key, ordered, used)
