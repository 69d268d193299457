"""Correcting a case before dispatch (issue 9): ``reclassify`` (改类) and ``relocate``
(改址/定位) through ``POST /api/v1/cases/<number>/actions/<verb>``. A citizen report without a
category or a point gets routing, the category's time limits and its place in the indicators
once corrected; the wrong people, bad input and a dispatched case are refused and change
nothing; two clerks at once lose no update (docs/dispatch.md, "Correcting a case")."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import box
from sqlalchemy import func, select

from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks import deadlines
from dispatch.clocks.models import StageClock
from dispatch.indicators import kpi, rollup
from dispatch.indicators.definitions import GROUPS
from dispatch.notifications.models import Outbox
from grid.models import Category, Grid
from tests.dispatch.conftest import POINT_G1, POINT_G2, do, report
from tests.dispatch.test_paths import public_post
from tests.dispatch.test_photo_kinds import detail  # (client, city, number, who="dispatcher")
from wangge.timeutil import utcnow

G1, G2, STREET = "31010100100101", "31010100100102", "310101001"
OUTSIDE = (121.50, 31.30)  # east of the test street: in no grid


def citizen(client, **extra) -> str:
    """A citizen's report with an address only: no category, no point, no grid."""
    r = public_post(client, "/api/v1/public/reports", description="小区门口垃圾堆了三天", address="测试路8号",
                    **extra)
    assert r.status_code == 201, r.json
    return r.json["number"]


def post(client, city, who, number, verb, **body):
    return client.post(f"/api/v1/cases/{number}/actions/{verb}", json=body, headers=city.h(who) if who else {})


def snapshot(db_session, number) -> tuple:
    """What a refused request must leave as it was: the case's columns and its events."""
    db_session.expire_all()
    case = db_session.scalar(select(Case).where(Case.number == number))
    events = db_session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id))
    clocks = db_session.execute(select(StageClock.id, StageClock.ended_at).where(StageClock.case_id == case.id)
                                .order_by(StageClock.id)).all()
    return (case.version, case.category_code, case.grid_id, case.grid_code, case.lon, case.lat, case.address,
            case.suggested_department_id, case.suggestion_reason, case.assignee_id, case.duplicate_of_id,
            case.state, events, clocks)


def last_event(answer: dict, verb: str) -> dict:
    event = answer["events"][-1]
    assert event["verb"] == verb, answer["events"]
    return event


# --- happy paths ------------------------------------------------------------------------

def test_a_citizen_report_gets_a_place_a_category_and_routing(client, city):
    n = citizen(client)
    case = detail(client, city, n)
    assert case["grid_code"] is None and case["category_code"] is None and case["suggested_department"] is None
    for who in ("clerk", "shift", "dispatcher"):
        verbs = detail(client, city, n, who)["allowed_verbs"]
        assert {"reclassify", "relocate"} <= set(verbs), (who, verbs)
    assert not {"reclassify", "relocate"} & set(detail(client, city, n, "leader")["allowed_verbs"])

    moved = do(client, city, "clerk", n, "relocate", lon=POINT_G2[0], lat=POINT_G2[1], address="测试路18号")
    assert (moved["grid_code"], moved["lon"], moved["lat"], moved["address"]) == (G2, *POINT_G2, "测试路18号")
    assert moved["state"] == "reported" and moved["version"] == case["version"] + 1
    event = last_event(moved, "relocate")
    assert (event["from"], event["to"], event["role"]) == ("reported", "reported", "intake_clerk")
    assert event["data"]["before"] == {"grid_code": None, "lon": None, "lat": None, "address": "测试路8号"}
    assert event["data"]["after"] == {"grid_code": G2, "lon": POINT_G2[0], "lat": POINT_G2[1], "address": "测试路18号"}
    assert event["data"]["suggested_department"] == {"before": None, "after": None}  # no category yet

    classified = do(client, city, "shift", n, "reclassify", category_code="E0102")
    assert classified["category_code"] == "E0102"
    assert classified["suggested_department"] == {"code": "ENV", "name": "环卫所"}
    assert "ENV" in classified["suggestion_reason"] or "环卫所" in classified["suggestion_reason"]
    event = last_event(classified, "reclassify")
    assert event["data"]["before"] == {"category_code": None} and event["data"]["after"] == {"category_code": "E0102"}
    assert event["data"]["suggested_department"] == {"before": None, "after": "ENV"}
    assert event["data"]["suggestion_reason"]["key"] == "suggestion_rule"
    assert event["role"] == "shift_leader"

    # the rest of its life is a routed case's: E0102 is auto-dispatched to ENV when opened,
    # with the category's handling limit (4 working hours) once signed
    do(client, city, "clerk", n, "accept")
    opened = do(client, city, "shift", n, "open")
    assert opened["state"] == "dispatched" and opened["department"]["code"] == "ENV"
    signed = do(client, city, "env", n, "sign")
    assert (signed["clock"]["stage"], signed["clock"]["amount"], signed["clock"]["unit"]) == \
        ("handle", 4, "work_hours")
    # after dispatch the desk cannot correct it any more: the lifecycle's code
    r = post(client, city, "clerk", n, "reclassify", category_code="C0101")
    assert r.status_code == 409 and r.json["code"] == "verb_not_allowed", r.json


