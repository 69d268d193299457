"""Two pushes of the same batch at the same moment, against PostgreSQL with committed data
(each request in its own thread, session and connection, released together by a barrier):
one case per report, one event per action, consistent outcomes, no 500."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from dispatch.cases.models import Case, CaseEvent
from grid import roles as R
from grid.accounts.service import issue_token
from mobile_api.push.models import SyncPushItem
from tests.conftest import make_settings
from tests.factories import StaffFactory
from tests.mobile.fixtures_push import PUSH, action_item, cid, report_item

ROUNDS = 3


@pytest.fixture
def world(fresh_pg_url):
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(fresh_pg_url))
    with app.app_context():
        clerk = StaffFactory(roles=[R.INTAKE_CLERK])
        headers = {"Authorization": f"Bearer {issue_token(db.session, clerk, ttl_hours=2)[0]}"}
        db.session.commit()
    yield app, headers
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def race(app, bodies: list[dict], headers: dict) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(len(bodies))
    answers: list = [None] * len(bodies)

    def run(i, body):
        client = app.test_client()
        barrier.wait()
        r = client.post(PUSH, json=body, headers=headers)
        answers[i] = (r.status_code, r.json)

    threads = [threading.Thread(target=run, args=(i, b), name=f"push-race-{i}") for i, b in enumerate(bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(a is not None for a in answers), answers
    return answers


def new_case(app, headers) -> dict:
    r = app.test_client().post("/api/v1/cases", json={"description": "井盖缺失", "address": "测试路1号"},
                               headers=headers)
    assert r.status_code == 201, r.json
    return r.json


def test_the_same_batch_pushed_twice_at_once_makes_one_of_everything(world):
    from wangge.extensions import db

    app, headers = world
    for _ in range(ROUNDS):
        target = new_case(app, headers)
        items = [report_item(cid("race-a"), address="测试路2号"), report_item(cid("race-b"), address="测试路3号"),
                 action_item(cid("race-accept"), target["number"], "accept", target["version"])]
        (s1, a1), (s2, a2) = race(app, [{"items": items}, {"items": items}], headers)
        assert (s1, s2) == (200, 200), (a1, a2)
        for first, second in zip(a1["items"], a2["items"], strict=True):
            outcomes = sorted([first["outcome"], second["outcome"]])
            assert outcomes in (["already_done", "created"], ["already_done", "done"]), (first, second)
            assert first["case"]["number"] == second["case"]["number"]
            done = first if first["outcome"] != "already_done" else second
            again = second if done is first else first
            assert again["original_outcome"] == done["outcome"]
        with app.app_context():
            keys = [i["client_id"] for i in items]
            made = sum(db.session.scalar(select(func.count()).select_from(Case).where(
                Case.idempotency_key.like(f"staff:%:{key}"))) for key in keys[:2])
            assert made == 2
            case_id = db.session.scalar(select(Case.id).where(Case.number == target["number"]))
            accepts = db.session.scalar(select(func.count()).select_from(CaseEvent).where(
                CaseEvent.case_id == case_id, CaseEvent.verb == "accept"))
            assert accepts == 1
            assert db.session.scalar(select(func.count()).select_from(SyncPushItem).where(
                SyncPushItem.client_id.in_(keys))) == 3
            db.session.remove()


def test_one_client_id_with_two_bodies_at_once_makes_one_case_and_one_409(world):
    from wangge.extensions import db

    app, headers = world
    key = cid("race-reuse")
    bodies = [{"items": [report_item(key, address="测试路4号")]},
              {"items": [report_item(key, address="测试路5号", description="另一件事")]}]
    answers = race(app, bodies, headers)
    assert [s for s, _ in answers] == [200, 200], answers
    outcomes = sorted(a["items"][0]["outcome"] for _, a in answers)
    assert outcomes == ["created", "idempotency_key_reused"], answers
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case).where(
            Case.idempotency_key.like(f"%:{key}"))) == 1
        db.session.remove()
