"""Helpers for the push part's tests: the phone's report and batch, and a case walked to the
grid worker's check (核查) through the desk API."""
from __future__ import annotations

import uuid

from tests.dispatch.conftest import POINT_G1, do, report

REPORT = "/api/m/v1/reports"
PUSH = "/api/m/v1/sync/push"
CONFLICTS = "/api/v1/sync-conflicts"
BODY = {"description": "路边有暴露垃圾", "category_code": "E0102", "lon": POINT_G1[0], "lat": POINT_G1[1]}


def cid(tag: str = "item") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}"


def report_item(client_id: str, **extra) -> dict:
    return {"client_id": client_id, "type": "report", "report": {**BODY, **extra}}


def action_item(client_id: str, number: str, verb: str, version_seen: int, **payload) -> dict:
    return {"client_id": client_id, "type": "action",
            "action": {"number": number, "verb": verb, "version_seen": version_seen, **payload}}


def push(client, headers: dict, items: list, expect: int = 200):
    r = client.post(PUSH, json={"items": items}, headers=headers)
    assert r.status_code == expect, r.json
    return r.json


def case_in_checking(client, city) -> dict:
    """A case of grid 1 (worker1's) handled by ENV (E0102 is dispatched on opening) and sent
    to worker1 for the check."""
    number = report(client, city, who="clerk")["number"]
    do(client, city, "clerk", number, "accept")
    do(client, city, "shift", number, "open")
    do(client, city, "env", number, "sign")
    do(client, city, "env", number, "report_back", note="已清理")
    return do(client, city, "clerk", number, "request_check", assignee_id=city.staff["worker1"].id)