def test_reclassify_rearms_the_running_clock_from_the_stage_start(client, city, db_session):
    n = citizen(client)
    do(client, city, "clerk", n, "relocate", lon=POINT_G1[0], lat=POINT_G1[1])
    do(client, city, "clerk", n, "accept")
    opened = do(client, city, "shift", n, "open")
    clock = opened["clock"]
    assert (clock["stage"], clock["amount"], clock["unit"]) == ("dispatch", 0.5, "work_hours")  # the default

    urgent = do(client, city, "dispatcher", n, "reclassify", category_code="E0401")  # 10 urgent minutes
    assert urgent["state"] == "opened"
    new = urgent["clock"]
    assert (new["stage"], new["amount"], new["unit"]) == ("dispatch", 0.1667, "urgent_hours")
    assert new["started_at"] == clock["started_at"], "the time already spent still counts"
    event = last_event(urgent, "reclassify")
    assert event["data"]["clock"]["before"]["unit"] == "work_hours"
    assert event["data"]["clock"]["after"] == {"amount": 0.1667, "unit": "urgent_hours",
                                               "due_at": event["data"]["clock"]["after"]["due_at"]}
    started = datetime.fromisoformat(new["started_at"])
    assert datetime.fromisoformat(new["due_at"]) - started == timedelta(hours=0.1667)

    case_id = db_session.scalar(select(Case.id).where(Case.number == n))
    clocks = db_session.scalars(select(StageClock).where(StageClock.case_id == case_id, StageClock.stage == "dispatch")
                                .order_by(StageClock.id)).all()
    assert len(clocks) == 2 and clocks[0].ended_at is not None and clocks[1].ended_at is None
    assert clocks[1].started_at == clocks[0].started_at
    assert db_session.scalar(select(Case.clock_due_at).where(Case.id == case_id)) == clocks[1].due_at

    # a category with the same limit for the stage leaves the clock alone
    same = do(client, city, "dispatcher", n, "reclassify", category_code="E0402")
    assert same["clock"] == new and "clock" not in last_event(same, "reclassify")["data"]
    # the dispatcher sends it where the (new) category goes
    dispatched = do(client, city, "dispatcher", n, "dispatch", department_code="ROAD")
    assert dispatched["state"] == "dispatched"


