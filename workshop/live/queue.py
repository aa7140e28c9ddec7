"""The Socket.IO message queue over Redis, with recovery after an outage.

python-socketio's RedisManager publishes every broadcast on a Redis channel that every server
process listens to. While Redis is away, those messages are dropped (pub/sub keeps nothing), and
its listener retries with a back-off that grows to a minute. So, when Redis returns, screens
connected to a process may have missed tallies, proposals or a phase change sent by another one.

This manager keeps python-socketio's protocol and adds two things:

- the listener retries at most every ``max_retry_s`` seconds, so broadcasting resumes within
  seconds of Redis coming back;
- once it has subscribed again after a failure, it calls ``on_recovered`` — the broadcaster then
  brings every screen connected to this process back to the server's state (see
  ``Broadcaster.resync``). Each process does this for its own connections, after its own listener
  is back, so nothing sent between Redis returning and the re-subscription is missed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator

import socketio

log = logging.getLogger(__name__)


CONTROL = "samskab-control"


class RecoveringRedisManager(socketio.RedisManager):
    name = "redis"

    def __init__(self, url: str, channel: str = "socketio", write_only: bool = False,
                 logger=None, redis_options=None, max_retry_s: float = 2.0,
                 on_recovered: Callable[[], None] | None = None,
                 on_control: Callable[[dict], None] | None = None):
        super().__init__(url, channel=channel, write_only=write_only, logger=logger,
                         redis_options=redis_options)
        self.max_retry_s = max_retry_s
        self.on_recovered = on_recovered
        self.on_control = on_control
        self.outages = 0  # how many times the listener lost Redis (for logs and tests)

    # --- control messages between the processes ------------------------------------------------

    def publish_control(self, data: dict) -> None:
        """Ask every other process to act on its own connections (e.g. close a logged-out
        user's sockets), on the same channel as the broadcasts."""
        self._publish({"method": CONTROL, "data": data, "host_id": self.host_id})

    def _listen(self) -> Iterator:
        marker = CONTROL.encode()
        for message in super()._listen():
            raw = message.encode() if isinstance(message, str) else message
            if isinstance(raw, bytes) and marker in raw:  # cheap test before decoding
                try:
                    decoded = json.loads(message)
                except ValueError:
                    decoded = None
                if isinstance(decoded, dict) and decoded.get("method") == CONTROL:
                    if decoded.get("host_id") != self.host_id and self.on_control is not None:
                        try:
                            self.on_control(decoded.get("data") or {})
                        except Exception:  # the listener must survive a failing handler
                            log.exception("message queue: control message failed")
                    continue
            yield message

    def _redis_listen_with_retries(self) -> Iterator[dict]:
        retry_s = min(0.25, self.max_retry_s)
        failed = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                if failed:
                    failed = False
                    retry_s = min(0.25, self.max_retry_s)
                    log.warning("message queue: Redis is back, listening again")
                    self._recovered()
                yield from self.pubsub.listen()
            except Exception as exc:  # redis-py raises several kinds; all mean "not listening"
                if not failed:
                    self.outages += 1
                    log.error("message queue: lost Redis (%s); retrying every %.2g s at most",
                              exc, self.max_retry_s)
                failed = True
                time.sleep(retry_s)  # cooperative under gevent's monkey patching
                retry_s = min(retry_s * 2, self.max_retry_s)

    def _recovered(self) -> None:
        if self.on_recovered is None:
            return
        try:
            self.on_recovered()
        except Exception:  # the listener must survive whatever the resync does
            log.exception("message queue: resync after recovery failed")
