"""The bare baseline: Flask-SocketIO doing the benchmark's work without the workshop app.

Served exactly like the app (gunicorn, gevent worker, one worker per process):

    gunicorn --worker-class gevent --workers 1 --worker-connections 10000 \
        --pythonpath bench bare_server:app

It speaks the subset of the app's API and live protocol that the load generator uses, with the
same rooms and the same coalescing, but keeps its state in memory (or in Redis when REDIS_URL is
set, so several processes share it) instead of a database:

- `POST /api/v1/auth/login` sets a staff cookie; `POST /api/v1/workshops` answers a code;
  `POST /api/v1/workshops/<code>/participants` sets the participant cookie `samskab_p_<CODE>`;
  `POST /api/v1/workshops/<code>/phase` broadcasts `phase` to everyone.
- Socket.IO namespace `/live`: connect (participant cookie, staff cookie + role, or presenter
  key) answers a small snapshot; `propose` acks and broadcasts `proposal` (as the app does, to
  facilitators, participants and the presenter); `vote` applies the same budget rule (at most
  `max_dots_per_proposal` on one proposal, `dots_per_participant` in all), marks the tally dirty
  and acks; `reveal` makes the tally visible to everyone.
- One background task per process sends, at most five times a second, one tally per dirty
  workshop to the rooms that may see it (facilitators; presenter and participants once revealed
  or from `results` on) and one presence update to everyone.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

from flask import Flask, jsonify, request
from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room

NS = "/live"
CODE = "BARE42"
PRESENTER_KEY = os.environ.get("BARE_PRESENTER_KEY", "bare-presenter-key")
DOTS, MAX_PER_PROPOSAL = 5, 3
PHASES = ["lobby", "ideation", "review", "voting", "results", "closed"]
REDIS_URL = os.environ.get("REDIS_URL") or None
CHANNEL = os.environ.get("SOCKETIO_CHANNEL", "samskab-bare")
INTERVAL = 0.2

app = Flask(__name__)
socketio = SocketIO(app, async_mode="gevent", message_queue=REDIS_URL, channel=CHANNEL,
                    cors_allowed_origins=[os.environ.get("PUBLIC_URL", "http://127.0.0.1")],
                    max_http_buffer_size=64 * 1024, manage_session=False,
                    ping_interval=20, ping_timeout=20)


class MemoryStore:
    """The workshop's state in this process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.phase, self.revealed, self.version = "lobby", False, 1
        self.proposals: dict[int, str] = {}
        self.alloc: dict[str, dict[int, int]] = {}
        self.dots: dict[int, int] = {}
        self.supporters: dict[int, int] = {}
        self.next_id = 0

    def get_state(self):
        return self.phase, self.revealed, self.version

    def set_phase(self, phase):
        previous, self.phase = self.phase, phase
        self.version += 1
        return previous

    def set_revealed(self, revealed):
        self.revealed = revealed
        self.version += 1

    def add_proposal(self, title):
        with self.lock:
            self.next_id += 1
            self.proposals[self.next_id] = title
            return self.next_id

    def has_proposal(self, pid):
        return pid in self.proposals

    def proposal_list(self):
        return [{"id": k, "title": v} for k, v in sorted(self.proposals.items())]

    def allocations(self, token):
        return dict(self.alloc.get(token, {}))

    def set_dots(self, token, pid, dots, before):
        mine = self.alloc.setdefault(token, {})
        if dots:
            mine[pid] = dots
        else:
            mine.pop(pid, None)
        self.dots[pid] = self.dots.get(pid, 0) + dots - before
        if before == 0 and dots > 0:
            self.supporters[pid] = self.supporters.get(pid, 0) + 1
        elif before > 0 and dots == 0:
            self.supporters[pid] -= 1

    def tally_inputs(self):
        voters = sum(1 for a in self.alloc.values() if a)
        return dict(self.dots), dict(self.supporters), voters