def test_relocate_by_grid_and_address_when_there_is_no_point(client, city):
    """A hotline order with an address the server cannot geocode: the clerk picks the grid."""
    r = client.post("/api/v1/cases", json={"channel": "hotline", "description": "井盖缺失", "category_code": "C0101",
                                           "address": "某路口", "external_id": "HL-1",
                                           "reported_at": utcnow().isoformat()}, headers=city.h("clerk"))
    assert r.status_code == 201, r.json
    n = r.json["number"]
    assert detail(client, city, n)["suggestion_reason"]  # everywhere-rule without a grid
    moved = do(client, city, "clerk", n, "relocate", grid_code=G1, address="测试路与一号路交叉口")
    assert (moved["grid_code"], moved["lon"], moved["address"]) == (G1, None, "测试路与一号路交叉口")
    assert moved["suggested_department"]["code"] == "ROAD"
    # the grid worker of that grid sees it now (their grid's cases)
    assert detail(client, city, n, "worker1")["number"] == n
    r = client.get(f"/api/v1/cases/{n}", headers=city.h("worker2"))
    assert r.status_code == 404


def test_relocate_by_grid_drops_a_point_that_lies_elsewhere(client, city):
    n = report(client, city, point=POINT_G1, category="C0101")["number"]
    moved = do(client, city, "clerk", n, "relocate", grid_code=G2)
    assert (moved["grid_code"], moved["lon"], moved["lat"]) == (G2, None, None)
    assert last_event(moved, "relocate")["data"]["before"]["lon"] == POINT_G1[0]
    # naming the grid of the point keeps the point (and only the address changes)
    m = report(client, city, point=POINT_G1, category="C0101", description="另一处")["number"]
    kept = do(client, city, "clerk", m, "relocate", grid_code=G1, address="测试路1号")
    assert (kept["grid_code"], kept["lon"], kept["lat"], kept["address"]) == (G1, *POINT_G1, "测试路1号")
    # both: the point must lie in the grid named
    both = do(client, city, "clerk", m, "relocate", grid_code=G2, lon=POINT_G2[0], lat=POINT_G2[1])
    assert (both["grid_code"], both["lon"]) == (G2, POINT_G2[0])


def test_a_verify_task_follows_the_case_to_its_new_grid(client, city, db_session):
    n = citizen(client)
    do(client, city, "clerk", n, "relocate", lon=POINT_G1[0], lat=POINT_G1[1])
    sent = do(client, city, "clerk", n, "request_verify")
    assert sent["assignee_id"] == city.staff["worker1"].id
    moved = do(client, city, "clerk", n, "relocate", lon=POINT_G2[0], lat=POINT_G2[1])
    assert moved["state"] == "verifying" and moved["assignee_id"] == city.staff["worker2"].id
    event = last_event(moved, "relocate")
    assert (event["data"]["previous_assignee_id"], event["data"]["assignee_id"]) == \
        (city.staff["worker1"].id, city.staff["worker2"].id)
    assert moved["clock"]["stage"] == "verify" and moved["clock"]["started_at"] > sent["clock"]["started_at"]
    told = db_session.scalars(select(Outbox.payload).where(Outbox.dedup_key == f"event:{event['id']}")).one()
    assert [r["id"] for r in told["recipients"]] == [city.staff["worker2"].id]
    r = post(client, city, "worker1", n, "verify", outcome="confirmed")
    assert r.status_code in (403, 404), r.json
    assert do(client, city, "worker2", n, "verify", outcome="confirmed")["state"] == "accepted"


def test_a_correction_can_reveal_a_duplicate(client, city):
    first = report(client, city, point=POINT_G1, category="E0102")["number"]
    n = citizen(client)
    do(client, city, "clerk", n, "relocate", lon=POINT_G1[0] + 0.0001, lat=POINT_G1[1])
    assert detail(client, city, n)["possible_duplicate_of"] is None  # no category yet
    classified = do(client, city, "clerk", n, "reclassify", category_code="E0102")
    assert classified["possible_duplicate_of"] == first
    assert last_event(classified, "reclassify")["data"]["possible_duplicate_of"] == first
    other = do(client, city, "clerk", n, "reclassify", category_code="C0101")
    assert other["possible_duplicate_of"] is None


