"""Structured logs: one JSON object per line, each request with its id.

A request id comes from the `X-Request-Id` header (set by a proxy) or is made here; it is
returned in the response's `X-Request-Id` header and attached to every log line written while
the request runs, so an operator can follow one request through the logs. No personal data
(names, addresses, tokens) is logged. `LOG_FORMAT=text` gives plain lines for a laptop.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = getattr(g, "request_id", None)
        for key in ("method", "path", "status", "duration_ms", "event"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def init_logging(app: Flask) -> None:
    if not app.testing and not getattr(init_logging, "configured", False):
        from .config import ConfigError

        log_format = os.environ.get("LOG_FORMAT") or "json"
        level = (os.environ.get("LOG_LEVEL") or "INFO").upper()
        if log_format not in ("json", "text"):
            raise ConfigError("LOG_FORMAT", log_format, '"json" or "text"')
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError("LOG_LEVEL", level, "DEBUG, INFO, WARNING, ERROR or CRITICAL")
        handler = logging.StreamHandler(sys.stderr)
        if log_format == "json":
            handler.setFormatter(JsonFormatter())
        else:
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(level)
        init_logging.configured = True
    access = logging.getLogger("samskab.access")

    @app.before_request
    def start_request():
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def finish_request(response):
        request_id = getattr(g, "request_id", None)
        if request_id:
            response.headers["X-Request-Id"] = request_id
        started = getattr(g, "request_started", None)
        if started is not None and not request.path.startswith("/static/"):
            access.info("request", extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            })
        return response
