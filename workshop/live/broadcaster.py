"""Broadcast after commit: turns domain events into Socket.IO messages for the right rooms.

Tallies and presence are coalesced: a change only marks its workshop dirty, and one background
task per process sends at most a few updates per second per workshop, each computed from the
database after the changes that triggered it (so the last one sent is never stale).

A tally runs on the event loop (the whole process waits for it). It reads the sums the
database keeps as votes are written (workshop/sums.py), one row per proposal under dots and
approval, so its cost follows the proposals and organisations, not the votes (bench/tally.py;
before the sums it summed every vote: 25 ms at 1,000 participants, 47 ms at 2,000 and 118 ms
at 5,000 on a slow 2-core machine). The pause between flushes still stretches with what the
last flush's tallies cost (CPU time, not wall time), so that tallies take at most
`TALLY_SHARE` of the process's time, and never beyond `TALLY_MAX_PAUSE` (one second).
(Computing them in a thread instead was measured and is worse: docs/performance.md, "The live
tally".)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask

from ..domain.events import Event
from ..extensions import db, socketio
from ..heap import HeapTrimmer
from ..models import Comment, Proposal, ProposalStatus, Workshop
from . import rooms
from .presence import presence_for
from .presence import publish as publish_presence
from .snapshot import (
    FACILITATOR,
    PARTICIPANT,
    PRESENTER,
    joined_count,
    tally,
    tally_visible,
    workshop_header,
)

log = logging.getLogger(__name__)
NAMESPACE = "/live"
PRESENCE_INTERVAL_S = 1.0
RESYNC_SPREAD_MS = 3000
TALLY_SHARE = 0.15
# The longest pause between two flushes, however costly the tallies: screens are never more
# than this (and a tally) behind the votes.
TALLY_MAX_PAUSE = 1.0


def local_workshops() -> set[int]:
    """The workshops with at least one screen connected to this process."""
    server = socketio.server
    if server is None:
        return set()
    found = set()
    for room, sids in list(server.manager.rooms.get(NAMESPACE, {}).items()):
        if room and room.startswith("w:") and room.count(":") == 1 and sids:
            try:
                found.add(int(room[2:]))
            except ValueError:
                continue
    return found


class Broadcaster:
    def __init__(self, app: Flask, interval: float = 0.2, trim_interval: float = 0,
                 tally_share: float = TALLY_SHARE, max_pause: float = TALLY_MAX_PAUSE,
                 clock: Callable[[], float] = time.thread_time):
        self.app = app
        # Times the tallies in CPU seconds of the process's thread, where every greenlet runs:
        # not wall time, which with PostgreSQL holds the waits for the database, while other
        # greenlets use the process (on a busy PostgreSQL it stretched the pause to seconds:
        # six tallies in a 20 s burst). A parameter, so that tests move time.
        self.clock = clock
        self.interval = interval
        self.tally_share = tally_share
        self.max_pause = max(interval, max_pause)
        self.tally_cost = 0.0  # seconds the last flush spent computing tallies
        self.trimmer = HeapTrimmer(trim_interval)
        self._dirty_tally: set[int] = set()
        self._dirty_presence: set[int] = set()
        self._presence_sent: dict[int, float] = {}
        self._lock = threading.Lock()
        self._task = None

    # --- entry points ---------------------------------------------------------------------------

    def on_events(self, events: list[Event]) -> None:
        """Called by the unit of work after a successful commit."""
        for event in events:
            try:
                self._dispatch(event)
            except Exception:  # a broadcast failure must never undo or fail a committed action
                log.exception("broadcast of %s failed", event.kind)

    def mark_tally(self, workshop_id: int) -> None:
        with self._lock:
            self._dirty_tally.add(workshop_id)
        self._ensure_task()

    def mark_presence(self, workshop_id: int) -> None:
        with self._lock:
            self._dirty_presence.add(workshop_id)
        self._ensure_task()

    def resync(self) -> None:
        """Bring every screen connected to this process back to the server's state.

        Called when the message queue is back after an outage, during which broadcasts from
        other processes (and, for their screens, from this one) were lost. Each workshop with a
        screen here gets a fresh tally and presence; each screen is told to ask for a fresh
        snapshot, spread over a few seconds so that thousands of them do not ask at once. Both
        go to this process's own connections only: every process resyncs its own."""
        local = local_workshops()
        with self._lock:
            self._dirty_tally.update(local)
            self._dirty_presence.update(local)
            for wid in local:
                self._presence_sent.pop(wid, None)
        if local:
            self._ensure_task()
            socketio.emit("resync", {"spread_ms": RESYNC_SPREAD_MS}, namespace=NAMESPACE,
                          ignore_queue=True)
        log.warning("resync after a message-queue outage: %d workshop(s) here", len(local))

    # --- immediate events -----------------------------------------------------------------------

    def _emit(self, name: str, data, room: str) -> None:
        socketio.emit(name, data, to=room, namespace=NAMESPACE)

    def _dispatch(self, event: Event) -> None:
        wid = event.workshop_id
        kind = event.kind
        if kind == "tally":
            self.mark_tally(wid)
            return
        if kind == "participant":
            self.mark_presence(wid)
            if event.data.get("change") == "removed":
                self._emit("removed", {"reason": "removed"}, rooms.participant(event.data["id"]))
                socketio.close_room(rooms.participant(event.data["id"]), namespace=NAMESPACE)
            return
        workshop = db.session.get(Workshop, wid)
        if workshop is None:
            return
        if kind == "phase":
            self._emit("phase", {**event.data, "workshop": workshop_header(workshop)},
                       rooms.everyone(wid))
            self.mark_tally(wid)  # the tally may become visible (results) or not
        elif kind in ("workshop", "elements"):
            self._emit("workshop", {
                "workshop": workshop_header(workshop),
                "elements": [{"id": e.id, "title": e.title, "description": e.description,
                              "position": e.position} for e in workshop.elements],
            }, rooms.everyone(wid))
        elif kind == "reveal":
            self._emit("phase", {"phase": workshop.phase, "workshop": workshop_header(workshop)},
                       rooms.everyone(wid))
            if event.data.get("revealed"):
                self.mark_tally(wid)
            else:
                for role in (PARTICIPANT, PRESENTER):
                    if not tally_visible(workshop, role):
                        self._emit("tally", None, rooms.role(wid, role))
        elif kind == "timer":
            self._emit("timer", event.data, rooms.everyone(wid))
        elif kind == "spotlight":
            self._emit("spotlight", self._spotlight(workshop), rooms.everyone(wid))
        elif kind == "proposal":
            self._proposal(workshop, event)
        elif kind == "comment":
            self._comment(workshop, event)

    def _spotlight(self, workshop: Workshop) -> dict:
        from ..api.serialize import proposal_json

        proposal = (db.session.get(Proposal, workshop.spotlight_proposal_id)
                    if workshop.spotlight_proposal_id else None)
        return {"proposal_id": workshop.spotlight_proposal_id,
                "proposal": proposal_json(proposal, workshop) if proposal else None}

    def _proposal(self, workshop: Workshop, event: Event) -> None:
        from ..api.serialize import proposal_json

        proposal = db.session.get(Proposal, event.data["id"])
        if proposal is None:
            return
        wid = workshop.id
        change = event.data.get("change")
        merged_from = list(db.session.scalars(
            db.select(Proposal).where(Proposal.merged_into_id == proposal.id)))
        staff_view = proposal_json(proposal, workshop, staff=True, merged_from=merged_from)
        self._emit("proposal", {"change": change, "proposal": staff_view},
                   rooms.role(wid, FACILITATOR))
        public = proposal.status == ProposalStatus.VISIBLE.value
        public_view = proposal_json(proposal, workshop, merged_from=merged_from)
        message = {"change": change, "proposal": public_view if public else None,
                   "id": proposal.id, "status": proposal.status,
                   "merged_into": proposal.merged_into_id}
        if public or change in ("hidden", "merged", "withdrawn"):
            for role in (PARTICIPANT, PRESENTER):
                self._emit("proposal", message, rooms.role(wid, role))
        if proposal.author_id is not None and not public:
            # The author sees their own pending or hidden proposal, with its status.
            own = proposal_json(proposal, workshop, viewer=proposal.author)
            self._emit("proposal", {"change": change, "proposal": own, "id": proposal.id,
                                    "status": proposal.status},
                       rooms.participant(proposal.author_id))
        if change == "merged" and proposal.merged_into_id:
            target = db.session.get(Proposal, proposal.merged_into_id)
            if target is not None:
                self._proposal(workshop, Event(wid, "proposal",
                                               {"change": "edited", "id": target.id}))
        if change in ("merged", "hidden"):
            self._emit("own_stale", {}, rooms.role(wid, PARTICIPANT))

    def _comment(self, workshop: Workshop, event: Event) -> None:
        from ..api.serialize import comment_json

        comment = db.session.get(Comment, event.data["id"])
        proposal = db.session.get(Proposal, event.data["proposal_id"])
        if comment is None or proposal is None:
            return
        data = comment_json(comment, workshop)
        if proposal.status == ProposalStatus.VISIBLE.value:
            self._emit("comment", data, rooms.role(workshop.id, PARTICIPANT))
        elif proposal.author_id is not None:
            self._emit("comment", data, rooms.participant(proposal.author_id))
        self._emit("comment", data, rooms.role(workshop.id, FACILITATOR))

    # --- coalesced events -----------------------------------------------------------------------

    def _ensure_task(self) -> None:
        if self._task is None:
            with self._lock:
                if self._task is None:
                    self._task = socketio.start_background_task(self._run)

    def pause(self) -> float:
        """Seconds to wait before the next flush: the interval, or longer when the last
        flush's tallies cost so much that they would take more than `tally_share` of the
        process's time (a flush and the pause after it: cost / (cost + pause) <= share), but
        never longer than `max_pause`."""
        if self.tally_share <= 0 or self.tally_cost <= 0:
            return self.interval
        return min(self.max_pause,
                   max(self.interval, self.tally_cost * (1 / self.tally_share - 1)))

    def _run(self) -> None:
        while True:
            socketio.sleep(self.pause())
            try:
                self.flush()
            except Exception:
                log.exception("coalesced broadcast failed")
            self.trimmer.maybe_trim()

    def flush(self) -> None:
        """Send one tally and one presence update per dirty workshop."""
        now = time.monotonic()
        with self._lock:
            tallies, self._dirty_tally = self._dirty_tally, set()
            # Presence changes all the time while people arrive: at most one update a second.
            presences = {w for w in self._dirty_presence
                         if now - self._presence_sent.get(w, 0.0) >= PRESENCE_INTERVAL_S}
            self._dirty_presence -= presences
            for wid in presences:
                self._presence_sent[wid] = now
        if not tallies and not presences:
            return
        # Everything is read first, in a database session of its own that is closed before
        # anything is sent: sending to thousands of sockets yields to other greenlets, and a
        # pooled connection must not be held across that.
        outbox: list[tuple[str, object, str]] = []
        for wid in presences:
            publish_presence(wid)  # this process's counts, before reading everyone's
        online = {wid: presence_for(wid) for wid in presences}  # Redis: before the database
        with self.app.app_context():
            # CPU time of the thread: on SQLite what the other greenlets waited; with
            # PostgreSQL also what they did while the tally waited for the database (it errs
            # long on a busy process, hence max_pause).
            started = self.clock()
            for wid in tallies:
                workshop = db.session.get(Workshop, wid)
                if workshop is None:
                    continue
                data = tally(workshop)
                for role in (FACILITATOR, PRESENTER, PARTICIPANT):
                    if tally_visible(workshop, role):
                        outbox.append(("tally", data, rooms.role(wid, role)))
            if tallies:
                self.tally_cost = self.clock() - started
            for wid in presences:
                # Only the screens that show it: a participant's phone does not.
                data = {**online[wid], "joined": joined_count(wid)}
                for role in (FACILITATOR, PRESENTER):
                    outbox.append(("presence", data, rooms.role(wid, role)))
        for name, data, room in outbox:
            self._emit(name, data, room)