def test_a_correction_in_opened_dispatches_an_auto_dispatch_category(client, city):
    """Opened without a category, auto-dispatch could not run; once the category says
    auto-dispatch and the matrix names a department, the case goes as ``open`` would send it."""
    n = citizen(client)
    do(client, city, "clerk", n, "relocate", lon=POINT_G1[0], lat=POINT_G1[1])
    do(client, city, "clerk", n, "accept")
    assert do(client, city, "shift", n, "open")["state"] == "opened"
    answer = do(client, city, "dispatcher", n, "reclassify", category_code="E0102")
    assert answer["state"] == "dispatched" and answer["department"]["code"] == "ENV"
    assert [e["verb"] for e in answer["events"][-2:]] == ["reclassify", "dispatch"]


def test_indicators_count_the_case_under_its_new_category_and_grid(client, city, db_session):
    """The roll-up (stored facts and the dirty overlay) answers what the from-scratch
    computation answers, and the corrected case counts where it is now."""
    n = report(client, city, point=POINT_G1, category="E0102")["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")  # auto-dispatched: a dispatch clock, a dispatch event
    m = citizen(client)
    do(client, city, "clerk", m, "accept")
    do(client, city, "shift", m, "open")
    while rollup.fold(db_session):
        pass
    do(client, city, "clerk", m, "relocate", lon=POINT_G2[0], lat=POINT_G2[1])
    do(client, city, "dispatcher", m, "reclassify", category_code="C0101")
    do(client, city, "dispatcher", m, "dispatch")  # to ROAD, the suggestion
    now = utcnow()
    start, end = now - timedelta(days=1), now + timedelta(days=1)

    def same(label):
        rows = {}
        for by in GROUPS:
            expected = kpi.compute(db_session, start, end, by, now=now + timedelta(hours=1), source="scratch")
            got = kpi.compute(db_session, start, end, by, now=now + timedelta(hours=1), source="rollup")
            assert got == expected, (label, by)
            rows[by] = {row["key"]: row for row in got}
        return rows

    assert rollup.dirty_count(db_session) > 0
    for label in ("dirty", "folded"):
        rows = same(label)
        assert rows["category"]["C0101"]["reports"] == 1 and rows["category"]["C0101"]["dispatched"] == 1
        assert rows["category"]["E0102"]["reports"] == 1
        assert rows["grid"][G2]["reports"] == 1 and rows["grid"][G1]["reports"] == 1
        assert None not in rows["grid"] and None not in rows["category"], "nothing left uncounted"
        while rollup.fold(db_session):
            pass


# --- who may ------------------------------------------------------------------------------

@pytest.mark.parametrize("who, status, code", [
    ("worker1", 403, "forbidden_role"),  # the case lies in their grid: they see it, may not correct it
    ("leader", 403, "forbidden_role"),
    ("env", 404, "not_found"),  # a department sees a case once dispatched to it: not before
    (None, 401, "unauthorized")])
@pytest.mark.parametrize("verb, body", [("reclassify", {"category_code": "C0101"}),
                                        ("relocate", {"lon": POINT_G2[0], "lat": POINT_G2[1]})])
def test_not_for_others(client, city, db_session, who, status, code, verb, body):
    n = report(client, city, point=POINT_G1, category="E0102")["number"]
    before = snapshot(db_session, n)
    r = post(client, city, who, n, verb, **body)
    assert r.status_code == status and r.json["code"] == code, r.json
    assert snapshot(db_session, n) == before


