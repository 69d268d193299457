"""The intake's database round trips, counted (issue 10: at most 6 per report), its answer
built from memory equal to the case as read back, and the reference cache's invalidation
across apps (each app has its own cache, as each process has). Committed PostgreSQL: a
request's own BEGIN and COMMIT are counted as they happen."""
from __future__ import annotations

import time
from contextlib import contextmanager

import psycopg
import pytest
from shapely.geometry import box
from sqlalchemy import event

from grid import roles as R
from grid.accounts.service import issue_token
from tests.committed import own_app, post_race
from tests.factories import DepartmentFactory, GridFactory, ResponsibilityFactory, StaffFactory

POINT = (121.405, 31.205)
BODY = {"description": "井盖缺失", "category_code": "C0101", "lon": POINT[0], "lat": POINT[1], "address": "测试路1号"}
MAX_ROUND_TRIPS = 6
STAFF_ROUND_TRIPS = 3  # BEGIN, the INSERT, COMMIT: the token is in the process's cache


def _world(app) -> dict:
    from wangge.extensions import db

    with app.app_context():
        GridFactory(code="310101001", name="测试街道", level="street", geom=box(121.40, 31.20, 121.42, 31.21), area_m2=1)
        GridFactory(code="31010100100101", name="一号网格", parent_code="310101001",
                    geom=box(121.40, 31.20, 121.41, 31.21), area_m2=1)
        road = DepartmentFactory(code="ROAD", name="路政")
        DepartmentFactory(code="ENV", name="环卫所")
        ResponsibilityFactory(category_code="C0101", department=road)
        headers = {}
        for name, roles in {"worker": [R.GRID_WORKER], "clerk": [R.INTAKE_CLERK]}.items():
            staff = StaffFactory(roles=roles, phone="13900000001")
            headers[name] = {"Authorization": f"Bearer {issue_token(db.session, staff, ttl_hours=2)[0]}"}
        db.session.commit()
    return headers


@pytest.fixture
def world(fresh_pg_url):
    with own_app(fresh_pg_url, index_check_seconds=3600, token_check_seconds=3600) as app:  # as in production
        yield app, _world(app), fresh_pg_url


class RoundTrips:
    """Statements sent by the app's engine, plus each BEGIN and COMMIT (psycopg sends BEGIN
    as a command of its own before a transaction's first statement)."""

    def __init__(self, engine):
        self.engine, self.statements, self.trips = engine, [], 0

    def _statement(self, conn, cursor, statement, *args):
        self.statements.append(" ".join(statement.split())[:120])
        self.trips += 1

    def _command(self, conn, *args):
        self.trips += 1

    @contextmanager
    def counting(self):
        self.statements, self.trips = [], 0
        listeners = [("before_cursor_execute", self._statement), ("begin", self._command),
                     ("commit", self._command), ("rollback", self._command)]
        for name, fn in listeners:
            event.listen(self.engine, name, fn)
        try:
            yield self
        finally:
            for name, fn in listeners:
                event.remove(self.engine, name, fn)


def _counter(app) -> RoundTrips:
    from wangge.extensions import db

    with app.app_context():
        return RoundTrips(db.engine)


def _post(app, path, body, headers, key):
    return app.test_client().post(path, json=body, headers={**headers, "Idempotency-Key": key})


def test_a_report_takes_at_most_six_round_trips_and_no_ping(world):
    app, headers, _url = world
    counter = _counter(app)
    assert not counter.engine.pool._pre_ping  # a ping is a round trip per checkout
    assert _post(app, "/api/v1/cases", BODY, headers["worker"], "warm-0001").status_code == 201  # caches filled
    with counter.counting():  # a token the process has not seen yet: one SELECT more
        assert app.test_client().get("/api/v1/cases", headers=headers["clerk"]).status_code == 200
    assert sum(s.startswith("SELECT api_tokens.id") for s in counter.statements) == 1, counter.statements
    for path, who in (("/api/v1/cases", "worker"), ("/api/v1/cases", "clerk"), ("/api/m/v1/reports", "worker")):
        with counter.counting():
            r = _post(app, path, BODY, headers[who], f"count-{who}-{path[-7:]}")
        assert r.status_code == 201, r.json
        assert counter.trips <= MAX_ROUND_TRIPS, (path, who, counter.trips, counter.statements)
        # staff and phone alike: BEGIN, the INSERT, COMMIT (the token from the process's cache;
        # no staff SELECT: the token's roles and the INSERT's own read of the staff row are enough)
        assert counter.trips == STAFF_ROUND_TRIPS, (path, who, counter.statements)
    with counter.counting():  # a citizen's report
        r = app.test_client().post("/api/v1/public/reports", json={"description": "路灯不亮", "lon": POINT[0],
                                                                   "lat": POINT[1]},
                                   headers={"Idempotency-Key": "citizen-count-1"})
    assert r.status_code == 201, r.json
    assert counter.trips <= MAX_ROUND_TRIPS, counter.statements


