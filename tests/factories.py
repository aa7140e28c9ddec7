"""Factories that make tests read like stories: a facilitator opens a workshop, people join,
propose and vote. They go through the domain, as every door does."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from workshop.domain import moderation, proposals, voting, workshops
from workshop.domain.errors import DomainError
from workshop.domain.participants import join
from workshop.domain.users import create_user
from workshop.extensions import db
from workshop.models import PHASE_ORDER, Phase

PASSWORD = "correct-horse"
_counter = itertools.count(1)


def make_user(role: str = "facilitator", email: str | None = None, password: str = PASSWORD,
              name: str = ""):
    email = email or f"{role}{next(_counter)}@region.dk"
    return create_user(email, password, role, name)


def make_workshop(facilitator=None, *, title="Samarbejde med civilsamfundet",
                  template="generic-model", phase: str | None = None, **settings):
    facilitator = facilitator or make_user("facilitator")
    workshop = workshops.create_workshop(facilitator, title, None, template, settings or None)
    if phase:
        move_to(workshop, phase, facilitator)
    return workshop


def facilitator_of(workshop):
    return workshop.facilitators[0]


def move_to(workshop, phase: str, user=None):
    """Walk the workshop forward (or one step back) to `phase`, as a facilitator would."""
    user = user or facilitator_of(workshop)
    target = Phase(phase)
    while workshop.phase_enum.index < target.index:
        workshops.set_phase(workshop, user, PHASE_ORDER[workshop.phase_enum.index + 1].value)
    if workshop.phase_enum.index > target.index:
        workshops.set_phase(workshop, user, target.value)
    return workshop


def join_as(workshop, name="Deltager", organisation=None, organisation_type=None):
    """A participant joins; the returned participant carries its cookie token as `.token`."""
    joined = join(workshop, name, organisation, organisation_type, True)
    joined.participant.token = joined.token
    return joined.participant


def element(workshop, index: int = 0):
    return workshop.elements[index]


def propose(workshop, participant, title="Et forslag", body="", element_index: int = 0,
            client_id=None):
    proposal, _created = proposals.submit_proposal(
        workshop, participant, title, body, element(workshop, element_index).id, client_id
    )
    return proposal


def vote(workshop, participant, proposal, dots: int):
    return voting.set_dots(workshop, participant, proposal.id, dots)


def hide(workshop, proposal, reason="Ikke relevant", user=None):
    return moderation.moderate(workshop, user or facilitator_of(workshop), proposal.id, "hide",
                               reason=reason)


def merge(workshop, duplicate, target, reason="Dublet", user=None):
    return moderation.moderate(workshop, user or facilitator_of(workshop), duplicate.id, "merge",
                               into=target.id, reason=reason)


def refresh(obj):
    db.session.refresh(obj)
    return obj


# --- Outcomes (issue 4) -------------------------------------------------------------------------

HOSTILE_TEXTS = [
    "<script>alert(1)</script>",
    '=HYPERLINK("http://evil.example","klik")',
    "+SUM(A1:A2)",
    "@cmd",
    "-2+3",
    "abc\u202edcba",
    "Æ" * 300,
    "Grøn 🌿 hverdag",
]


def answer(workshop, proposal, status="adopted", reasoning="Det giver mening", user=None):
    from workshop.domain import answers

    return answers.set_answer(workshop, user or facilitator_of(workshop), proposal.id, status,
                              reasoning)


def finished_workshop(title="Viborg"):
    """A workshop in results: a big association of five carries one proposal; citizens, a
    volunteer centre and a patient organisation back another."""
    workshop = make_workshop(title=title, phase="ideation")
    big = [join_as(workshop, f"Medlem {i}", "Stor Forening", "association") for i in range(5)]
    others = [join_as(workshop, "Borger A", None, "citizen"),
              join_as(workshop, "Borger B", None, "citizen"),
              join_as(workshop, "Frivillig", "Frivilligcenter Viborg", "volunteer_centre"),
              join_as(workshop, "Patient", "Patientforeningen", "patient_organisation")]
    carried = propose(workshop, big[0], "Foreningshus", element_index=0)
    shared = propose(workshop, others[0], "Fælles indgang", element_index=1)
    third = propose(workshop, others[1], "Netværk", element_index=1)
    dup = propose(workshop, others[2], "Fælles indgang igen", element_index=1)
    spam = propose(workshop, others[3], "Reklame", element_index=2)
    hide(workshop, spam, reason="Reklame")
    merge(workshop, dup, shared, reason="Dublet")
    move_to(workshop, "voting")
    for person in big:
        vote(workshop, person, carried, 3)
    for person in others:
        vote(workshop, person, shared, 2)
        vote(workshop, person, third, 1)
    move_to(workshop, "results")
    return workshop, carried, shared, third


# --- Assertions the domain tests share ------------------------------------------------------------


def count(model) -> int:
    """How many rows a table holds."""
    return db.session.scalar(select(func.count()).select_from(model))


def refused(code: str, call, *args, **kwargs) -> DomainError:
    """Call a domain function that must refuse with `code`; the session is rolled back."""
    with pytest.raises(DomainError) as info:
        call(*args, **kwargs)
    assert info.value.code == code, info.value
    db.session.rollback()
    return info.value