def test_a_reopened_case_is_corrected_by_the_desk_not_by_its_department(client, city, db_session):
    """Reopened after a bad rating (``follow_up``: back to ``opened``, still ROAD's): ROAD's
    handler sees it and may not correct it; the dispatcher may, before dispatching again."""
    n = report(client, city, point=POINT_G1, category="C0101")["number"]
    for who, verb, body in [("clerk", "accept", {}), ("shift", "open", {}), ("dispatcher", "dispatch", {}),
                            ("road", "sign", {}), ("road", "report_back", {"note": "已更换"}),
                            ("clerk", "request_check", {}), ("worker1", "check", {"outcome": "pass"}),
                            ("shift", "close", {}), ("clerk", "rate", {"rating": "unsatisfied"}),
                            ("clerk", "follow_up", {"outcome": "reopen", "note": "换的井盖不对"})]:
        do(client, city, who, n, verb, **body)
    assert "reclassify" not in detail(client, city, n, "road")["allowed_verbs"]
    before = snapshot(db_session, n)
    r = post(client, city, "road", n, "reclassify", category_code="C0102")
    assert r.status_code == 403 and r.json["code"] == "forbidden_role", r.json
    assert snapshot(db_session, n) == before
    assert do(client, city, "dispatcher", n, "reclassify", category_code="C0102")["category_code"] == "C0102"


def test_a_role_the_verb_does_not_take_is_refused(client, city, db_session):
    n = report(client, city, point=POINT_G1, category="E0102")["number"]
    before = snapshot(db_session, n)
    r = post(client, city, "clerk", n, "reclassify", category_code="C0101", role="grid_worker")
    assert r.status_code == 403 and r.json["code"] in ("forbidden_role", "verb_forbidden"), r.json
    assert snapshot(db_session, n) == before


@pytest.mark.parametrize("steps", [
    [("clerk", "accept", {}), ("shift", "open", {}), ("dispatcher", "dispatch", {})],
    [("clerk", "reject", {"note": "重复"})],
    [("clerk", "request_void", {"note": "虚假"})],
])
def test_refused_after_dispatch_and_in_other_states(client, city, db_session, steps):
    n = report(client, city, point=POINT_G1, category="C0101")["number"]
    for who, verb, body in steps:
        do(client, city, who, n, verb, **body)
    before = snapshot(db_session, n)
    for verb, body in (("reclassify", {"category_code": "E0102"}), ("relocate", {"grid_code": G2})):
        r = post(client, city, "dispatcher", n, verb, **body)
        assert r.status_code == 409 and r.json["code"] == "verb_not_allowed", r.json
    assert snapshot(db_session, n) == before


# --- bad input ------------------------------------------------------------------------------

BAD = [
    ("reclassify", {}, 422, "validation_error", "category_code"),
    ("reclassify", {"category_code": ""}, 422, "validation_error", "category_code"),
    ("reclassify", {"category_code": "X" * 33}, 422, "validation_error", "category_code"),
    ("reclassify", {"category_code": "E01\u0000"}, 422, "invalid_characters", None),
    ("reclassify", {"category_code": "Z9999"}, 422, "validation_error", "category_code"),
    ("reclassify", {"category_code": "E01"}, 422, "validation_error", "category_code"),  # a big class
    ("reclassify", {"category_code": 12}, 422, "validation_error", "category_code"),
    ("reclassify", {"category_code": "E0102"}, 409, "correction_unchanged", "category_code"),
    ("reclassify", {"category_code": "C0101", "lon": 121.4}, 422, "validation_error", "lon"),
    ("relocate", {}, 422, "validation_error", "grid_code"),
    ("relocate", {"lon": POINT_G2[0]}, 422, "validation_error", "lat"),
    ("relocate", {"lat": POINT_G2[1]}, 422, "validation_error", "lon"),
    ("relocate", {"lon": 1e308, "lat": 31.2}, 422, "validation_error", "lon"),
    ("relocate", {"lon": 121.4, "lat": -91}, 422, "validation_error", "lat"),
    ("relocate", {"lon": "东经121度", "lat": 31.2}, 422, "validation_error", "lon"),
    ("relocate", {"lon": True, "lat": 31.2}, 422, "validation_error", "lon"),
    ("relocate", {"lon": OUTSIDE[0], "lat": OUTSIDE[1]}, 422, "point_outside_grids", "lon"),
    ("relocate", {"lon": POINT_G1[0], "lat": POINT_G1[1]}, 409, "correction_unchanged", "lon"),
    ("relocate", {"grid_code": G1}, 409, "correction_unchanged", "grid_code"),
    ("relocate", {"grid_code": G2, "lon": POINT_G1[0], "lat": POINT_G1[1]}, 422, "validation_error", "grid_code"),
    ("relocate", {"grid_code": STREET}, 422, "validation_error", "grid_code"),  # not a unit grid
    ("relocate", {"grid_code": "310101001001999"}, 422, "validation_error", "grid_code"),
    ("relocate", {"grid_code": "G" * 65}, 422, "validation_error", "grid_code"),
    ("relocate", {"grid_code": G2, "address": "路" * 201}, 422, "validation_error", "address"),
    ("relocate", {"grid_code": G2, "address": "   "}, 422, "validation_error", "address"),
    ("relocate", {"grid_code": G2, "address": "测试\u0000路"}, 422, "invalid_characters", None),
    ("relocate", {"grid_code": G2, "category_code": "C0101"}, 422, "validation_error", "category_code"),
    ("relocate", {"grid_code": G2, "expected_version": 99}, 409, "stale_case", None),
    ("accept", {"category_code": "C0101"}, 422, "validation_error", "category_code"),
]


