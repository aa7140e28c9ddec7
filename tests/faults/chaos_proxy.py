"""A TCP proxy on loopback that cuts and delays connections at random: flaky networks for the
fault tests (phones on venue Wi-Fi, a tunnel, a screen that locks)."""

from __future__ import annotations

import random
import socket
import threading
import time


class ChaosProxy:
    def __init__(self, upstream_port: int, *, cut_every_s: float = 0.5, cut_share: float = 0.1,
                 max_delay_s: float = 0.03, seed: int = 1):
        self.upstream_port = upstream_port
        self.cut_every_s, self.cut_share, self.max_delay_s = cut_every_s, cut_share, max_delay_s
        self.rng = random.Random(seed)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(512)
        self.port = self.listener.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.running = True
        self.chaos = True
        self.cuts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ChaosProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._cut, daemon=True).start()
        return self

    def calm(self) -> None:
        """Stop cutting: the network is good again."""
        self.chaos = False

    def stop(self) -> None:
        self.running = False
        self.listener.close()
        with self.lock:
            for pair in self.pairs:
                for end in pair:
                    end.close()
            self.pairs.clear()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while self.running:
                data = source.recv(65536)
                if not data:
                    break
                if self.chaos and self.max_delay_s:
                    time.sleep(self.rng.random() * self.max_delay_s)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def _cut(self) -> None:
        """Every little while, cut a share of the open connections without warning."""
        while self.running:
            time.sleep(self.cut_every_s)
            if not self.chaos:
                continue
            with self.lock:
                self.pairs = [p for p in self.pairs if p[0].fileno() != -1]
                victims = [p for p in self.pairs if self.rng.random() < self.cut_share]
            for client, upstream in victims:
                self.cuts += 1
                for end in (client, upstream):
                    try:
                        end.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
