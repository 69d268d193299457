"""No N+1: the SQL statements of one request to each main list or detail endpoint are the
same with 2 rows as with 20 (rows: the list's items, or a case's events and photos). A
presenter that loads something per row makes the count grow and fails here, naming the
endpoint and both counts.

Statements are counted by a ``before_cursor_execute`` listener around the request alone."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from dispatch.cases.models import Case
from mobile_api.push.models import SyncPushItem
from tests.dispatch.conftest import city  # noqa: F401 - the fixture
from tests.factories import (
    AttachmentFactory,
    CaseEventFactory,
    CaseFactory,
    EnforcementCaseFactory,
    GridFactory,
    StageClockFactory,
)
from wangge.timeutil import utcnow


@contextmanager
def counting():
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def statements(client, path, headers=None, **query) -> int:
    client.get(path, query_string=query, headers=headers)  # warm: caches of reference data, tokens
    with counting() as seen:
        r = client.get(path, query_string=query, headers=headers)
    assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
    return len(seen)


def assert_flat(client, db_session, label, grow, path, headers=None, **query):
    """``grow(n)`` makes the rows; the counts at 2 and 20 rows must be equal."""
    grow(2)
    db_session.commit()
    few = statements(client, path, headers, **query)
    grow(18)
    db_session.commit()
    many = statements(client, path, headers, **query)
    assert many == few, f"{label}: {few} statements with 2 rows, {many} with 20 (one or more per row)"


def handling_case(town, **extra) -> Case:
    case = CaseFactory(**{"state": "handling", "department": town.departments["env"], "category_code": "E0102",
                          "channel": "open311", **extra})
    StageClockFactory(case=case)
    return case


@pytest.fixture
def dispatcher(city):  # noqa: F811 - the fixture of tests.dispatch.conftest
    return city.h("dispatcher")


def test_case_queue(client, db_session, city, dispatcher):  # noqa: F811
    def grow(n):
        for _ in range(n):
            handling_case(city)
    assert_flat(client, db_session, "case queue", grow, "/api/v1/cases", dispatcher)
    assert_flat(client, db_session, "case queue by deadline", grow, "/api/v1/cases", dispatcher, sort="deadline")
    assert_flat(client, db_session, "case queue filtered", grow, "/api/v1/cases", dispatcher,
                light="green", grid="310101001", department="ENV")
    assert_flat(client, db_session, "case queue searched", grow, "/api/v1/cases", dispatcher, q="垃圾",
                reported_from="2020-01-01")
    assert_flat(client, db_session, "case counts", grow, "/api/v1/cases/counts", dispatcher,
                q="垃圾", grid="310101001", department="ENV")


def test_case_detail_and_open311_detail(client, db_session, city, dispatcher):  # noqa: F811
    case = handling_case(city)
    db_session.flush()
    actor = city.staff["env"]

    def grow(n):
        for _ in range(n):
            event_ = CaseEventFactory(case=case, verb="report_back", actor_id=actor.id, actor_role="department_handler",
                                      from_state="handling", to_state="handled", note="已处理")
            db_session.flush()
            AttachmentFactory(case=case, uploader=actor, event_id=event_.id, kind="after")
    assert_flat(client, db_session, "case detail", grow, f"/api/v1/cases/{case.number}", dispatcher)
    assert_flat(client, db_session, "case events", grow, f"/api/v1/cases/{case.number}/events", dispatcher)
    assert_flat(client, db_session, "Open311 request", grow, f"/open311/v2/requests/{case.number}.json")


def test_open311_list(client, db_session, city):  # noqa: F811
    def grow(n):
        for _ in range(n):
            master = handling_case(city)
            db_session.flush()
            handling_case(city, merged_into_id=master.id, state="merged")
            CaseEventFactory(case=master, verb="report_back", actor_role="department_handler",
                             from_state="handling", to_state="handled", note="已处理")
    assert_flat(client, db_session, "Open311 requests", grow, "/open311/v2/requests.json")
    assert_flat(client, db_session, "Open311 requests (XML)", grow, "/open311/v2/requests.xml")


def test_phone_inbox(client, db_session, city):  # noqa: F811
    def grow(n):
        for _ in range(n):
            case = handling_case(city)
            db_session.flush()
            AttachmentFactory(case=case, uploader=city.staff["worker1"])
    assert_flat(client, db_session, "phone inbox", grow, "/api/m/v1/inbox", city.h("env"))


def test_enforcement_list(client, db_session, city):  # noqa: F811
    team = city.departments["zf"]

    def grow(n):
        for _ in range(n):
            enf = EnforcementCaseFactory(team=team, parent=CaseFactory(state="enforcement",
                                                                        department=city.departments["env"]))
            db_session.flush()
            StageClockFactory(enforcement=enf)
    assert_flat(client, db_session, "enforcement list", grow, "/api/v1/enforcement", city.h("dispatcher"))
    assert_flat(client, db_session, "enforcement list (team)", grow, "/api/v1/enforcement", city.h("zfleader"))


def test_flagged_photos(client, db_session, city, dispatcher):  # noqa: F811
    def grow(n):
        for _ in range(n):
            case = handling_case(city)
            db_session.flush()
            AttachmentFactory(case=case, uploader=city.staff["worker1"], flags="no_exif")
    assert_flat(client, db_session, "flagged photos", grow, "/api/v1/attachments/flagged", dispatcher)


def test_sync_conflicts(client, db_session, city, dispatcher):  # noqa: F811
    def grow(n):
        for i in range(n):
            case = handling_case(city)
            db_session.flush()
            db_session.add(SyncPushItem(staff_id=city.staff["worker1"].id, client_id=f"c{case.id}-{i}",
                                        kind="action", fingerprint="f" * 64, body={"verb": "sign"},
                                        outcome="conflict", code="case_moved_on", answer={"message": "moved"},
                                        case_id=case.id, resolved_at=utcnow() - timedelta(minutes=1),
                                        resolved_by_id=city.staff["dispatcher"].id, resolution_note="ok"))
    assert_flat(client, db_session, "sync conflicts", grow, "/api/v1/sync-conflicts", dispatcher)


def test_grids_list(client, db_session, city, dispatcher):  # noqa: F811
    from shapely.geometry import box

    made = []

    def grow(n):
        for _ in range(n):
            i = len(made)
            made.append(GridFactory(code=f"3101010019{i:04d}", name=f"网格{i}", parent_code="310101001",
                                    geom=box(121.40, 31.20, 121.401, 31.201), area_m2=1))
    assert_flat(client, db_session, "grids", grow, "/api/v1/grids", dispatcher)