class RedisStore(MemoryStore):
    """The same state in Redis, shared by every process of a scale-out run."""

    def __init__(self, url):
        import redis

        super().__init__()
        self.r = redis.Redis.from_url(url, decode_responses=True)
        self.k = f"bare:{CHANNEL}:"

    def get_state(self):
        phase, revealed, version = self.r.mget(self.k + "phase", self.k + "revealed",
                                               self.k + "version")
        return phase or "lobby", revealed == "1", int(version or 1)

    def set_phase(self, phase):
        previous = self.r.getset(self.k + "phase", phase) or "lobby"
        self.r.incr(self.k + "version")
        return previous

    def set_revealed(self, revealed):
        self.r.set(self.k + "revealed", "1" if revealed else "0")
        self.r.incr(self.k + "version")

    def add_proposal(self, title):
        pid = self.r.incr(self.k + "next_id")
        self.r.hset(self.k + "proposals", pid, title)
        return pid

    def has_proposal(self, pid):
        return bool(self.r.hexists(self.k + "proposals", pid))

    def proposal_list(self):
        return [{"id": int(k), "title": v}
                for k, v in sorted(self.r.hgetall(self.k + "proposals").items(),
                                   key=lambda kv: int(kv[0]))]

    def allocations(self, token):
        return {int(k): int(v) for k, v in self.r.hgetall(self.k + "alloc:" + token).items()}

    def set_dots(self, token, pid, dots, before):
        pipe = self.r.pipeline()
        if dots:
            pipe.hset(self.k + "alloc:" + token, pid, dots)
        else:
            pipe.hdel(self.k + "alloc:" + token, pid)
        pipe.hincrby(self.k + "dots", pid, dots - before)
        if before == 0 and dots > 0:
            pipe.hincrby(self.k + "supporters", pid, 1)
            pipe.sadd(self.k + "voters", token)
        elif before > 0 and dots == 0:
            pipe.hincrby(self.k + "supporters", pid, -1)
        pipe.execute()

    def tally_inputs(self):
        pipe = self.r.pipeline()
        pipe.hgetall(self.k + "dots")
        pipe.hgetall(self.k + "supporters")
        pipe.scard(self.k + "voters")
        dots, supporters, voters = pipe.execute()
        return ({int(k): int(v) for k, v in dots.items()},
                {int(k): int(v) for k, v in supporters.items()}, voters)


store = RedisStore(REDIS_URL) if REDIS_URL else MemoryStore()
connections: dict[str, tuple[str, str | None]] = {}  # sid -> (role, participant token)
dirty = {"tally": False, "presence": False}
_task = None
_task_lock = threading.Lock()


def header() -> dict:
    phase, revealed, version = store.get_state()
    return {"code": CODE, "title": "Bare", "phase": phase, "results_revealed": revealed,
            "version": version, "settings": {"dots_per_participant": DOTS,
                                             "max_dots_per_proposal": MAX_PER_PROPOSAL}}


def tally_visible(role: str) -> bool:
    phase, revealed, _ = store.get_state()
    return role == "facilitator" or revealed or PHASES.index(phase) >= PHASES.index("results")


def tally() -> dict:
    seq = time.time_ns() // 1000
    dots, supporters, voters = store.tally_inputs()
    ordered = sorted(dots.items(), key=lambda kv: (-kv[1], kv[0]))
    rows = [{"id": pid, "rank": i + 1, "dots": d, "supporters": supporters.get(pid, 0),
             "org_score": 0.0} for i, (pid, d) in enumerate(ordered)]
    return {"seq": seq, "rows": rows, "voters": voters, "dots": sum(dots.values())}


def presence() -> dict:
    roles = [role for role, _ in connections.values()]
    return {"online": roles.count("participant"), "facilitators": roles.count("facilitator"),
            "presenters": roles.count("presenter")}


def mark(what: str) -> None:
    global _task
    dirty[what] = True
    if _task is None:
        with _task_lock:
            if _task is None:
                _task = socketio.start_background_task(_flush_forever)


def _flush_forever() -> None:
    while True:
        socketio.sleep(INTERVAL)
        try:
            if dirty["tally"]:
                dirty["tally"] = False
                data = tally()
                for role in ("facilitator", "presenter", "participant"):
                    if tally_visible(role):
                        socketio.emit("tally", data, to=f"w:{role}", namespace=NS)
            if dirty["presence"]:
                dirty["presence"] = False
                socketio.emit("presence", presence(), to="w", namespace=NS)
        except Exception:  # keep broadcasting whatever one flush did
            app.logger.exception("flush failed")


# --- HTTP -------------------------------------------------------------------------------------


@app.get("/api/v1/openapi.json")
def openapi():
    return jsonify({"openapi": "3.1.0", "info": {"title": "bare baseline"}})


@app.post("/api/v1/auth/login")
def login():
    response = jsonify({"user": {"email": (request.get_json(silent=True) or {}).get("email")}})
    response.set_cookie("session", "staff-" + uuid.uuid4().hex, httponly=True, samesite="Lax")
    return response


@app.post("/api/v1/workshops")
def create_workshop():
    return jsonify({"code": CODE, "title": "Bare", "phase": "lobby"}), 201


@app.post("/api/v1/workshops/<code>/participants")
def join(code):
    data = request.get_json(silent=True) or {}
    token = uuid.uuid4().hex
    response = jsonify({"participant": {"display_name": data.get("display_name")}})
    response.status_code = 201
    response.set_cookie(f"samskab_p_{CODE}", token, httponly=True, samesite="Lax")
    return response


