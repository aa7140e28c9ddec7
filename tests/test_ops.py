"""Operations: health and readiness for load balancers, request ids, JSON log lines."""

import json
import logging

import pytest

from workshop.logs import JsonFormatter


def test_healthz_answers_while_the_process_lives(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_checks_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok"}


@pytest.mark.app_config({"REDIS_URL": "redis://127.0.0.1:1/0"})
def test_readyz_is_unavailable_when_redis_is_unreachable(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable")


def test_every_response_carries_a_request_id(client):
    made = client.get("/healthz").headers["X-Request-Id"]
    assert len(made) == 32
    assert client.get("/healthz", headers={"X-Request-Id": "lb-123"}).headers["X-Request-Id"] \
        == "lb-123"
    # A hostile id is not echoed (log and header injection): a fresh one is made.
    for hostile in ("<script>alert(1)</script>", "x" * 500, "a b;c=d"):
        answered = client.get("/healthz", headers={"X-Request-Id": hostile})
        assert answered.headers["X-Request-Id"] != hostile
        assert len(answered.headers["X-Request-Id"]) == 32


def test_log_lines_are_json_with_the_request_id(app, client, caplog):
    caplog.set_level(logging.INFO, logger="samskab.access")
    client.get("/healthz", headers={"X-Request-Id": "abc"})
    [record] = [r for r in caplog.records if r.name == "samskab.access"]
    with app.test_request_context(headers={"X-Request-Id": "abc"}):
        from flask import g

        g.request_id = "abc"
        line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request" and line["status"] == 200
    assert line["path"] == "/healthz" and line["request_id"] == "abc"
    assert isinstance(line["duration_ms"], float)