@pytest.mark.parametrize("verb, body, status, code, field", BAD, ids=[f"{v}-{i}" for i, (v, *_) in enumerate(BAD)])
def test_bad_input_is_refused_and_changes_nothing(client, city, db_session, verb, body, status, code, field):
    n = report(client, city, point=POINT_G1, category="E0102")["number"]
    before = snapshot(db_session, n)
    r = post(client, city, "clerk", n, verb, **body)
    assert r.status_code == status and r.json["code"] == code, r.json
    if field is not None:
        assert field in r.json["fields"], r.json
    assert snapshot(db_session, n) == before


@pytest.mark.parametrize("raw", ['{"lon": NaN, "lat": 31.2}', '{"lon": 121.4, "lat": Infinity}',
                                 '{"lon": 1e400, "lat": 31.2}', '{"lon": -1e999, "lat": 31.2}'])
def test_not_a_number_coordinates(client, city, db_session, raw):
    n = report(client, city, point=POINT_G1, category="E0102")["number"]
    before = snapshot(db_session, n)
    r = client.post(f"/api/v1/cases/{n}/actions/relocate", data=raw, content_type="application/json",
                    headers=city.h("clerk"))
    assert r.status_code in (400, 422), r.json
    assert snapshot(db_session, n) == before


def test_an_inactive_or_retired_reference_is_refused(client, city, db_session):
    n = report(client, city, point=POINT_G1, category="E0102")["number"]
    db_session.get(Category, "C0102").active = False
    retired = db_session.scalar(select(Grid).where(Grid.code == G2))
    retired.valid_to = datetime(2026, 1, 1, tzinfo=UTC)
    from grid.grids import locator

    locator.bump_layer(db_session)
    db_session.commit()
    before = snapshot(db_session, n)
    r = post(client, city, "clerk", n, "reclassify", category_code="C0102")
    assert r.status_code == 422 and "category_code" in r.json["fields"], r.json
    r = post(client, city, "clerk", n, "relocate", grid_code=G2)
    assert r.status_code == 422 and "grid_code" in r.json["fields"], r.json
    r = post(client, city, "clerk", n, "relocate", lon=POINT_G2[0], lat=POINT_G2[1])  # in the retired grid only
    assert r.status_code == 422 and r.json["code"] == "point_outside_grids", r.json
    assert snapshot(db_session, n) == before


