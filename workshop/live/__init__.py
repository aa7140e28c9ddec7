"""Socket.IO, namespace /live: the live door into the workshop.

A connection authenticates on connect from the same cookies as the pages (the participant
cookie or the staff session) plus `{workshop: code}` in the auth payload (a presenter screen
sends the presenter key instead). Every event checks the sender's rights again and calls the
same domain function as the pages and the API; the ack is sent after the commit.
See docs/live.md for the protocol.
"""

from __future__ import annotations

import functools
import hmac
import logging
from dataclasses import dataclass

from flask import Flask, abort, current_app, request
from flask_babel import gettext as _
from flask_socketio import ConnectionRefusedError, join_room
from sqlalchemy import bindparam, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..domain import facilitation, moderation, proposals, voting, workshops
from ..domain.access import can_facilitate, require_participant
from ..domain.errors import DomainError
from ..domain.events import subscribe
from ..extensions import db, limiter, socketio
from ..identity import participant_for, staff_user
from ..models import Participant, User, Workshop, WorkshopFacilitator
from ..security import (
    PARTICIPANT_VOTE_SCOPE,
    PARTICIPANT_WRITE_SCOPE,
    SocketResponseHeaders,
    origin_of,
)
from . import presence, rooms, throttle
from .broadcaster import NAMESPACE, TALLY_SHARE, Broadcaster
from .group_commit import GroupCommit
from .queue import RecoveringRedisManager
from .sessions import LIVE_ENDPOINT, SOCKETIO_PATH
from .snapshot import FACILITATOR, PARTICIPANT, PRESENTER, own_state, snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    workshop_id: int
    role: str
    participant_id: int | None = None
    user_id: int | None = None
    # The user's session generation at connect: a logout bumps it, and the connection ends.
    generation: int | None = None


_connections: dict[str, Connection] = {}
broadcaster: Broadcaster | None = None
# This process's socket votes, written together (live/group_commit.py); made in init_live,
# after gevent has patched the threading module.
votes: GroupCommit | None = None


def socket_origins(app: Flask) -> list[str]:
    """The allowlist of Origins (never '*'): the public address, plus configured extras.

    On a laptop (127.0.0.1 or localhost) both spellings of the address are allowed.
    """
    public = origin_of(app.config["PUBLIC_URL"])
    origins = {public}
    origins.update(origin_of(o) for o in app.config.get("ALLOWED_ORIGINS") or ())
    for a, b in (("127.0.0.1", "localhost"), ("localhost", "127.0.0.1")):
        if f"//{a}" in public:
            origins.add(public.replace(f"//{a}", f"//{b}"))
    return sorted(origins)


def init_live(app: Flask) -> None:
    global broadcaster, votes
    # Flask-SocketIO keeps the previous app's message queue manager in its options; an app
    # without REDIS_URL (a test after one with it) must not inherit it.
    socketio.server_options.pop("client_manager", None)
    options = {}
    if app.config.get("REDIS_URL"):
        # python-socketio's Redis queue, plus a resync of this process's screens when Redis
        # comes back after an outage (see live/queue.py).
        options["client_manager"] = RecoveringRedisManager(
            app.config["REDIS_URL"], channel=app.config.get("SOCKETIO_CHANNEL", "samskab"),
            on_recovered=lambda: broadcaster.resync() if broadcaster is not None else None,
            on_control=on_control)
    socketio.init_app(
        app,
        path=SOCKETIO_PATH,
        async_mode=app.config.get("SOCKETIO_ASYNC_MODE", "gevent"),
        message_queue=None,  # never a previous app's queue: the manager above, or none
        **options,
        cors_allowed_origins=socket_origins(app),
        max_http_buffer_size=64 * 1024,
        manage_session=False,
        ping_interval=20,
        ping_timeout=20,
        # One connection's events are handled in the order they were sent: a vote resent
        # after a timeout can never be applied after the newer vote that followed it.
        async_handlers=False,
    )
    _route_socket_path(app)
    # Outside Flask-SocketIO's middleware, which answers the path before Flask does.
    app.wsgi_app = SocketResponseHeaders(app.wsgi_app, SOCKETIO_PATH,
                                         secure=bool(app.config.get("SESSION_COOKIE_SECURE")))
    # Socket votes share their transactions (group commit), on SQLite and PostgreSQL alike.
    votes = GroupCommit(_cast_votes, pause=lambda: socketio.sleep(0))
    presence.configure(app.config.get("REDIS_URL"))
    throttle.configure(app.config.get("LIVE_EVENT_RATE", 5), app.config.get("LIVE_EVENT_BURST", 30),
                       enabled=bool(app.config.get("RATELIMIT_ENABLED", True)))
    if broadcaster is not None:
        from ..domain.events import unsubscribe

        unsubscribe(broadcaster.on_events)
    broadcaster = Broadcaster(app, interval=app.config.get("TALLY_INTERVAL", 0.2),
                              trim_interval=app.config.get("HEAP_TRIM_INTERVAL", 0),
                              tally_share=app.config.get("TALLY_SHARE", TALLY_SHARE))
    subscribe(broadcaster.on_events)
    subscribe(on_access_events)


