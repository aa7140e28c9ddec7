"""The OpenAPI 3.1 document describes exactly the API the app serves."""

from __future__ import annotations

import re

API_PREFIX = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def app_operations(app) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if not (rule.rule == API_PREFIX or rule.rule.startswith(API_PREFIX + "/")):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(API_PREFIX):])
        for method in rule.methods - IGNORED_METHODS:
            operations.add((path, method.lower()))
    return operations


def document_operations(document) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
    return {(path, method) for path, item in document["paths"].items()
            for method in item if method in methods}


def test_the_document_is_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"] and document["info"]["version"]
    assert document["servers"] == [{"url": API_PREFIX}]


def test_every_api_route_is_described_and_nothing_else(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    served = app_operations(app)
    described = document_operations(document)
    assert len(served) > 20  # the comparison is not vacuous
    assert served - described == set(), "routes missing from the document"
    assert described - served == set(), "documented operations the app does not serve"


def test_path_parameters_are_declared(client):
    document = client.get("/api/v1/openapi.json").get_json()
    for path, item in document["paths"].items():
        expected = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == expected, (path, method)


def test_every_reference_resolves(client):
    document = client.get("/api/v1/openapi.json").get_json()

    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = list(refs(document))
    assert found
    for ref in found:
        target = document
        assert ref.startswith("#/")
        for part in ref[2:].split("/"):
            target = target[part]
