"""Bad input on the case endpoints (intake, actions, merge, public tracking and rating) is a
4xx in the project's error format, never a 500, and writes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dispatch.cases.models import Case, CaseEvent
from tests.dispatch.conftest import report

BIG = 2**40
HUGE = 2**70


def action_probes(n: str) -> list[tuple[str, str, dict]]:
    url = f"/api/v1/cases/{n}/actions/"
    return [
        ("clerk", url + "merge", {"into": "9" * 10_000}),
        ("clerk", url + "merge", {"into": "31\x0001"}),
        ("clerk", url + "merge", {"into": "NOSUCHCASE"}),
        ("clerk", url + "request_verify", {"assignee_id": BIG}),
        ("clerk", url + "request_verify", {"assignee_id": HUGE}),
        ("clerk", url + "request_verify", {"assignee_id": -1}),
        ("clerk", url + "accept", {"attachments": [BIG]}),
        ("clerk", url + "accept", {"attachments": [HUGE]}),
        ("clerk", url + "accept", {"expected_version": HUGE}),
        ("clerk", url + "reject", {"note": "a\x00b"}),
        ("worker1", "/api/v1/cases", {"description": "x", "address": "y", "attachments": [BIG],
                                      "self_handled": True}),
        ("worker1", "/api/v1/cases", {"description": "x", "address": "y", "attachments": [HUGE]}),
        ("worker1", "/api/v1/cases", {"description": "x", "address": "y", "category_code": "E\x0001"}),
        ("worker1", "/api/v1/cases", {"description": "x", "address": "y", "idempotency_key": "abc\x00defghi"}),
        ("worker1", "/api/v1/cases", {"description": " ", "address": "y"}),
        (None, "/api/v1/public/reports", {"description": "x\x00", "address": "y"}),
        (None, "/api/v1/public/reports/" + "A" * 10_000 + "/rating", {"rating": "satisfied"}),
        (None, "/api/v1/public/reports/AB%00C/rating", {"rating": "satisfied"}),
    ]


def test_bad_input_on_case_endpoints_is_a_4xx(client, city, db_session):
    n = report(client, city, category="C0101")["number"]
    cases = db_session.scalar(select(func.count()).select_from(Case))
    events = db_session.scalar(select(func.count()).select_from(CaseEvent))
    answers = []
    for i, (who, url, body) in enumerate(action_probes(n)):
        r = client.post(url, json=body, headers=city.h(who) if who else {},
                        environ_base={"REMOTE_ADDR": f"10.199.{i}.1"})
        answers.append((url[:60], body, r.status_code, (r.json or {}).get("code")))
    for path in ["/api/v1/public/reports/" + "A" * 10_000, "/api/v1/public/reports/AB%00C",
                 "/api/v1/cases/" + "9" * 10_000, "/api/v1/cases/31%0001"]:
        r = client.get(path, headers=city.h("clerk"), environ_base={"REMOTE_ADDR": "10.199.250.1"})
        answers.append((path[:60], None, r.status_code, (r.json or {}).get("code")))
    assert all(400 <= status < 500 and code for *_, status, code in answers), answers
    assert db_session.scalar(select(func.count()).select_from(Case)) == cases
    assert db_session.scalar(select(func.count()).select_from(CaseEvent)) == events


@pytest.mark.parametrize("into", ["", "x" * 33])
def test_merge_into_names_the_field(client, city, db_session, into):
    n = report(client, city, category="C0101")["number"]
    r = client.post(f"/api/v1/cases/{n}/actions/merge", json={"into": into}, headers=city.h("clerk"))
    assert r.status_code == 422 and "into" in r.json["fields"], r.json