def _route_socket_path(app: Flask) -> None:
    """Give the Socket.IO path a rule in the app's URL map.

    Flask-SocketIO runs every event in a request context built from the connection's environ,
    and pushing it matches the environ's path against the URL map. With no rule for the
    Socket.IO path that match failed on every event: werkzeug raised two exceptions (NoMatch,
    then NotFound, or WebsocketMismatch for a WebSocket upgrade, kept as the request's
    routing_exception), and their tracebacks held the context's frames in reference cycles:
    40-60 objects per event that only the cycle collector could free. In a voting burst that
    was most of what it found, and its collections (5-17 ms every 0.6 s at 1,000
    participants, 30-106 ms for the older generation) stopped the whole process
    (docs/performance.md, the tenth round). With the rule the match succeeds and the context
    is freed when the event ends; a connection's later events reuse its match
    (sessions.LiveRequestContext).

    engine.io's middleware answers every HTTP request to the path before Flask sees it, so
    the view only answers if the app is ever served without it."""
    for websocket in (False, True):  # werkzeug matches a WebSocket upgrade to its own rules
        app.add_url_rule(f"/{SOCKETIO_PATH}/", endpoint=LIVE_ENDPOINT, view_func=_socket_path,
                         strict_slashes=False, websocket=websocket)


def _socket_path():
    abort(404)


def error_ack(code: str, message: str) -> dict:
    return {"ok": False, "error": {"code": code, "message": message}}


def _refuse(code: str, message: str):
    # Two arguments: the first becomes the refusal's message, the second its data (the
    # browser's err.message and err.data). A single dict would arrive as its repr.
    raise ConnectionRefusedError(message, {"code": code, "message": message})


@socketio.on("connect", namespace=NAMESPACE)
def on_connect(auth=None):
    # engine.io checks the Origin against the allowlist too; this keeps the rule in one place
    # we test, whatever the transport or server in front.
    origin = request.headers.get("Origin")
    if origin and origin.lower().rstrip("/") not in socket_origins(current_app):
        _refuse("forbidden", _("Forbindelser fra et andet websted afvises."))
    if not isinstance(auth, dict) or not isinstance(auth.get("workshop"), str):
        _refuse("unauthenticated", _("Angiv workshoppens kode."))
    try:
        return _admit(auth)
    except SQLAlchemyError:
        # The database is down or every pooled connection is busy (a restarted server, with
        # every screen reconnecting at once). Refused with a reason the client retries on,
        # never left without an answer: that would leave the screen "connecting" for good.
        _forget(request.sid)
        try:
            db.session.rollback()
        except SQLAlchemyError:
            log.debug("rollback after a failed connect failed", exc_info=True)
        log.warning("database unavailable during connect", exc_info=True)
        _refuse("unavailable", _("Databasen er utilgængelig lige nu. Prøv igen om et øjeblik."))


