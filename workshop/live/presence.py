"""Who is online in a workshop.

Each process counts its own connections in memory; connecting and disconnecting cost nothing
more. With several processes (REDIS_URL), each process writes its counts to a Redis hash (with
a short expiry) at most once per broadcast interval, and the totals are summed from there.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import defaultdict

_lock = threading.Lock()
# workshop id -> sid -> (role, participant id or None)
_connections: dict[int, dict[str, tuple[str, int | None]]] = defaultdict(dict)
_cache: dict[int, tuple[float, dict]] = {}
PROCESS = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
TTL_S = 30
CACHE_S = 1.0
_redis = None


def configure(redis_url: str | None) -> None:
    global _redis
    _cache.clear()
    if redis_url:
        import redis

        _redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    else:
        _redis = None


def _local(workshop_id: int) -> dict:
    conns = _connections.get(workshop_id, {})
    return {
        "participants": sorted({pid for role, pid in conns.values() if role == "participant"}),
        "facilitators": sum(1 for role, _ in conns.values() if role == "facilitator"),
        "presenters": sum(1 for role, _ in conns.values() if role == "presenter"),
    }


def add(workshop_id: int, sid: str, role: str, participant_id: int | None) -> None:
    with _lock:
        _connections[workshop_id][sid] = (role, participant_id)
        _cache.pop(workshop_id, None)


def remove(workshop_id: int, sid: str) -> None:
    with _lock:
        _connections.get(workshop_id, {}).pop(sid, None)
        if workshop_id in _connections and not _connections[workshop_id]:
            del _connections[workshop_id]
        _cache.pop(workshop_id, None)


def publish(workshop_id: int) -> None:
    """Write this process's counts to Redis (called by the broadcaster, not per connect)."""
    if _redis is None:
        return
    key = f"samskab:presence:{workshop_id}"
    try:
        pipe = _redis.pipeline()
        pipe.hset(key, PROCESS, json.dumps(_local(workshop_id)))
        pipe.expire(key, TTL_S)
        pipe.execute()
    except Exception:  # noqa: BLE001 - presence is best effort; Redis may be restarting
        pass


def presence_for(workshop_id: int) -> dict:
    """People online now: distinct participants, facilitator and presenter screens."""
    cached = _cache.get(workshop_id)
    if cached is not None and time.monotonic() - cached[0] < CACHE_S:
        return cached[1]
    parts = [_local(workshop_id)]
    if _redis is not None:
        try:
            stored = _redis.hgetall(f"samskab:presence:{workshop_id}")
            others = [json.loads(v) for k, v in stored.items()
                      if (k.decode() if isinstance(k, bytes) else k) != PROCESS]
            parts.extend(others)
        except Exception:  # noqa: BLE001
            pass
    participants: set[int] = set()
    for part in parts:
        participants.update(part["participants"])
    result = {
        "online": len(participants),
        "facilitators": sum(p["facilitators"] for p in parts),
        "presenters": sum(p["presenters"] for p in parts),
    }
    _cache[workshop_id] = (time.monotonic(), result)
    return result
