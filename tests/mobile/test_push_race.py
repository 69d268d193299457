"""Two pushes of the same batch at the same moment, against PostgreSQL with committed data
(each request in its own thread, session and connection, released together by a barrier):
one case per report, one event per action, consistent outcomes, no 500."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dispatch.cases.models import Case, CaseEvent
from grid import roles as R
from grid.accounts.service import issue_token
from mobile_api.push.models import SyncPushItem
from tests.committed import own_app, post_race
from tests.factories import StaffFactory
from tests.mobile.fixtures_push import PUSH, action_item, cid, report_item

ROUNDS = 3


@pytest.fixture
def world(fresh_pg_url):
    from wangge.extensions import db

    with own_app(fresh_pg_url) as app:
        with app.app_context():
            clerk = StaffFactory(roles=[R.INTAKE_CLERK])
            headers = {"Authorization": f"Bearer {issue_token(db.session, clerk, ttl_hours=2)[0]}"}
            db.session.commit()
        yield app, headers


def race(app, bodies: list[dict], headers: dict) -> list[tuple[int, dict]]:
    return race_as(app, [(body, headers) for body in bodies])


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


def test_two_different_items_on_one_case_at_once_one_wins_the_other_is_kept(world):
    """Two clerks act on the same case at the same moment from the same version, one accepts
    and one rejects: exactly one verb lands; the other is a conflict (``case_conflict`` when
    its update met the first one's, ``verb_not_allowed`` when it read the case after the
    first commit), kept for the dispatch center; never a 500."""
    from wangge.extensions import db

    app, headers = world
    with app.app_context():
        other = StaffFactory(roles=[R.INTAKE_CLERK])
        other_headers = {"Authorization": f"Bearer {issue_token(db.session, other, ttl_hours=2)[0]}"}
        db.session.commit()
    for _ in range(ROUNDS):
        target = new_case(app, headers)
        number, seen = target["number"], target["version"]
        accept = {"items": [action_item(cid("acc"), number, "accept", seen)]}
        reject = {"items": [action_item(cid("rej"), number, "reject", seen, note="不属于受理范围")]}
        answers = race_as(app, [(accept, headers), (reject, other_headers)])
        assert [s for s, _ in answers] == [200, 200], answers
        results = [a["items"][0] for _, a in answers]
        assert sorted(r["outcome"] for r in results) == ["conflict", "done"], results
        won = next(r for r in results if r["outcome"] == "done")
        lost = next(r for r in results if r["outcome"] == "conflict")
        assert lost["code"] in ("case_conflict", "verb_not_allowed") and lost["status"] == 409 and lost["conflict_id"]
        assert lost["case"]["state"] == won["case"]["state"] and lost["case"]["version"] == won["case"]["version"]
        with app.app_context():
            case = db.session.scalar(select(Case).where(Case.number == number))
            verbs = list(db.session.scalars(select(CaseEvent.verb).where(
                CaseEvent.case_id == case.id, CaseEvent.verb.in_(("accept", "reject")))))
            assert len(verbs) == 1 and case.state == {"accept": "accepted", "reject": "rejected"}[verbs[0]]
            kept = db.session.scalars(select(SyncPushItem).where(SyncPushItem.case_id == case.id)
                                      .order_by(SyncPushItem.id)).all()
            assert sorted(k.outcome for k in kept) == ["conflict", "done"]
            db.session.remove()


def race_as(app, requests: list[tuple[dict, dict]]) -> list[tuple[int, dict]]:
    return post_race(app, [(PUSH, body, headers) for body, headers in requests], name="push-race")