def _admit(auth: dict) -> bool:
    """Check who is connecting, register the connection and send it its snapshot."""
    try:
        workshop = workshops.get_workshop(auth["workshop"])
    except DomainError as error:
        _refuse(error.code, error.message)
    wanted = auth.get("role")
    connection = None
    key = auth.get("presenter")
    if isinstance(key, str) and key and workshop.presenter_key:
        if not hmac.compare_digest(key.encode(), workshop.presenter_key.encode()):
            _refuse("forbidden", _("Ugyldigt link til skærmen."))
        connection = Connection(workshop.id, PRESENTER)
    if connection is None and wanted != PARTICIPANT:
        user = staff_user()
        if user is not None and can_facilitate(user, workshop):
            connection = Connection(workshop.id, FACILITATOR, user_id=user.id,
                                    generation=user.session_generation or 0)
    if connection is None and wanted != FACILITATOR:
        participant = participant_for(workshop)
        if participant is not None:
            try:
                require_participant(participant, workshop)
            except DomainError as error:
                _refuse(error.code, error.message)
            connection = Connection(workshop.id, PARTICIPANT, participant_id=participant.id)
    if connection is None:
        _refuse("unauthenticated", _("Deltag i workshoppen eller log ind først."))
    sid = request.sid
    _connections[sid] = connection
    join_room(rooms.everyone(workshop.id))
    join_room(rooms.role(workshop.id, connection.role))
    if connection.participant_id is not None:
        join_room(rooms.participant(connection.participant_id))
    if connection.user_id is not None:
        join_room(rooms.user(connection.user_id))
    presence.add(workshop.id, sid, connection.role, connection.participant_id)
    broadcaster.mark_presence(workshop.id)
    # The snapshot is read after joining the rooms: a change committed (and broadcast) between
    # the check above and the joins is then in the snapshot, and one committed after the joins
    # reaches this socket as an event. Ending the read transaction makes the re-read see it.
    db.session.rollback()
    data = _snapshot_for(workshop, connection)
    db.session.close()  # give the connection back before sending (a send may yield)
    socketio.emit("snapshot", data, to=sid, namespace=NAMESPACE)
    return True


@socketio.on("disconnect", namespace=NAMESPACE)
def on_disconnect(*_args):
    _forget(request.sid)


def _forget(sid: str) -> None:
    """Drop what this process holds for a connection (its rooms are python-socketio's)."""
    connection = _connections.pop(sid, None)
    throttle.throttle.forget(sid)
    if connection is not None:
        presence.remove(connection.workshop_id, sid)
        if broadcaster is not None:
            broadcaster.mark_presence(connection.workshop_id)


def _snapshot_for(workshop: Workshop, connection: Connection) -> dict:
    participant = (db.session.get(Participant, connection.participant_id)
                   if connection.participant_id else None)
    return snapshot(workshop, connection.role, participant=participant,
                    presence=presence.presence_for(workshop.id))


class _Context:
    """What an event handler needs, re-read from the database for every event (another process
    may have moved the phase, removed the participant or ended the session) in one query: the
    workshop with the participant, or with the user and their facilitator row."""

    # Built once, with bound parameters: an event costs no expression building.
    _PRESENTER = select(Workshop).where(Workshop.id == bindparam("workshop"))
    _PARTICIPANT = (
        select(Workshop, Participant)
        .outerjoin(Participant, Participant.id == bindparam("participant"))
        .where(Workshop.id == bindparam("workshop"))
    )
    _STAFF = (
        select(Workshop, User, WorkshopFacilitator)
        .select_from(Workshop)
        .outerjoin(User, User.id == bindparam("user"))
        .outerjoin(WorkshopFacilitator, (WorkshopFacilitator.workshop_id == Workshop.id)
                   & (WorkshopFacilitator.user_id == bindparam("user")))
        .where(Workshop.id == bindparam("workshop"))
    )

    def __init__(self, connection: Connection):
        self.connection = connection
        self.participant: Participant | None = None
        self.user: User | None = None
        # Held so that it stays in the session's identity map: can_facilitate finds it there.
        self._facilitates: WorkshopFacilitator | None = None
        query = self._PRESENTER
        if connection.participant_id is not None:
            query = self._PARTICIPANT
        elif connection.user_id is not None:
            query = self._STAFF
        row = db.session.execute(query, {
            "workshop": connection.workshop_id, "participant": connection.participant_id,
            "user": connection.user_id}).first()
        if row is None:
            raise DomainError("not_found")
        self.workshop = row[0]
        if connection.participant_id is not None:
            self.participant = row[1]
        elif connection.user_id is not None:
            self.user, self._facilitates = row[1], row[2]
        if connection.user_id is not None and not _still_signed_in(self.user, connection):
            raise SessionEnded()
        if connection.participant_id is not None and (
                self.participant is None or self.participant.anonymised_at is not None):
            raise SessionEnded()

    def require_participant(self) -> Participant:
        if self.connection.role != PARTICIPANT:
            raise DomainError("forbidden", _("Kun deltagere kan gøre dette."))
        return require_participant(self.participant, self.workshop)

    def require_facilitator(self) -> User:
        if self.connection.role != FACILITATOR or self.user is None or not self.user.active \
                or not can_facilitate(self.user, self.workshop):
            raise DomainError("forbidden", _("Kun facilitatorer kan gøre dette."))
        return self.user