def test_the_answer_from_memory_is_the_case_as_read_back(world):
    app, headers, _url = world
    first = _post(app, "/api/v1/cases", BODY, headers["worker"], "answer-0001")
    second = _post(app, "/api/v1/cases", BODY, headers["worker"], "answer-0002")  # a duplicate of the first
    assert (first.status_code, second.status_code) == (201, 201)
    for r in (first, second):
        read = app.test_client().get(f"/api/v1/cases/{r.json['number']}", headers=headers["worker"])
        assert read.status_code == 200
        assert r.json == read.json
    assert second.json["possible_duplicate_of"] == first.json["number"]
    assert second.json["events"][0]["data"]["possible_duplicate_of"] == first.json["number"]
    assert first.json["suggested_department"] == {"code": "ROAD", "name": "路政"}
    en = app.test_client().post("/api/v1/cases?lang=en", json=BODY,
                                headers={**headers["worker"], "Idempotency-Key": "answer-en-1"})
    assert en.json["state_name"] != first.json["state_name"]  # the reader's language, not the default


def test_a_retry_and_a_reused_key_under_a_race(world):
    """Same key, same body at once: one case, both answers name it; another body: 409."""
    app, headers, url = world
    h = {**headers["worker"], "Idempotency-Key": "race-key-0001"}
    answers = post_race(app, [("/api/v1/cases", BODY, h)] * 4, name="intake-race")
    assert sorted(s for s, _ in answers) == [200, 200, 200, 201], answers
    assert len({j["number"] for _, j in answers}) == 1
    other = {**BODY, "description": "另一件事"}
    answers = post_race(app, [("/api/v1/cases", other, h), ("/api/v1/cases", BODY, h)], name="intake-reuse")
    assert sorted(s for s, _ in answers) == [200, 409], answers
    assert [j["code"] for s, j in answers if s == 409] == ["idempotency_key_reused"]
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        cases, events = conn.execute("SELECT count(*), (SELECT count(*) FROM case_events e JOIN cases c "
                                     "ON c.id = e.case_id WHERE c.idempotency_key LIKE '%race-key-0001') "
                                     "FROM cases WHERE idempotency_key LIKE '%race-key-0001'").fetchone()
    assert (cases, events) == (1, 1)


def _suggested(app, headers, key) -> str:
    r = _post(app, "/api/v1/cases", BODY, headers["clerk"], key)
    assert r.status_code == 201, r.json
    return r.json["suggested_department"]["code"]


def test_a_matrix_change_reaches_every_app(world, fresh_pg_url):
    """App A changes the rule through the API: A's next report uses it at once (its own
    commit), app B (another process's cache) after its check interval; a change made by plain
    SQL from outside reaches both the same way (the trigger moves the version)."""
    app, headers, url = world
    with own_app(fresh_pg_url, index_check_seconds=0.5) as other:
        assert _suggested(app, headers, "matrix-a-01") == "ROAD"
        assert _suggested(other, headers, "matrix-b-01") == "ROAD"
        with app.app_context():
            from wangge.extensions import db
            admin = StaffFactory(roles=[R.ADMIN])
            admin_h = {"Authorization": f"Bearer {issue_token(db.session, admin, ttl_hours=2)[0]}"}
            db.session.commit()
        r = app.test_client().post("/api/v1/matrix", json={"category_code": "C0101", "grid_code": "310101001",
                                                           "department_code": "ENV"}, headers=admin_h)
        assert r.status_code in (200, 201), r.json
        assert _suggested(app, headers, "matrix-a-02") == "ENV"
        time.sleep(0.6)
        assert _suggested(other, headers, "matrix-b-02") == "ENV"
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            conn.execute("UPDATE departments SET name = '环境卫生所' WHERE code = 'ENV'")
        time.sleep(0.6)
        r = _post(other, "/api/v1/cases", BODY, headers["clerk"], "matrix-b-03")
        assert r.json["suggested_department"] == {"code": "ENV", "name": "环境卫生所"}
