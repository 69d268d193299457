"""Findings of the attack review of the phone API, each kept as a regression test: the
offline batch's document says what the server takes (a malformed item is refused alone, in a
200, so the document must call it valid)."""
from __future__ import annotations

import jsonschema
import pytest

PUSH = "/api/m/v1/sync/push"


def request_schema(document: dict, path: str, media: str = "application/json") -> dict:
    body = document["paths"][path]["post"]["requestBody"]
    return {**body["content"][media]["schema"], "components": document["components"]}


@pytest.mark.parametrize("item", [
    {"client_id": "review-a1", "type": "action", "action": {"number": "0", "verb": "check", "version_seen": 0},
     "x-unknown": 42},
    {"client_id": "review-a2", "action": {"number": "0", "verb": "check", "version_seen": 0}},
    {"type": "action", "action": {"number": "0", "verb": "check", "version_seen": 0}},
    7,
])
def test_push_accepts_only_what_its_document_describes(client, city, item):
    """A 2xx to a body means the document must call that body valid (schemathesis ST201).
    Fixed: the document says an item may be anything; a malformed one is refused alone."""
    document = client.get("/api/openapi.json").json
    body = {"items": [item]}
    r = client.post(PUSH, json=body, headers=city.h("worker1"))
    if 200 <= r.status_code < 300:
        jsonschema.validate(body, request_schema(document, PUSH))
    else:
        assert r.status_code == 422