class SessionEnded(Exception):
    """The person behind a connection logged out (or deleted their data) since connecting."""


def _still_signed_in(user: User | None, connection: Connection) -> bool:
    return (user is not None and user.active
            and (user.session_generation or 0) == connection.generation)


def _close(sid: str, reason: str) -> None:
    """Tell one connection why, then end it (its events are refused from now on anyway)."""
    _connections.pop(sid, None)
    socketio.emit("session_ended", {"reason": reason}, to=sid, namespace=NAMESPACE)
    try:
        socketio.server.disconnect(sid, namespace=NAMESPACE)
    except Exception:  # noqa: BLE001 - already gone
        log.debug("disconnect of %s failed", sid, exc_info=True)


def close_connections(*, user_id: int | None = None, participant_id: int | None = None,
                      workshop_id: int | None = None, reason: str) -> int:
    """End the connections of a user, a participant or a whole workshop, in every process.

    This process closes its own; with a message queue, the others are asked to close theirs
    (and, whatever happens to that message, refuse their next event: the generation or the
    participant no longer matches).
    """
    manager = getattr(socketio.server, "manager", None) if socketio.server else None
    if isinstance(manager, RecoveringRedisManager):
        manager.publish_control({"close": {"user_id": user_id, "participant_id": participant_id,
                                           "workshop_id": workshop_id, "reason": reason}})
    return _close_local(user_id=user_id, participant_id=participant_id,
                        workshop_id=workshop_id, reason=reason)


def on_control(data: dict) -> None:
    """A control message from another process (see live/queue.py)."""
    close = data.get("close")
    if isinstance(close, dict) and isinstance(close.get("reason"), str):
        ids = {key: close.get(key) for key in ("user_id", "participant_id", "workshop_id")}
        if all(v is None or (isinstance(v, int) and not isinstance(v, bool))
               for v in ids.values()) and any(v is not None for v in ids.values()):
            _close_local(**ids, reason=close["reason"])


def _close_local(*, user_id: int | None, participant_id: int | None, workshop_id: int | None,
                 reason: str) -> int:
    """Close this process's matching connections, each told why first."""
    doomed = [sid for sid, c in list(_connections.items())
              if (user_id is not None and c.user_id == user_id)
              or (participant_id is not None and c.participant_id == participant_id)
              or (workshop_id is not None and c.workshop_id == workshop_id)]
    for sid in doomed:
        _close(sid, reason)
    return len(doomed)


def on_access_events(events) -> None:
    """After a commit: a logout, a participant's deleted data or a deleted workshop end sockets."""
    for event in events:
        try:
            if event.kind == "session_ended":
                close_connections(user_id=event.data["user_id"], reason="logged_out")
            elif event.kind == "participant" and event.data.get("change") == "forgotten":
                close_connections(participant_id=event.data["id"], reason="data_deleted")
            elif event.kind == "workshop_deleted":
                close_connections(workshop_id=event.workshop_id, reason="workshop_deleted")
        except Exception:  # a failed disconnect must never undo or fail a committed action
            log.exception("closing connections after %s failed", event.kind)


