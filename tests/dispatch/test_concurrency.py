"""Two people acting on one case at the same moment, against PostgreSQL with committed data:
exactly one succeeds, the other gets a clear conflict error, and exactly one event is
written. Each request runs in its own thread with its own test client (so its own session
and connection), released together by a barrier."""
from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from sqlalchemy import func, select

from dispatch.cases.models import Case, CaseEvent
from grid import roles as R
from grid.accounts.service import issue_token
from tests.committed import own_app, post_race
from tests.factories import DepartmentFactory, StaffFactory

ROUNDS = 6


@pytest.fixture
def world(fresh_pg_url):
    """An app on a database of its own: two intake clerks, a shift leader, a grid worker, a
    dispatcher and two handlers of ROAD, all committed."""
    from wangge.extensions import db

    with own_app(fresh_pg_url) as app:
        headers = {}
        with app.app_context():
            road = DepartmentFactory(code="ROAD", name="路政")
            people = {"clerk1": [R.INTAKE_CLERK], "clerk2": [R.INTAKE_CLERK], "shift": [R.SHIFT_LEADER],
                      "worker": [R.GRID_WORKER],
                      "dispatcher": [R.DISPATCHER], "road1": [R.DEPARTMENT_HANDLER], "road2": [R.DEPARTMENT_HANDLER]}
            for name, roles in people.items():
                staff = StaffFactory(roles=roles, department_id=road.id if name.startswith("road") else None)
                headers[name] = {"Authorization": f"Bearer {issue_token(db.session, staff, ttl_hours=2)[0]}"}
            db.session.commit()
        yield app, headers, fresh_pg_url


def _report(app, headers) -> str:
    r = app.test_client().post("/api/v1/cases", json={"description": "井盖缺失", "category_code": "C0101",
                                                      "address": "测试路1号"}, headers=headers["clerk1"])
    assert r.status_code == 201, r.json
    return r.json["number"]


def _act(app, headers, who, number, verb, **body):
    r = app.test_client().post(f"/api/v1/cases/{number}/actions/{verb}", json=body, headers=headers[who])
    assert r.status_code == 200, (verb, r.json)
    return r.json


def _events(app, number: str, verbs) -> list[str]:
    from wangge.extensions import db

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.number == number))
        out = [e.verb for e in db.session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.verb.in_(verbs)).order_by(CaseEvent.id))]
        db.session.remove()
        return out


def _assert_one_wins(answers, app, number, verbs):
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 409], answers
    loser = next(body for status, body in answers if status == 409)
    assert loser["code"] in ("case_conflict", "verb_not_allowed"), loser
    assert number in loser["message"] or "案件当前状态" in loser["message"]
    assert len(_events(app, number, verbs)) == 1
    return loser["code"]


def test_two_clerks_accept_and_reject_at_once(world):
    app, headers, _ = world
    codes = []
    for _ in range(ROUNDS):
        n = _report(app, headers)
        url = f"/api/v1/cases/{n}/actions/"
        answers = post_race(app, [(url + "accept", {}, headers["clerk1"]),
                              (url + "reject", {"note": "不予受理"}, headers["clerk2"])])
        codes.append(_assert_one_wins(answers, app, n, ("accept", "reject")))
        winner = next(body for status, body in answers if status == 200)
        assert winner["state"] in ("accepted", "rejected")
    assert set(codes) <= {"case_conflict", "verb_not_allowed"}


def test_two_handlers_sign_the_same_case_at_once(world):
    app, headers, _ = world
    for _ in range(ROUNDS):
        n = _report(app, headers)
        _act(app, headers, "clerk1", n, "accept")
        _act(app, headers, "shift", n, "open")
        _act(app, headers, "dispatcher", n, "dispatch", department_code="ROAD")
        url = f"/api/v1/cases/{n}/actions/"
        answers = post_race(app, [(url + "sign", {}, headers["road1"]),
                              (url + "return", {"note": "非本部门"}, headers["road2"])])
        if [status for status, _ in answers] == [200, 200]:
            # A return is allowed after a sign too: when the sign committed before the return
            # even read the case (a loaded machine), both succeed, in that order, as if serial.
            assert _events(app, n, ("sign", "return")) == ["sign", "return"], answers
            assert answers[1][1]["state"] == "return_requested"
        else:
            _assert_one_wins(answers, app, n, ("sign", "return"))