def test_messages_name_the_field_in_both_languages(client, city):
    n = report(client, city, point=POINT_G1, category="E0102")["number"]
    zh = post(client, city, "clerk", n, "relocate", lon=OUTSIDE[0], lat=OUTSIDE[1]).json
    en = client.post(f"/api/v1/cases/{n}/actions/relocate?lang=en", json={"lon": OUTSIDE[0], "lat": OUTSIDE[1]},
                     headers=city.h("clerk")).json
    assert "网格" in zh["message"] and "grid_code" in zh["message"]
    assert "no unit grid" in en["message"] and en["fields"]["lat"] == ["the point lies in no unit grid"]
    same = client.post(f"/api/v1/cases/{n}/actions/reclassify?lang=en", json={"category_code": "E0102"},
                       headers=city.h("clerk")).json
    assert same["code"] == "correction_unchanged" and "E0102" in same["fields"]["category_code"][0]


# --- the re-arm itself ------------------------------------------------------------------------

def test_rearm_keeps_the_start_extensions_and_a_paused_segment(client, city, db_session):
    """``deadlines.rearm`` on clocks a correction does not meet today (extended, paused): the
    start, the extension and what was used before a pause (same unit) are kept."""
    n = report(client, city, point=POINT_G1, category="C0101")["number"]
    case = db_session.scalar(select(Case).where(Case.number == n))
    t0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # Tuesday 09:00 in Shanghai
    clock = deadlines.start_clock(db_session, case, "dispatch", at=t0)
    deadlines.extend(db_session, clock, 1.0, at=t0 + timedelta(minutes=10))
    assert deadlines.rearm(db_session, case, clock, at=t0 + timedelta(minutes=20)) is None  # same category

    case.category_code = "E0401"  # 0.1667 urgent hours
    change = deadlines.rearm(db_session, case, clock, at=t0 + timedelta(minutes=20))
    new = deadlines.current_clock(db_session, case)
    assert clock.ended_at == t0 + timedelta(minutes=20) and new is not clock
    assert (new.started_at, new.amount, new.unit, new.extended) == (t0, 1.1667, "urgent_hours", 1.0)
    assert abs((new.due_at - t0).total_seconds() - 1.1667 * 3600) < 1  # the 10 minutes before the extension count
    assert change["before"]["unit"] == "work_hours" and change["after"]["amount"] == 1.1667

    deadlines.pause(db_session, new, at=t0 + timedelta(minutes=30))
    case.category_code = "E0402"  # same limit: nothing
    assert deadlines.rearm(db_session, case, new, at=t0 + timedelta(minutes=40)) is None
    case.category_code = "C0101"  # back to working hours: a paused clock stays paused
    deadlines.rearm(db_session, case, new, at=t0 + timedelta(minutes=40))
    back = deadlines.current_clock(db_session, case)
    assert back.segment_started_at is None and back.due_at is None and back.warn_at is None
    assert (back.amount, back.unit) == (1.5, "work_hours")
    assert abs(back.consumed - 40 / 60) < 1e-6  # from the start in the new unit, the pause included
    deadlines.resume(db_session, back, at=t0 + timedelta(minutes=50))
    assert abs((back.due_at - t0).total_seconds() - 100 * 60) < 1


# --- two clerks at once ---------------------------------------------------------------------

@pytest.fixture
def desk(fresh_pg_url):
    """An app on a database of its own, committed: the test street, two intake clerks, a
    dispatcher, ENV and ROAD with their matrix rules."""
    from grid.accounts.service import issue_token
    from tests.committed import own_app
    from tests.factories import DepartmentFactory, GridFactory, ResponsibilityFactory, StaffFactory
    from wangge.extensions import db

    with own_app(fresh_pg_url) as app:
        with app.app_context():
            GridFactory(code=STREET, name="测试街道", level="street", geom=box(121.40, 31.20, 121.42, 31.21))
            GridFactory(code=G1, parent_code=STREET, geom=box(121.40, 31.20, 121.41, 31.21))
            GridFactory(code=G2, parent_code=STREET, geom=box(121.41, 31.20, 121.42, 31.21))
            ResponsibilityFactory(category_code="E0102", department=DepartmentFactory(code="ENV", name="环卫所"))
            ResponsibilityFactory(category_code="C0101", department=DepartmentFactory(code="ROAD", name="路政"))
            headers = {}
            for name, role in (("clerk1", "intake_clerk"), ("clerk2", "intake_clerk"), ("dispatcher", "dispatcher")):
                staff = StaffFactory(roles=[role])
                headers[name] = {"Authorization": f"Bearer {issue_token(db.session, staff, ttl_hours=2)[0]}"}
            db.session.commit()
        yield app, headers, fresh_pg_url