def live_event(name: str, limit: tuple[str, str] | None = None, fast=None):
    """Register a client event: checks the connection and payload, turns errors into acks.

    `fast(connection, payload)`: a way through for the plain case without the `_Context` read
    (the hot path of a burst); it returns the ack's fields, or None to take the handler.

    `limit` (scope, setting): a participant's write allowance this event counts against. It is
    counted before the event touches the database: the rate-limit store may yield to other
    greenlets, and a handler must never hold a pooled connection across a yield (with
    thousands of sockets the pool ran dry that way)."""

    def decorator(fn):
        def handler(payload=None, *_extra):
            if not throttle.throttle.allow(request.sid):
                return error_ack("rate_limited",
                                 _("For mange beskeder på kort tid. Vent lidt og prøv igen."))
            connection = _connections.get(request.sid)
            if connection is None:
                return error_ack("unauthenticated", _("Forbindelsen er ikke godkendt."))
            if payload is None:
                payload = {}
            if not isinstance(payload, dict):
                return error_ack("invalid", _("Beskeden skal være et JSON-objekt."))
            try:
                if limit is not None and connection.participant_id is not None:
                    _count_write(connection.participant_id, *limit)
                result = fast(connection, payload) if fast is not None else None
                if result is None:
                    result = fn(_Context(connection), payload)
            except SessionEnded:
                db.session.rollback()
                _close(request.sid, "session_ended")
                return error_ack("unauthenticated",
                                 _("Forbindelsen er lukket. Genindlæs siden og log ind igen."))
            except DomainError as error:
                db.session.rollback()
                return error_ack(error.code, error.message)
            except (OperationalError, PoolTimeout):  # down, or every connection busy
                db.session.rollback()
                log.warning("database unavailable during %s", name)
                return error_ack("unavailable",
                                 _("Databasen er utilgængelig lige nu. Prøv igen om et øjeblik."))
            except SQLAlchemyError:
                db.session.rollback()
                log.exception("database error during %s", name)
                return error_ack("conflict", _("Handlingen kunne ikke gennemføres. Prøv igen."))
            return {"ok": True, **(result or {})}

        handler.__name__ = f"live_{name}"
        socketio.on_event(name, handler, namespace=NAMESPACE)
        return fn

    return decorator


@functools.lru_cache(maxsize=32)
def _parsed_limit(text: str):
    """A rate such as "120 per minute", parsed once (it was a tenth of a vote's CPU)."""
    from limits import parse

    return parse(text)


def _count_write(participant_id: int, scope: str, setting: str) -> None:
    """Count a write against the participant's allowance, shared with the pages and the API."""
    if not limiter.enabled or not limiter.initialized:
        return
    item = _parsed_limit(current_app.config[setting])
    args = [f"p:{participant_id}", scope]
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX")
    if prefix:
        args = [prefix, *args]
    try:
        allowed = limiter.limiter.hit(item, *args)
    except Exception:  # noqa: BLE001 - the limit store is unreachable: let the write through
        log.warning("rate-limit store unavailable", exc_info=True)
        return
    if not allowed:
        raise DomainError("rate_limited")


# --- Everyone ---------------------------------------------------------------------------------


@live_event("sync")
def sync(ctx: _Context, payload: dict):
    """Ask for a fresh snapshot (the client's repair path)."""
    return {"snapshot": _snapshot_for(ctx.workshop, ctx.connection)}


# --- Participants -----------------------------------------------------------------------------


@live_event("propose", limit=(PARTICIPANT_WRITE_SCOPE, "RATELIMIT_PARTICIPANT_WRITE"))
def propose(ctx: _Context, payload: dict):
    from ..api.serialize import proposal_json

    participant = ctx.require_participant()
    proposal, created = proposals.submit_proposal(
        ctx.workshop, participant, payload.get("title"), payload.get("body"),
        payload.get("element_id"), payload.get("client_id"))
    return {"created": created,
            "proposal": proposal_json(proposal, ctx.workshop, viewer=participant)}


@live_event("comment", limit=(PARTICIPANT_WRITE_SCOPE, "RATELIMIT_PARTICIPANT_WRITE"))
def comment(ctx: _Context, payload: dict):
    from ..api.serialize import comment_json

    participant = ctx.require_participant()
    made, created = proposals.add_comment(
        ctx.workshop, payload.get("proposal_id"), payload.get("body"),
        participant=participant, client_id=payload.get("client_id"))
    return {"created": created, "comment": comment_json(made, ctx.workshop)}


