"""The API contract is complete: every operation in the OpenAPI document documents its
success answer with a schema (a phone client generated from the document has types), and
query strings are checked, never silently ignored."""
from __future__ import annotations

import pytest

# Operations that do not document a success schema yet, each with its reason. Keep it short:
# an entry whose operation gained a schema (or disappeared) fails the test below.
ALLOWED_WITHOUT_SCHEMA: dict[tuple[str, str], str] = {}  # (method, path) -> why it has no typed answer
METHODS = ("get", "put", "post", "delete", "patch")
JSON = "application/json"
BINARY = {"type": "string", "format": "binary"}


@pytest.fixture(scope="module")
def spec():
    from tests.conftest import ADMIN_URL, make_settings
    from wangge import create_app

    # Serving the document needs no database.
    return create_app(make_settings(ADMIN_URL)).test_client().get("/api/openapi.json").json


def operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def schema_problems(spec, operation) -> list[str]:
    """Why this operation's success answer is not typed ([] when it is)."""
    successes = {status: r for status, r in operation.get("responses", {}).items() if status.startswith("2")}
    if not successes:
        return ["no 2xx response"]
    problems = []
    for status, response in successes.items():
        content = response.get("content") or {}
        if not content:
            problems.append(f"{status} has no content")
        for content_type, media in content.items():
            schema = media.get("schema")
            if not schema:
                problems.append(f"{status} {content_type} has no schema")
            elif content_type == JSON:
                if "$ref" in schema:
                    schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
                if not (schema.get("properties") or schema.get("items")):
                    problems.append(f"{status} {content_type} schema has no properties or items")
            elif content_type == "text/xml" and JSON in content:
                continue  # Open311's XML: the same answer as its typed JSON, in the spec's other format
            elif schema != BINARY:  # a download (photo, CSV, XLSX) is binary under its own type
                problems.append(f"{status} {content_type} is neither JSON nor a binary download")
    return problems


def test_every_operation_documents_its_success_response(spec):
    missing = {}
    for method, path, operation in operations(spec):
        problems = schema_problems(spec, operation)
        if problems and (method, path) not in ALLOWED_WITHOUT_SCHEMA:
            missing[f"{method.upper()} {path}"] = problems
    assert not missing, missing


def test_the_exceptions_are_still_needed(spec):
    """An allowed exception that now has a schema (or no longer exists) is removed from the list."""
    ops = {(method, path): operation for method, path, operation in operations(spec)}
    stale = [key for key in ALLOWED_WITHOUT_SCHEMA if key not in ops or not schema_problems(spec, ops[key])]
    assert not stale, f"remove from ALLOWED_WITHOUT_SCHEMA: {stale}"


def test_downloads_document_their_binary_types(spec):
    paths = spec["paths"]
    photo = paths["/api/v1/attachments/{attachment_id}"]["get"]["responses"]["200"]["content"]
    assert set(photo) == {"image/jpeg", "image/png", "image/webp"}
    kpi = paths["/api/v1/kpi"]["get"]["responses"]["200"]["content"]
    assert {JSON, "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} <= set(kpi)
    assert set(paths["/api/v1/matrix/export"]["get"]["responses"]["200"]["content"]) == {"text/csv"}


def test_query_parameters_are_documented_and_lang_is_accepted(spec):
    params = {p["name"] for p in spec["paths"]["/api/v1/cases"]["get"]["parameters"]}
    assert {"state", "channel", "department", "grid", "category", "light", "lang"} <= params


def test_unknown_query_parameters_are_refused_everywhere(client, admin):
    for url in ("/api/v1/cases?since=2026-01-01", "/api/v1/grids?levl=grid", "/api/v1/matrix?categry=E0102",
                "/api/v1/calendar?from=2026-01-01&to=2026-01-02&x=1", "/api/v1/enforcement?opne=true",
                "/api/v1/kpi?from=2026-01-01&to=2026-01-02&group=grid"):
        r = client.get(url, headers=admin)
        assert r.status_code == 422, (url, r.json)
        unknown = url.rsplit("&", 1)[-1].split("?")[-1].split("=")[0]
        assert list(r.json["fields"]) == [unknown], (url, r.json)
    # ?lang is everyone's and stays accepted
    assert client.get("/api/v1/grids?lang=en", headers=admin).status_code == 200
    assert client.get("/api/v1/cases?lang=zh&state=closed", headers=admin).status_code == 200