def _committed_case(app, number: str) -> tuple:
    from wangge.extensions import db

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.number == number))
        verbs = db.session.scalars(select(CaseEvent.verb).where(CaseEvent.case_id == case.id)
                                   .order_by(CaseEvent.id)).all()
        out = (case.category_code, case.grid_code, case.version, verbs)
        db.session.remove()
    return out


def _desk_report(app, headers) -> str:
    r = app.test_client().post("/api/v1/cases", json={"channel": "hotline", "description": "垃圾",
                                                      "address": "测试路2号"}, headers=headers["clerk1"])
    assert r.status_code == 201, r.json
    return r.json["number"]


def test_two_clerks_correcting_at_once_lose_no_update(desk):
    """Released together: either one wins and the other is told (409 ``case_conflict``:
    reload and try again), or one committed before the other read and both changes are
    there. Never a silent overwrite."""
    from tests.committed import post_race

    app, headers, _ = desk
    for _ in range(4):
        n = _desk_report(app, headers)
        url = f"/api/v1/cases/{n}/actions/"
        answers = post_race(app, [(url + "reclassify", {"category_code": "E0102"}, headers["clerk1"]),
                                  (url + "relocate", {"lon": POINT_G2[0], "lat": POINT_G2[1]}, headers["clerk2"])])
        category, grid, version, verbs = _committed_case(app, n)
        statuses = sorted(status for status, _ in answers)
        if statuses == [200, 200]:
            assert (category, grid) == ("E0102", G2) and version == 3 and sorted(verbs[1:]) == ["reclassify",
                                                                                              "relocate"]
        else:
            assert statuses == [200, 409], answers
            loser = next(body for status, body in answers if status == 409)
            assert loser["code"] == "case_conflict" and n in loser["message"], loser
            assert len(verbs) == 2 and version == 2
            assert (category, grid) == (("E0102", None) if verbs[1] == "reclassify" else (None, G2))


def test_the_second_of_two_reclassifications_is_told_not_overwritten(desk, monkeypatch):
    """Deterministic: the first holds the case row (written, not committed) when the second
    reads the same version; the second's versioned UPDATE then matches nothing."""
    from tests.dispatch.test_concurrency import _interleave

    app, headers, url = desk
    n = _desk_report(app, headers)
    path = f"/api/v1/cases/{n}/actions/"
    a, b = _interleave(app, url, monkeypatch, (path + "reclassify", {"category_code": "E0102"}, headers["clerk1"]),
                       (path + "reclassify", {"category_code": "C0101"}, headers["clerk2"]))
    assert a[0] == 200 and a[1]["category_code"] == "E0102" and a[1]["suggested_department"]["code"] == "ENV"
    assert b[0] == 409 and b[1]["code"] == "case_conflict", b
    category, _grid, version, verbs = _committed_case(app, n)
    assert (category, version, verbs) == ("E0102", 2, ["submit", "reclassify"])
    # told, the second clerk reloads and corrects again, knowingly
    r = app.test_client().post(path + "reclassify", json={"category_code": "C0101", "expected_version": 2},
                               headers=headers["clerk2"])
    assert r.status_code == 200 and r.json["suggested_department"]["code"] == "ROAD", r.json
