"""Proposals to the model's elements, and comments on them."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    Comment,
    Moderation,
    Participant,
    Phase,
    Proposal,
    ProposalAuthor,
    ProposalStatus,
    User,
    Workshop,
    utcnow,
)
from .access import require_participant
from .errors import DomainError, check_text, invalid, is_id, require_phase
from .events import Event, unit_of_work
from .workshops import bump_version, get_element

TITLE_MAX = 120
BODY_MAX = 2000
COMMENT_MAX = 1000
CLIENT_ID_MAX = 64

# Statuses a proposal leaves behind when it is gone for good from the participants' view.
GONE = (ProposalStatus.WITHDRAWN.value, ProposalStatus.MERGED.value)


def check_client_id(client_id) -> str | None:
    if client_id is None:
        return None
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > CLIENT_ID_MAX:
        raise invalid(_l("client_id skal være en tekst på højst 64 tegn."), "client_id")
    return client_id.strip()


def check_proposal_id(proposal_id) -> int:
    """A proposal id as given: an integer (else "invalid") that can be an id (else "not
    found"), without reading the database."""
    if isinstance(proposal_id, bool) or not isinstance(proposal_id, int):
        raise invalid(_l("Ugyldigt forslag."), "proposal_id")
    if not is_id(proposal_id):
        raise DomainError("not_found", _l("Forslaget findes ikke."))
    return proposal_id


def get_proposal(workshop: Workshop | None, proposal_id) -> Proposal:
    proposal = db.session.get(Proposal, check_proposal_id(proposal_id))
    if proposal is None or (workshop is not None and proposal.workshop_id != workshop.id):
        raise DomainError("not_found", _l("Forslaget findes ikke."))
    return proposal


def submit_proposal(workshop: Workshop, participant: Participant | None, title, body, element_id,
                    client_id=None) -> tuple[Proposal, bool]:
    """Create a proposal; returns (proposal, created). A resent client_id returns the first."""
    require_participant(participant, workshop)
    client_id = check_client_id(client_id)
    earlier = _earlier(Proposal, Proposal.author_id, participant.id, client_id)
    if earlier is not None:
        return earlier, False
    require_phase(workshop, (Phase.IDEATION.value,), _l("Der kan kun stilles forslag i idéfasen."))
    title = check_text(title, "title", max_len=TITLE_MAX, label=_l("Titel"))
    body = check_text(body, "body", max_len=BODY_MAX, required=False, label=_l("Beskrivelse"))
    element = get_element(workshop, element_id)
    if workshop.max_proposals_per_participant is not None:
        count = db.session.scalar(
            select(func.count(Proposal.id)).where(
                Proposal.author_id == participant.id,
                # Withdrawn ones and duplicates merged into another do not use up the quota.
                Proposal.status.not_in(GONE),
            )
        )
        if count >= workshop.max_proposals_per_participant:
            raise DomainError(
                "conflict",
                _l("Du har stillet det største antal forslag, workshoppen tillader (%(n)d).",
                   n=workshop.max_proposals_per_participant),
            )
    status = (
        ProposalStatus.PENDING.value
        if workshop.moderation == Moderation.PRE.value
        else ProposalStatus.VISIBLE.value
    )
    try:
        with unit_of_work() as events:
            proposal = Proposal(
                workshop_id=workshop.id,
                element_id=element.id,
                author_id=participant.id,
                title=title,
                body=body,
                status=status,
                client_id=client_id,
            )
            db.session.add(proposal)
            db.session.flush()
            db.session.add(ProposalAuthor(proposal_id=proposal.id,
                                          participant_id=participant.id))
            bump_version(workshop)
            events.append(Event(workshop.id, "proposal", {"change": "new", "id": proposal.id,
                                                          "status": status}))
    except IntegrityError:
        # The same client_id sent twice at once: the other request created it.
        earlier = _earlier(Proposal, Proposal.author_id, participant.id, client_id)
        if earlier is None:
            raise
        return earlier, False
    return proposal, True


def _earlier(model, owner_column, owner_id: int, client_id: str | None):
    """What this participant already created with this client_id, if anything."""
    if client_id is None:
        return None
    return db.session.scalar(
        select(model).where(owner_column == owner_id, model.client_id == client_id)
    )


def _require_own_editable(workshop: Workshop, participant: Participant | None,
                          proposal: Proposal) -> None:
    require_participant(participant, workshop)
    if proposal.author_id != participant.id:
        raise DomainError("forbidden", _l("Du kan kun ændre dine egne forslag."))
    require_phase(workshop, (Phase.LOBBY.value, Phase.IDEATION.value, Phase.REVIEW.value),
                  _l("Forslag kan kun ændres eller trækkes tilbage før afstemningen."))
    if proposal.status in GONE:
        raise DomainError("conflict", _l("Forslaget er trukket tilbage eller lagt sammen."))


def edit_own_proposal(workshop: Workshop, participant: Participant | None, proposal_id,
                      title=None, body=None, element_id=None) -> Proposal:
    proposal = get_proposal(workshop, proposal_id)
    _require_own_editable(workshop, participant, proposal)
    new_title = (check_text(title, "title", max_len=TITLE_MAX, label=_l("Titel"))
                 if title is not None else proposal.title)
    new_body = (check_text(body, "body", max_len=BODY_MAX, required=False,
                           label=_l("Beskrivelse")) if body is not None else proposal.body)
    new_element = (get_element(workshop, element_id).id if element_id is not None
                   else proposal.element_id)
    with unit_of_work() as events:
        proposal.title, proposal.body, proposal.element_id = new_title, new_body, new_element
        proposal.updated_at = utcnow()
        bump_version(workshop)
        events.append(Event(workshop.id, "proposal", {"change": "edited", "id": proposal.id}))
    return proposal


def withdraw_proposal(workshop: Workshop, participant: Participant | None, proposal_id) -> Proposal:
    proposal = get_proposal(workshop, proposal_id)
    _require_own_editable(workshop, participant, proposal)
    with unit_of_work() as events:
        proposal.status = ProposalStatus.WITHDRAWN.value
        proposal.updated_at = utcnow()
        bump_version(workshop)
        events.append(Event(workshop.id, "proposal", {"change": "withdrawn", "id": proposal.id}))
    return proposal


def add_comment(workshop: Workshop, proposal_id, body, *, participant: Participant | None = None,
                user: User | None = None, client_id=None) -> tuple[Comment, bool]:
    """A participant (or a facilitator) comments on a proposal in ideation or review."""
    from .access import can_facilitate

    if user is not None and participant is None:
        if not can_facilitate(user, workshop):
            raise DomainError("forbidden")
    else:
        require_participant(participant, workshop)
    client_id = check_client_id(client_id)
    if participant is not None:
        earlier = _earlier(Comment, Comment.participant_id, participant.id, client_id)
        if earlier is not None:
            return earlier, False
    proposal = get_proposal(workshop, proposal_id)
    require_phase(workshop, (Phase.IDEATION.value, Phase.REVIEW.value),
                  _l("Der kan kun kommenteres i idé- og drøftelsesfasen."))
    own_pending = (participant is not None and proposal.author_id == participant.id
                   and proposal.status == ProposalStatus.PENDING.value)
    if proposal.status != ProposalStatus.VISIBLE.value and not own_pending:
        raise DomainError("not_found", _l("Forslaget findes ikke."))
    body = check_text(body, "body", max_len=COMMENT_MAX, label=_l("Kommentar"))
    try:
        with unit_of_work() as events:
            comment = Comment(
                proposal_id=proposal.id,
                participant_id=participant.id if participant is not None else None,
                user_id=user.id if participant is None and user is not None else None,
                body=body,
                client_id=client_id,
            )
            db.session.add(comment)
            db.session.flush()
            events.append(Event(workshop.id, "comment", {"proposal_id": proposal.id,
                                                         "id": comment.id}))
    except IntegrityError:
        earlier = (_earlier(Comment, Comment.participant_id, participant.id, client_id)
                   if participant is not None else None)
        if earlier is None:
            raise
        return earlier, False
    return comment, True


# --- Reading ------------------------------------------------------------------------------------


def proposals_for_participant(workshop: Workshop,
                              participant: Participant | None) -> list[Proposal]:
    """Visible proposals, plus the participant's own in any state but withdrawn or merged."""
    condition = Proposal.status == ProposalStatus.VISIBLE.value
    if participant is not None:
        condition = or_(
            condition,
            (Proposal.author_id == participant.id) & Proposal.status.not_in(GONE),
        )
    return list(db.session.scalars(
        select(Proposal).where(Proposal.workshop_id == workshop.id, condition)
        .order_by(Proposal.id)
    ))


def all_proposals(workshop: Workshop) -> list[Proposal]:
    return list(db.session.scalars(
        select(Proposal).where(Proposal.workshop_id == workshop.id).order_by(Proposal.id)
    ))


def comment_rows(workshop: Workshop, proposal_id: int | None = None) -> list:
    """The workshop's shown comments (or one proposal's), oldest first, as rows of columns:
    id, proposal_id, body, created_at, user_id, user_name, participant_name.

    Columns, not objects: comments are most of a page or a snapshot, and loading each as an
    ORM object with its author made a snapshot several times slower and its memory peak
    larger. `api.serialize.CommentRow` takes a row as it is."""
    query = (
        select(Comment.id, Comment.proposal_id, Comment.body, Comment.created_at,
               Comment.user_id, User.name.label("user_name"),
               Participant.display_name.label("participant_name"))
        .outerjoin(User, Comment.user_id == User.id)
        .outerjoin(Participant, Comment.participant_id == Participant.id)
        .where(Comment.hidden.is_(False))
        .order_by(Comment.id)
    )
    if proposal_id is None:
        query = query.join(Proposal, Comment.proposal_id == Proposal.id) \
            .where(Proposal.workshop_id == workshop.id)
    else:
        query = query.where(Comment.proposal_id == proposal_id)
    return list(db.session.execute(query))


def comments_by_proposal(workshop: Workshop) -> dict[int, list]:
    """`comment_rows`, grouped by proposal."""
    grouped: dict[int, list] = {}
    for row in comment_rows(workshop):
        grouped.setdefault(row.proposal_id, []).append(row)
    return grouped


def merged_into_map(workshop: Workshop) -> dict[int, list[Proposal]]:
    """For each proposal, the duplicates that were merged into it."""
    rows = db.session.scalars(
        select(Proposal).where(Proposal.workshop_id == workshop.id,
                               Proposal.status == ProposalStatus.MERGED.value)
        .order_by(Proposal.id)
    )
    grouped: dict[int, list[Proposal]] = {}
    for proposal in rows:
        grouped.setdefault(proposal.merged_into_id, []).append(proposal)
    return grouped


def authored_ids(participant: Participant | None) -> set[int]:
    """The proposals a participant stands behind, their own and those merged into another."""
    if participant is None:
        return set()
    return set(db.session.scalars(
        select(ProposalAuthor.proposal_id).where(ProposalAuthor.participant_id == participant.id)
    ))