def _wait_for_lock_wait(url: str, timeout: float = 10.0) -> None:
    """Until some backend of this database waits on a row lock."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event_type = 'Lock'").fetchone()[0]
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second request never waited on the case row")


def _interleave(app, url, monkeypatch, first: tuple, second: tuple) -> tuple:
    """Deterministic interleaving: ``first`` has written the case (holds its row) but not
    committed when ``second`` reads the same version and tries to write; then ``first``
    commits. Each is (path, body, headers); returns both answers."""
    import dispatch.notifications.notify

    flushed, release = threading.Event(), threading.Event()
    original = dispatch.notifications.notify.notify_event

    def slow_notify(session, case, event):  # runs after act's flush, before the commit
        if threading.current_thread().name == "first":
            flushed.set()
            release.wait(15)
        return original(session, case, event)

    monkeypatch.setattr(dispatch.notifications.notify, "notify_event", slow_notify)
    answers = {}

    def run(name, path, body, headers):
        r = app.test_client().post(path, json=body, headers=headers)
        answers[name] = (r.status_code, r.json)

    a = threading.Thread(target=run, args=("first", *first), name="first")
    b = threading.Thread(target=run, args=("second", *second), name="second")
    a.start()
    assert flushed.wait(10)
    b.start()
    _wait_for_lock_wait(url)
    release.set()
    a.join(15), b.join(15)
    monkeypatch.setattr(dispatch.notifications.notify, "notify_event", original)
    return answers["first"], answers["second"]


def test_the_loser_of_a_true_race_gets_case_conflict(world, monkeypatch):
    """When the first commits, the second's versioned UPDATE matches no row: 409
    case_conflict, and nothing of the second is written."""
    app, headers, url = world
    n = _report(app, headers)
    path = f"/api/v1/cases/{n}/actions/"
    a, b = _interleave(app, url, monkeypatch, (path + "accept", {}, headers["clerk1"]),
                       (path + "reject", {"note": "不予受理"}, headers["clerk2"]))
    assert a[0] == 200 and a[1]["state"] == "accepted"
    assert b[0] == 409 and b[1]["code"] == "case_conflict", b
    assert n in b[1]["message"]
    assert _events(app, n, ("accept", "reject")) == ["accept"]


def test_a_citizens_double_tap_on_rating_is_a_conflict_not_a_crash(world, monkeypatch):
    app, headers, url = world
    n = _report(app, headers)
    for who, verb, body in [("clerk1", "accept", {}), ("shift", "open", {}),
                            ("dispatcher", "dispatch", {"department_code": "ROAD"}), ("road1", "sign", {}),
                            ("road1", "report_back", {"note": "已处理"}),
                            ("clerk1", "request_check", {"assignee_id": world_worker(app)}),
                            ("worker", "check", {"outcome": "pass"}), ("shift", "close", {})]:
        _act(app, headers, who, n, verb, **body)
    code = app.test_client().get(f"/api/v1/cases/{n}", headers=headers["clerk1"]).json["tracking_code"]
    path = f"/api/v1/public/reports/{code}/rating"
    a, b = _interleave(app, url, monkeypatch, (path, {"rating": "satisfied"}, {}),
                       (path, {"rating": "unsatisfied"}, {}))
    assert a[0] == 200 and a[1]["rating"] == "satisfied"
    assert b[0] == 409 and b[1]["code"] == "case_conflict", b
    assert _events(app, n, ("rate",)) == ["rate"]


def world_worker(app) -> int:
    from grid.models import Staff, StaffRole
    from wangge.extensions import db

    with app.app_context():
        staff_id = db.session.scalar(select(Staff.id).join(StaffRole).where(StaffRole.role == R.GRID_WORKER))
        db.session.remove()
    return staff_id


def test_concurrent_intakes_with_one_idempotency_key_make_one_case(world):
    app, headers, _ = world
    from wangge.extensions import db

    for i in range(ROUNDS):
        key = f"retry-{uuid.uuid4().hex}"
        body = {"description": f"同一次上报 {i}", "category_code": "C0101", "address": "测试路2号"}
        # one phone retrying: both requests from the same clerk, racing
        answers = post_race(app, [("/api/v1/cases", body, {**headers["clerk1"], "Idempotency-Key": key}),
                              ("/api/v1/cases", body, {**headers["clerk1"], "Idempotency-Key": key})])
        assert sorted(status for status, _ in answers) == [200, 201], answers
        assert answers[0][1]["number"] == answers[1][1]["number"]
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Case).where(
                Case.idempotency_key.like(f"%:{key}"))) == 1
            db.session.remove()
    # the public endpoint too, key in the body
    key = f"public-{uuid.uuid4().hex}"
    answers = post_race(app, [("/api/v1/public/reports", {"description": "路灯坏", "address": "测试路3号",
                                                      "idempotency_key": key}, {})] * 2)
    assert sorted(status for status, _ in answers) == [200, 201], answers
    assert answers[0][1]["tracking_code"] == answers[1][1]["tracking_code"]
    # numbers stayed unique; the losers' rolled-back numbers are gaps (PostgreSQL sequences,
    # docs/dispatch.md "Case numbers"), at most one per race
    with app.app_context():
        numbers = db.session.scalars(select(Case.number).order_by(Case.number)).all()
        assert len(numbers) == len(set(numbers)) == ROUNDS + 1
        suffixes = [int(x[-6:]) for x in numbers]
        assert suffixes == sorted(suffixes) and suffixes[-1] <= 2 * (ROUNDS + 1)
        db.session.remove()
