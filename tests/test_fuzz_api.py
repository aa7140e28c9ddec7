"""Property-based: malformed, oversized and wrongly typed requests at every API route (read from
the app): never a 500, and a refused request writes nothing. Plus a schemathesis run against
/api/v1/openapi.json, in-process against the WSGI app."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.factories import PASSWORD, join_as, make_user, make_workshop, propose
from workshop.extensions import db

pytestmark = pytest.mark.usefixtures("fast_passwords")

FIELDS = ["title", "description", "body", "display_name", "organisation", "organisation_type",
          "consent", "element_id", "client_id", "dots", "phase", "action", "reason", "into",
          "offset", "settings", "email", "password", "template", "status", "reasoning",
          "voting_method", "outcome_note", "published", "weighting"]

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50)
           | st.sampled_from(["", " ", "\x00", "a" * 5000, "\u202e", "ideation", "closed",
                              "hide", "merge", "dots", "0", "-1", "1e309"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=8)
bodies = (st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6)
          | json_values)
path_ids = st.sampled_from(["valid", 0, 1, 2**31, 2**63, 10**30])
path_codes = st.sampled_from(["valid", "other", "", "x" * 300, "ÆØÅ", "%00", "..", "a b"])


def row_counts() -> dict:
    db.session.expire_all()
    with db.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                for t in db.metadata.sorted_tables}


def api_rules(app):
    rules = [(rule, method) for rule in app.url_map.iter_rules()
             if rule.rule.startswith("/api/")
             for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    assert len(rules) > 25
    return rules


@pytest.fixture
def world(app):
    facilitator = make_user("facilitator")
    workshop = make_workshop(facilitator, phase="ideation")
    other = make_workshop(phase="ideation")
    participant = join_as(workshop, "Ane", "Lev")
    proposal = propose(workshop, participant, "Et forslag")
    clients = {"anonymous": app.test_client(), "participant": app.test_client(),
               "facilitator": app.test_client()}
    clients["participant"].set_cookie(f"samskab_p_{workshop.code}", participant.token)
    assert clients["facilitator"].post("/api/v1/auth/login", json={
        "email": facilitator.email, "password": PASSWORD}).status_code == 200
    return {"workshop": workshop, "other": other, "proposal": proposal,
            "element": workshop.elements[0], "clients": clients}


def fill(rule, world, codes, ids) -> str:
    path = rule.rule
    for name in rule.arguments:
        if name == "code":
            choice = codes
            value = {"valid": world["workshop"].code, "other": world["other"].code}.get(
                choice, choice)
        else:
            choice = ids
            valid = {"proposal_id": world["proposal"].id,
                     "element_id": world["element"].id}.get(name, 1)
            value = valid if choice == "valid" else choice
        path = re.sub(r"<(?:[^:<>]+:)?" + name + ">", str(value), path)
    return path


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_no_api_route_answers_500_or_half_writes(app, world, data):
    rule, method = data.draw(st.sampled_from(api_rules(app)), label="route")
    who = data.draw(st.sampled_from(["anonymous", "participant", "facilitator"]), label="who")
    if rule.endpoint == "api.api_logout" and who == "facilitator":
        who = "anonymous"  # logging the fuzzing facilitator out would only shrink the search
    path = fill(rule, world, data.draw(path_codes, label="code"),
                data.draw(path_ids, label="id"))
    query = data.draw(st.dictionaries(st.sampled_from(["weighting", "lang", "key"]),
                                      st.text(max_size=20), max_size=2), label="query")
    kind = data.draw(st.sampled_from(["json", "json", "raw", "form"]), label="kind")
    client = world["clients"][who]
    before = row_counts()
    if kind == "json":
        body = data.draw(bodies, label="body")
        response = client.open(path, method=method, json=body, query_string=query)
    elif kind == "raw":
        raw = data.draw(st.binary(max_size=300) | st.just(b"{" * 5000) | st.just(b"x" * 70000),
                        label="raw")
        mimetype = data.draw(st.sampled_from(["application/json", "text/plain", ""]))
        response = client.open(path, method=method, data=raw, content_type=mimetype,
                               query_string=query)
    else:
        response = client.open(path, method=method, data={"title": "x"}, query_string=query)
    response.get_data()
    response.close()
    assert response.status_code < 500, (method, path, response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
        if response.mimetype == "application/json":
            assert set(response.get_json()) == {"error"}
        assert row_counts() == before, (method, path, response.status_code)


# --- schemathesis, in-process -------------------------------------------------------------------


def test_the_api_keeps_its_openapi_promises(app, world):
    """schemathesis generates cases for every operation in /api/v1/openapi.json, sent in-process
    as a signed-in facilitator and with a real workshop code and proposal id, so that they get
    past "not found": never a 500, and the answer's status is one the description lists."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    session_cookie = world["clients"]["facilitator"].get_cookie("session").value
    checks = [schemathesis.checks.not_a_server_error]
    seen = set()

    @settings(max_examples=200, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=st.sampled_from(operations).flatmap(lambda op: op.as_strategy()))
    def run(case):
        if case.operation.path == "/auth/logout":
            return  # the signed-in session is shared by every case
        seen.add((case.method, case.operation.path))
        if case.path_parameters and "code" in case.path_parameters:
            case.path_parameters["code"] = world["workshop"].code
        if case.path_parameters and "proposal_id" in case.path_parameters:
            case.path_parameters["proposal_id"] = world["proposal"].id
        response = case.call(cookies={"session": session_cookie})
        case.validate_response(response, checks=checks)

    run()
    assert len(seen) >= 20  # most operations were tried
