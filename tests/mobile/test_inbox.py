"""GET /api/m/v1/inbox through HTTP on PostGIS: role scoping, verbs, order, counts, pages,
cursors, coordinates and distance, and a fixed number of SQL statements per page."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatch.cases.models import Case
from dispatch.clocks.models import StageClock
from geo.crs import convert_point
from mobile_api.inbox.cursor import encode
from tests.dispatch.conftest import POINT_G1, POINT_G2, do, report
from tests.factories import (
    AttachmentFactory,
    CaseFactory,
    EnforcementCaseFactory,
    StageClockFactory,
)
from tests.mobile.fixtures_inbox import INBOX, count_statements, dispatched, get, inbox, numbers
from wangge.timeutil import utcnow


def test_anonymous_is_401_and_other_roles_403(client, city):
    assert client.get(INBOX).status_code == 401
    for who in ("dispatcher", "clerk", "leader"):
        r = client.get(INBOX, headers=city.h(who))
        assert r.status_code == 403, (who, r.json)


def test_handler_sees_own_department_only_with_the_verbs_of_the_state(client, city):
    env_case = dispatched(client, city, "E0102", "ENV")
    road_case = dispatched(client, city, "C0101", "ROAD")
    env = inbox(client, city, "env")
    assert numbers(env) == [env_case]
    item = env["items"][0]
    assert item["kind"] == "case" and item["state"] == "dispatched" and item["state_name"] == "待签收"
    assert item["verbs"] == ["sign", "return"]
    assert item["category_code"] == "E0102" and item["category_name"]
    assert item["light"] == "green" and item["deadline"].endswith("+08:00")
    assert numbers(inbox(client, city, "road")) == [road_case]
    do(client, city, "env", env_case, "sign")
    item = inbox(client, city, "env")["items"][0]
    assert item["state"] == "handling" and "report_back" in item["verbs"] and "sign" not in item["verbs"]
    # reported back: no longer the handler's work
    do(client, city, "env", env_case, "report_back", note="已清理")
    assert numbers(inbox(client, city, "env")) == []


def test_worker_sees_own_tasks_and_own_reports_never_another_grid(client, city):
    mine = report(client, city, who="worker1", point=POINT_G1)["number"]
    other = report(client, city, who="worker2", point=POINT_G2)["number"]
    assert numbers(inbox(client, city, "worker1")) == [mine]
    assert inbox(client, city, "worker1")["items"][0]["verbs"] == ["self_handle"]
    assert numbers(inbox(client, city, "worker2")) == [other]
    # a verification task assigned to worker2 (its grid), not worker1
    task = report(client, city, who="clerk", point=POINT_G2)["number"]
    do(client, city, "clerk", task, "request_verify")
    w2 = inbox(client, city, "worker2")
    assert set(numbers(w2)) == {other, task}
    assert next(i for i in w2["items"] if i["number"] == task)["verbs"] == ["verify"]
    assert task not in numbers(inbox(client, city, "worker1"))


def test_enforcement_leader_and_assigned_officer_only_their_team(client, city, db_session):
    from tests.factories import DepartmentFactory, StaffFactory

    n = report(client, city, category="E0304", description="违章搭建")["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")
    c = do(client, city, "dispatcher", n, "refer_enforcement", note="移交执法")
    enf = c["events"][-1]["data"]["enforcement_number"]
    lead = inbox(client, city, "zfleader")
    assert numbers(lead) == [enf]
    assert lead["items"][0]["kind"] == "enforcement" and lead["items"][0]["parent_number"] == n
    assert "assign_officers" in lead["items"][0]["verbs"] and "accept" in lead["items"][0]["verbs"]
    assert numbers(inbox(client, city, "officer")) == []  # not assigned yet
    r = client.post(f"/api/v1/enforcement/{enf}/officers", json={"staff_ids": [city.staff["officer"].id]},
                    headers=city.h("zfleader"))
    assert r.status_code == 200, r.json
    r = client.post(f"/api/v1/enforcement/{enf}/advance", json={"to_stage": "investigate"},
                    headers=city.h("zfleader"))
    assert r.status_code == 200, r.json
    officer = inbox(client, city, "officer")
    assert numbers(officer) == [enf] and "investigate" in officer["items"][0]["verbs"]
    assert numbers(inbox(client, city, "zfleader")) == []  # investigating is the officers' work
    # an officer of another team, same role: nothing
    other_team = DepartmentFactory(code="ZF2", name="二中队", kind="enforcement_team")
    stranger = StaffFactory(roles=["enforcement_officer"], department_id=other_team.id)
    from grid.accounts.service import issue_token
    secret, _ = issue_token(db_session, stranger, ttl_hours=1)
    assert get(client, {"Authorization": f"Bearer {secret}"}, INBOX)["items"] == []


def _handling(db_session, city, n, hours_ago: float, amount: float = 4.0, **case):
    """``n`` handling cases of ENV whose running clock started ``hours_ago`` (urgent hours)."""
    made = []
    for _ in range(n):
        c = CaseFactory(state="handling", department_id=city.departments["env"].id, category_code="E0102",
                        lon=121.405, lat=31.205, **case)
        StageClockFactory(case=c, started_at=utcnow() - timedelta(hours=hours_ago), amount=amount,
                          unit="urgent_hours")
        made.append(c)
    return made


def test_order_by_deadline_nulls_last_counts_and_pages_without_gaps(client, city, db_session):
    red = _handling(db_session, city, 3, hours_ago=5)       # due 1 h ago
    yellow = _handling(db_session, city, 2, hours_ago=3.5)  # 87%
    green = _handling(db_session, city, 4, hours_ago=0)
    none = [CaseFactory(state="dispatched", department_id=city.departments["env"].id) for _ in range(2)]
    db_session.commit()
    first = inbox(client, city, "env", limit=4)
    assert first["counts"] == {"red": 3, "yellow": 2, "green": 4, "none": 2} and first["total"] == 11
    seen, cursor, pages = [], None, 0
    while True:
        page = inbox(client, city, "env", limit=4, **({"cursor": cursor} if cursor else {}))
        assert page["counts"] == first["counts"]
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 11 and len({i["number"] for i in seen}) == 11
    assert [i["light"] for i in seen] == ["red"] * 3 + ["yellow"] * 2 + ["green"] * 4 + [None] * 2
    deadlines = [i["deadline"] for i in seen if i["deadline"]]
    assert deadlines == sorted(deadlines)
    by_number = {c.number: c.id for c in (*red, *yellow, *green, *none)}
    assert [by_number[i["number"]] for i in seen[-2:]] == sorted(c.id for c in none)  # then by id


def test_a_paused_clock_counts_by_what_it_used(client, city, db_session):
    c = CaseFactory(state="suspended", department_id=city.departments["env"].id)
    clock = StageClockFactory(case=c, amount=10.0, consumed=9.0, unit="urgent_hours")
    clock.segment_started_at = clock.warn_at = clock.due_at = None
    db_session.commit()
    # suspended is not the handler's work (the dispatcher restores it) ...
    assert inbox(client, city, "env")["items"] == []
    c.state = "handling"
    db_session.commit()
    page = inbox(client, city, "env")
    assert page["items"][0]["light"] == "yellow" and page["items"][0]["deadline"] is None
    assert page["counts"]["yellow"] == 1


@pytest.mark.parametrize("cursor", ["garbage!", "a\x00b", "x" * 5000, encode(["2025-01-01", "case", 1]),
                                    encode([None, "patrol", 1]), encode([None, "case", 2**40]),
                                    encode([None, "case", "1"]), encode({"a": 1}), encode([None, "case"]),
                                    encode(["9999-01-01T00:00:00+00:00", "case", 1])])
def test_bad_cursors_are_422_naming_the_cursor(client, city, cursor):
    r = client.get(INBOX, query_string={"cursor": cursor}, headers=city.h("env"))
    assert r.status_code == 422, r.json
    assert "cursor" in r.json["fields"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": 10**20}, {"lon": 121.4},
                                    {"lon": "nan", "lat": 31}, {"lon": 200, "lat": 31}, {"crs": "utm"},
                                    {"sort": "due"}])
def test_bad_parameters_are_422(client, city, params):
    assert client.get(INBOX, query_string=params, headers=city.h("env")).status_code == 422


def test_points_in_the_asked_system_and_distance_from_me(client, city, db_session):
    n = dispatched(client, city)
    c = db_session.scalar(select(Case).where(Case.number == n))
    item = inbox(client, city, "env")["items"][0]
    assert (item["lon"], item["lat"]) == (pytest.approx(c.lon), pytest.approx(c.lat))
    assert item["distance_m"] is None
    gcj = inbox(client, city, "env", crs="gcj02")["items"][0]
    expected = convert_point(c.lon, c.lat, "wgs84", "gcj02")
    assert (gcj["lon"], gcj["lat"]) == (pytest.approx(expected[0]), pytest.approx(expected[1]))
    # I stand 0.001 degrees of latitude north (about 111 m), as AMap tells me in GCJ-02
    me = convert_point(c.lon, c.lat + 0.001, "wgs84", "gcj02")
    near = inbox(client, city, "env", crs="gcj02", lon=me[0], lat=me[1])["items"][0]
    assert 105 < near["distance_m"] < 117


def test_short_description_and_thumbnails(client, city, db_session):
    c = CaseFactory(state="dispatched", department_id=city.departments["env"].id, description="长" * 300)
    photos = [AttachmentFactory(case=c) for _ in range(5)]
    db_session.commit()
    item = inbox(client, city, "env")["items"][0]
    assert len(item["description"]) == 80 and item["description"].endswith("…")
    assert item["thumbnails"] == [f"/api/v1/attachments/{p.id}/thumbnail" for p in photos[:3]]


def test_statements_do_not_grow_with_the_page(client, city, db_session, app):
    from wangge.extensions import db

    def page_statements(n):
        for _ in range(n):
            c = CaseFactory(state="handling", department_id=city.departments["env"].id, category_code="E0102")
            StageClockFactory(case=c)
            AttachmentFactory(case=c)
            e = EnforcementCaseFactory(team=city.departments["env"])
            StageClockFactory(enforcement=e)
        db_session.commit()
        with count_statements(db.engine) as seen:
            r = client.get(INBOX, query_string={"limit": 100}, headers=h)
        assert r.status_code == 200
        return len(r.json["items"]), len(seen)

    from grid.accounts.service import issue_token
    from tests.factories import StaffFactory
    both = StaffFactory(roles=["department_handler", "enforcement_leader"], department_id=city.departments["env"].id)
    h = {"Authorization": f"Bearer {issue_token(db_session, both, ttl_hours=1)[0]}"}
    db_session.commit()
    assert client.get(INBOX, headers=h).status_code == 200  # the token read once, then from the process's cache
    items5, few = page_statements(5)      # 5 cases and 5 enforcement cases (their team: ENV here)
    items50, many = page_statements(45)
    assert items5 == 10 and items50 == 100
    assert 5 <= few == many, (few, many)


def test_running_clock_is_the_deadline(client, city, db_session):
    n = dispatched(client, city)
    item = inbox(client, city, "env")["items"][0]
    clock = db_session.scalar(select(StageClock).join(Case, Case.id == StageClock.case_id)
                              .where(Case.number == n, StageClock.ended_at.is_(None)))
    assert clock.stage == "sign"
    from wangge.present import local_iso
    with client.application.test_request_context():
        assert item["deadline"][:19] == local_iso(clock.due_at)[:19]