@app.post("/api/v1/workshops/<code>/phase")
def set_phase(code):
    if not request.cookies.get("session", "").startswith("staff-"):
        return jsonify({"error": {"code": "forbidden"}}), 403
    phase = (request.get_json(silent=True) or {}).get("phase")
    if phase not in PHASES:
        return jsonify({"error": {"code": "invalid"}}), 400
    previous = store.set_phase(phase)
    socketio.emit("phase", {"phase": phase, "previous": previous, "workshop": header()},
                  to="w", namespace=NS)
    mark("tally")
    return jsonify(header())


# --- Socket.IO --------------------------------------------------------------------------------


def _snapshot(role: str, token: str | None) -> dict:
    data = {"role": role, "workshop": header(),
            "elements": [{"id": 1, "title": "Element", "description": "", "position": 0}],
            "proposals": store.proposal_list(), "comments": [],
            "timer": {"state": "idle"}, "presence": presence(),
            "tally": tally() if tally_visible(role) else None}
    if token is not None:
        mine = store.allocations(token)
        data["you"] = {"id": token, "allocations": {str(k): v for k, v in mine.items()},
                       "remaining": DOTS - sum(mine.values())}
    return data


@socketio.on("connect", namespace=NS)
def on_connect(auth=None):
    if not isinstance(auth, dict) or auth.get("workshop") != CODE:
        raise ConnectionRefusedError({"code": "not_found", "message": "no such workshop"})
    token = None
    if auth.get("presenter"):
        if auth["presenter"] != PRESENTER_KEY:
            raise ConnectionRefusedError({"code": "forbidden", "message": "bad key"})
        role = "presenter"
    elif auth.get("role") != "participant" and \
            request.cookies.get("session", "").startswith("staff-"):
        role = "facilitator"
    elif request.cookies.get(f"samskab_p_{CODE}"):
        role, token = "participant", request.cookies[f"samskab_p_{CODE}"]
    else:
        raise ConnectionRefusedError({"code": "unauthenticated", "message": "join first"})
    connections[request.sid] = (role, token)
    join_room("w")
    join_room(f"w:{role}")
    mark("presence")
    emit("snapshot", _snapshot(role, token))


@socketio.on("disconnect", namespace=NS)
def on_disconnect(*_args):
    connections.pop(request.sid, None)
    mark("presence")


def _error(code: str) -> dict:
    return {"ok": False, "error": {"code": code, "message": code}}


@socketio.on("vote", namespace=NS)
def on_vote(payload=None):
    role, token = connections.get(request.sid, (None, None))
    if role != "participant":
        return _error("forbidden")
    if not isinstance(payload, dict):
        return _error("invalid")
    pid, dots = payload.get("proposal_id"), payload.get("dots")
    if isinstance(dots, bool) or not isinstance(dots, int) or dots < 0:
        return _error("invalid")
    if dots > MAX_PER_PROPOSAL:
        return _error("budget_exceeded")
    if not isinstance(pid, int) or not store.has_proposal(pid):
        return _error("not_found")
    if store.get_state()[0] != "voting":
        return _error("wrong_phase")
    mine = store.allocations(token)
    before = mine.get(pid, 0)
    elsewhere = sum(v for k, v in mine.items() if k != pid)
    if elsewhere + dots > DOTS:
        return _error("budget_exceeded")
    if before != dots:
        store.set_dots(token, pid, dots, before)
        mark("tally")
    return {"ok": True, "proposal_id": pid, "dots": dots, "remaining": DOTS - elsewhere - dots}


@socketio.on("propose", namespace=NS)
def on_propose(payload=None):
    role, token = connections.get(request.sid, (None, None))
    if role != "participant":
        return _error("forbidden")
    if not isinstance(payload, dict) or not isinstance(payload.get("title"), str):
        return _error("invalid")
    pid = store.add_proposal(payload["title"][:200])
    proposal = {"id": pid, "title": payload["title"][:200], "body": payload.get("body"),
                "status": "visible", "element_id": payload.get("element_id")}
    message = {"change": "new", "proposal": proposal, "id": pid, "status": "visible",
               "merged_into": None}
    for role_name in ("facilitator", "participant", "presenter"):
        socketio.emit("proposal", message, to=f"w:{role_name}", namespace=NS)
    return {"ok": True, "created": True, "proposal": proposal}


@socketio.on("reveal", namespace=NS)
def on_reveal(payload=None):
    role, _ = connections.get(request.sid, (None, None))
    if role != "facilitator":
        return _error("forbidden")
    revealed = bool((payload or {}).get("revealed"))
    store.set_revealed(revealed)
    socketio.emit("phase", {"phase": store.get_state()[0], "workshop": header()}, to="w",
                  namespace=NS)
    mark("tally")
    return {"ok": True, "revealed": revealed}


@socketio.on("sync", namespace=NS)
def on_sync(payload=None):
    role, token = connections.get(request.sid, (None, None))
    if role is None:
        return _error("unauthenticated")
    return {"ok": True, "snapshot": _snapshot(role, token)}
