"""Keyset paging of the case queue (both sort orders) and of Open311 ``requests``: walking
every page gives every case once, in the order of one big page, also when cases arrive
between two pages; a cursor that is not one is a 400 naming ``cursor``; on PostgreSQL and on
the embedded SQLite file."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from dispatch.cases.models import Case
from dispatch.clocks.models import StageClock
from grid.accounts.service import issue_token
from grid.models import GridAssignment
from tests.conftest import REDIS_URL, make_settings
from tests.factories import CaseFactory, DepartmentFactory, StaffFactory
from wangge import pagination
from wangge.timeutil import utcnow


def seed(session, n: int, dept) -> None:
    """``n`` cases: most with a running clock (due times with ties, in the past and ahead), a
    few paused, a few without a clock; reported a minute apart (newest last)."""
    now = utcnow()
    for i in range(n):
        case = CaseFactory(state="handling", department=dept, reported_at=now - timedelta(minutes=n - i),
                           channel="open311", category_code="E0102")
        session.flush()
        if i % 5 == 4:
            continue  # no clock
        due = now + timedelta(hours=(i * 7) % 6 - 2)  # ties: six distinct due times
        session.add(StageClock(case_id=case.id, stage="handle", department_id=dept.id, started_at=now,
                               amount=1, unit="workdays", consumed=0.5, extended=0,
                               segment_started_at=None if i % 7 == 3 else now,
                               warn_at=due - timedelta(hours=1), due_at=due))
    session.flush()


def walk(client, headers, limit: int, between=None, **query) -> list[str]:
    seen, cursor, pages = [], None, 0
    while True:
        r = client.get("/api/v1/cases", query_string={**query, "limit": limit, **({"cursor": cursor} if cursor else {})},
                       headers=headers)
        assert r.status_code == 200, r.json
        assert len(r.json["cases"]) <= limit
        seen += [c["number"] for c in r.json["cases"]]
        cursor, pages = r.json["next_cursor"], pages + 1
        assert pages <= 100, "the cursor does not move on"
        if cursor is None:
            return seen
        if between is not None and pages == 1:
            between()


def whole(client, headers, **query) -> list[str]:
    r = client.get("/api/v1/cases", query_string={**query, "limit": 500}, headers=headers)
    assert r.status_code == 200 and r.json["next_cursor"] is None, r.json
    return [c["number"] for c in r.json["cases"]]


def check_paging(client, session, headers, dept) -> None:
    seed(session, 23, dept)
    session.commit()
    for sort in ("newest", "deadline"):
        everything = whole(client, headers, sort=sort)
        assert len(everything) == len(set(everything)) == 23
        for limit in (1, 4, 23, 50):
            assert walk(client, headers, limit, sort=sort) == everything, (sort, limit)
        # filtered: the light uses the owner's copy (paused clocks have no light)
        red = whole(client, headers, sort=sort, light="red")
        assert walk(client, headers, 2, sort=sort, light="red") == red and 0 < len(red) < 23
    deadline = whole(client, headers, sort="deadline")
    dues = session.execute(select(Case.number, Case.clock_due_at).order_by(Case.id)).all()
    due_of = dict(dues)
    dated = [n for n in deadline if due_of[n] is not None]
    assert [due_of[n] for n in dated] == sorted(due_of[n] for n in dated)
    assert deadline[len(dated):] and all(due_of[n] is None for n in deadline[len(dated):])  # undated last
    assert deadline[len(dated):] == sorted(deadline[len(dated):], key=lambda n: [c for c, _ in dues].index(n))

    # cases arriving between two pages: no case repeated, none skipped
    for sort in ("newest", "deadline"):
        before = set(whole(client, headers, sort=sort))

        def arrive():
            seed(session, 3, dept)
            session.commit()

        walked = walk(client, headers, 4, between=arrive, sort=sort)
        assert len(walked) == len(set(walked)) and before <= set(walked), sort


def expected(session, sort: str, where, now) -> list[str]:
    """The numbers the queue should answer, in its order, computed here from the rows."""
    rows = [r for r in session.execute(select(Case.number, Case.id, Case.clock_due_at, Case.clock_warn_at,
                                              Case.clock_paused_light, Case.state, Case.grid_code,
                                              Case.reporter_staff_id)).all() if where(r)]
    if sort == "newest":
        return [r.number for r in sorted(rows, key=lambda r: -r.id)]
    if sort == "warning":
        return [r.number for r in sorted(rows, key=lambda r: (r.clock_warn_at, r.id))]
    dated = sorted((r for r in rows if r.clock_due_at is not None), key=lambda r: (r.clock_due_at, r.id))
    return [r.number for r in dated + sorted((r for r in rows if r.clock_due_at is None), key=lambda r: r.id)]


def check_branches(client, session, headers, worker_headers, worker_id) -> None:
    """The queries read as a union of index ranges (one per state, one per branch of what a grid
    worker sees) and the warning order of ``light=green``: every page walked gives the rows
    computed here, in order, each once."""
    session.execute(update(Case).where(Case.id % 3 == 0).values(state="closed"))
    session.execute(update(Case).where(Case.id % 4 == 1).values(state="dispatched"))
    session.execute(update(Case).where(Case.id % 5 == 2).values(grid_code="W1"))
    session.execute(update(Case).where(Case.id % 7 == 3).values(grid_code="W2"))
    session.execute(update(Case).where(Case.id % 6 == 1).values(reporter_staff_id=worker_id))
    # the ids come from a sequence shared with other tests, so the modulo rules above may miss
    # every green case: the worker reported the first one in any case
    first_green = (select(func.min(Case.id)).where(Case.clock_warn_at > utcnow(), Case.clock_paused_light.is_(None))
                   .scalar_subquery())
    session.execute(update(Case).where(Case.id == first_green).values(reporter_staff_id=worker_id))
    session.add_all([GridAssignment(staff_id=worker_id, grid_code=code, valid_from=utcnow() - timedelta(days=1))
                     for code in ("W1", "W2")])
    session.commit()
    now = utcnow()

    def mine(r):
        return r.reporter_staff_id == worker_id or r.grid_code in ("W1", "W2")

    def green(r):
        return r.clock_paused_light is None and r.clock_warn_at is not None and r.clock_warn_at > now

    for sort in ("newest", "deadline"):
        two = expected(session, sort, lambda r: r.state in ("closed", "dispatched"), now)
        assert walk(client, headers, 2, sort=sort, state="closed,dispatched") == two and len(two) > 10, sort
        theirs = expected(session, sort, mine, now)
        assert walk(client, worker_headers, 2, sort=sort) == theirs and 5 < len(theirs) < 30, sort
        both = expected(session, sort, lambda r: mine(r) and r.state in ("closed", "handling"), now)
        assert walk(client, worker_headers, 3, sort=sort, state="closed,handling") == both and both, sort
        red = expected(session, sort, lambda r: r.state in ("dispatched", "handling") and r.clock_paused_light is None
                       and r.clock_due_at is not None and r.clock_due_at < now, now)
        assert walk(client, headers, 2, sort=sort, state="dispatched,handling", light="red") == red and red, sort
    greens = expected(session, "warning", green, now)
    assert walk(client, headers, 2, sort="deadline", light="green") == greens and greens
    greens = expected(session, "warning", lambda r: green(r) and mine(r), now)
    assert walk(client, worker_headers, 1, sort="deadline", light="green") == greens and greens


def check_bad_cursors(client, headers) -> None:
    first = client.get("/api/v1/cases", query_string={"limit": 1, "sort": "deadline", "lang": "en"}, headers=headers)
    other_sort = first.json["next_cursor"]
    for bad, query in (("garbage!", {}), ("eyJhIjoxfQ", {}), (other_sort, {"sort": "newest"}),
                       (pagination.encode("open311", "2026-01-01T00:00:00+00:00", 5), {}),
                       (pagination.encode("cases", "newest", None, 0), {}),
                       (pagination.encode("cases", "deadline", "2026-01-01T00:00:00", 5), {"sort": "deadline"}),
                       ("x" * 600, {})):
        r = client.get("/api/v1/cases", query_string={**query, "cursor": bad, "lang": "en"}, headers=headers)
        assert r.status_code == 400 and r.json["code"] == "bad_cursor", (bad, r.json)
        assert list(r.json["fields"]) == ["cursor"] and "cursor" in r.json["message"]
    r = client.get("/api/v1/cases", query_string={"cursor": other_sort, "offset": 5, "sort": "deadline"},
                   headers=headers)
    assert r.status_code == 422 and list(r.json["fields"]) == ["offset"]


def check_open311(client) -> None:
    everything = client.get("/open311/v2/requests.json").json
    assert len(everything) >= 23
    seen, cursor = [], None
    while True:
        r = client.get("/open311/v2/requests.json", query_string={"page_size": 4, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.json
        seen += [x["service_request_id"] for x in r.json]
        cursor = r.headers.get("Open311-Next-Cursor")
        if cursor is None:
            assert "Link" not in r.headers
            break
        assert r.headers["Link"].endswith('rel="next"') and f"cursor={cursor}" in r.headers["Link"]
    assert seen == [x["service_request_id"] for x in everything]
    xml = client.get("/open311/v2/requests.xml", query_string={"page_size": 2})
    assert xml.status_code == 200 and xml.headers["Open311-Next-Cursor"]
    for query in ({"cursor": "nope"}, {"cursor": cursor or "x", "page": 2}):
        r = client.get("/open311/v2/requests.json", query_string=query)
        assert r.status_code == 400 and "cursor" in r.json[0]["description"], r.json


def test_paging_on_postgresql(client, db_session, city):
    check_paging(client, db_session, city.h("dispatcher"), city.departments["env"])
    worker = StaffFactory(roles=["grid_worker"])
    secret, _ = issue_token(db_session, worker, ttl_hours=1)
    check_branches(client, db_session, city.h("dispatcher"), {"Authorization": f"Bearer {secret}"}, worker.id)
    check_bad_cursors(client, city.h("dispatcher"))
    check_open311(client)


@contextmanager
def sqlite_app(tmp_path):
    from grid.catalog.service import load_catalog
    from wangge import create_app
    from wangge.cli import upgrade_database
    from wangge.extensions import db

    assert REDIS_URL  # the run's Redis, so the process-wide rate limiter is not re-pointed at memory
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'w.sqlite3'}", jobs_inline=True))
    with app.app_context():
        upgrade_database()
        load_catalog(db.session)
        db.session.commit()
        try:
            yield app, db.session
        finally:
            db.session.rollback()
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def test_paging_on_sqlite(tmp_path):
    with sqlite_app(tmp_path) as (app, session):
        dept = DepartmentFactory(code="ENV", name="环卫所")
        dispatcher = StaffFactory(roles=["dispatcher"])
        secret, _ = issue_token(session, dispatcher, ttl_hours=1)
        session.commit()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {secret}"}
        check_paging(client, session, headers, dept)
        worker = StaffFactory(roles=["grid_worker"])
        secret, _ = issue_token(session, worker, ttl_hours=1)
        check_branches(client, session, headers, {"Authorization": f"Bearer {secret}"}, worker.id)
        check_bad_cursors(client, headers)
        check_open311(client)


@pytest.mark.parametrize("text", ["", "a", "eyJ4Ijox", "W10", "WyJjYXNlcyJd", "\u00e9" * 3])
def test_decode_refuses_what_is_not_a_cursor(text):
    with pytest.raises(Exception) as err:
        pagination.decode(text, "cases", 3)
    assert getattr(err.value, "code", None) == "bad_cursor" and err.value.status == 400