def _vote_ack(result: voting.VoteResult) -> dict:
    return {"proposal_id": result.proposal_id, "dots": result.dots,
            "remaining": result.remaining, "applied": result.applied, "mark": result.mark}


def _cast_votes(batch: list[voting.PlainVote]) -> list[voting.VoteOutcome]:
    return voting.cast_votes(batch)  # looked up at every batch: tests replace it


def _plain_vote(connection: Connection, payload: dict) -> dict | None:
    """A participant's vote straight from the connection's ids (voting.cast_votes, with the
    other connections' votes of the moment, through `votes`); None for anything but the plain
    case, which `vote` then checks and refuses in order."""
    if connection.role != PARTICIPANT or connection.participant_id is None \
            or "dots" not in payload:
        return None
    vote = voting.PlainVote(connection.workshop_id, connection.participant_id,
                            payload.get("proposal_id"), payload.get("dots"), payload.get("seq"))
    outcome = votes.submit(vote)
    if isinstance(outcome, voting.VoteRefused):
        raise outcome.error()  # in this connection's request: the voter's language
    return None if outcome is None else _vote_ack(outcome)


@live_event("vote", limit=(PARTICIPANT_VOTE_SCOPE, "RATELIMIT_PARTICIPANT_VOTE"),
            fast=_plain_vote)
def vote(ctx: _Context, payload: dict):
    participant = ctx.require_participant()
    if "dots" not in payload:
        raise DomainError("invalid", _("Angiv antal prikker (dots)."), "dots")
    return _vote_ack(voting.set_dots(ctx.workshop, participant, payload.get("proposal_id"),
                                     payload.get("dots"), payload.get("seq")))


@live_event("own")
def own(ctx: _Context, payload: dict):
    """This participant's allocations and remaining dots (after a merge or a hide)."""
    participant = ctx.require_participant()
    return own_state(ctx.workshop, participant)


# --- Facilitators -----------------------------------------------------------------------------


@live_event("set_phase")
def set_phase(ctx: _Context, payload: dict):
    user = ctx.require_facilitator()
    workshops.set_phase(ctx.workshop, user, payload.get("phase"))
    return {"phase": ctx.workshop.phase}


@live_event("moderate")
def moderate(ctx: _Context, payload: dict):
    from ..api.serialize import proposal_json

    user = ctx.require_facilitator()
    target = moderation.moderate(
        ctx.workshop, user, payload.get("proposal_id"), payload.get("action"),
        reason=payload.get("reason"), into=payload.get("into"), title=payload.get("title"),
        body=payload.get("body"), element_id=payload.get("element_id"))
    return {"proposal": proposal_json(target, ctx.workshop, staff=True)}


@live_event("timer")
def timer(ctx: _Context, payload: dict):
    user = ctx.require_facilitator()
    state = facilitation.control_timer(ctx.workshop, user, payload.get("action"),
                                       payload.get("seconds"))
    return {"timer": state.as_dict()}


@live_event("spotlight")
def spotlight(ctx: _Context, payload: dict):
    user = ctx.require_facilitator()
    return {"proposal_id": facilitation.set_spotlight(ctx.workshop, user,
                                                      payload.get("proposal_id"))}


@live_event("reveal")
def reveal(ctx: _Context, payload: dict):
    user = ctx.require_facilitator()
    return {"revealed": facilitation.set_revealed(ctx.workshop, user, payload.get("revealed"))}


@live_event("lock")
def lock(ctx: _Context, payload: dict):
    user = ctx.require_facilitator()
    return {"join_locked": facilitation.set_join_locked(ctx.workshop, user,
                                                         payload.get("locked"))}


@live_event("remove_participant")
def remove_participant(ctx: _Context, payload: dict):
    user = ctx.require_facilitator()
    participant = facilitation.remove_participant(
        ctx.workshop, user, payload.get("participant_id"),
        void_votes=payload.get("void_votes", False), reason=payload.get("reason") or "")
    return {"participant_id": participant.id}
