"""Referral to the enforcement team (一队伍) and back, through the HTTP API on PostGIS:
stages in order with their own limits, officers, records, grouping at one place."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks.deadlines import sweep
from dispatch.enforcement import service
from dispatch.enforcement.models import EnforcementCase, EnforcementGroup, EnforcementRecord
from dispatch.notifications.models import Outbox
from dispatch.workflow.actions import replay_state
from grid.calendar.service import work_calendar
from tests.dispatch.conftest import POINT_G1, POINT_G2, do, report
from tests.factories import DepartmentFactory, StaffFactory

SHOP = POINT_G1
NEXT_DOOR = (POINT_G1[0] + 0.0002, POINT_G1[1])  # about 19 m east of SHOP
API = "/api/v1/enforcement"


# --- helpers ---------------------------------------------------------------------------

def opened_case(client, city, point=SHOP, address="测试路 8 号 小吃店"):
    n = report(client, city, point=point, category="E0304", address=address,
               description="店铺后院正在搭建违章建筑")["number"]
    do(client, city, "clerk", n, "accept")
    c = do(client, city, "shift", n, "open")
    assert c["state"] == "opened"
    return n


def refer_by_department(client, city, **kw):
    n = opened_case(client, city, **kw)
    do(client, city, "dispatcher", n, "dispatch", department_code="ROAD")
    do(client, city, "road", n, "sign")
    c = do(client, city, "road", n, "refer_enforcement", note="属违法建设，移交综合执法")
    return n, c


def refer_by_dispatcher(client, city, **kw):
    n = opened_case(client, city, **kw)
    c = do(client, city, "dispatcher", n, "refer_enforcement", note="违法建设，直接移交执法")
    return n, c


def enf_number(case_json):
    return case_json["events"][-1]["data"]["enforcement_number"]


def get(client, headers, path, expect=200):
    r = client.get(path, headers=headers)
    assert r.status_code == expect, r.json
    return r.json


def post(client, headers, path, expect=200, **body):
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == expect, r.json
    return r.json


def advance(client, city, who, number, to_stage, expect=200, **body):
    headers = city.h(who) if isinstance(who, str) else who
    return post(client, headers, f"{API}/{number}/advance", expect, to_stage=to_stage, **body)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def assert_deadline(db_session, enf: dict, amount, unit):
    cal = work_calendar(db_session)
    start = at(enf["stage_started_at"])
    assert at(enf["stage_due_at"]) == cal.add(start, amount, unit), (enf["stage"], amount, unit)
    assert at(enf["stage_warn_at"]) == cal.add(start, amount * 0.8, unit), (enf["stage"], amount, unit)
    assert enf["limit"] == {"amount": amount, "unit": unit}


def assign(client, city, number, *ids, who="zfleader", expect=200, **body):
    return post(client, city.h(who), f"{API}/{number}/officers", expect, staff_ids=list(ids), **body)


def run_to_closed(client, city, number, outcome="已拆除，恢复原状"):
    officer = city.staff["officer"].id
    assign(client, city, number, officer)
    advance(client, city, "zfleader", number, "investigate")
    advance(client, city, "officer", number, "decide", note="现场勘验：无规划许可")
    advance(client, city, "officer", number, "execute", note="责令限期拆除")
    advance(client, city, "officer", number, "close", note="当事人已自行拆除")
    return advance(client, city, "zfleader", number, "closed", note=outcome)


def snapshot(db_session, number):
    db_session.expire_all()
    enf = db_session.scalar(select(EnforcementCase).where(EnforcementCase.number == number))
    records = db_session.scalar(select(func.count(EnforcementRecord.id))
                                .where(EnforcementRecord.enforcement_id == enf.id))
    return (enf.stage, enf.version, records, sorted(o.staff_id for o in enf.officers), enf.decision,
            enf.penalty_amount, enf.outcome, enf.parent.state)


# --- the full path ---------------------------------------------------------------------

def test_referral_from_department_runs_its_stages_and_returns_for_checking(client, city, db_session):
    n, c = refer_by_department(client, city)
    assert c["state"] == "enforcement" and c["clock"] is None  # the department's clock stops
    number = enf_number(c)
    assert number == f"{n}-ZF1"

    # the leader sees the referral and was told about it
    listed = get(client, city.h("zfleader"), API)["enforcement_cases"]
    assert [e["number"] for e in listed] == [number]
    enf = get(client, city.h("zfleader"), f"{API}/{number}")
    assert enf["stage"] == "accept" and enf["stage_name"] == "受理" and enf["team"]["code"] == "ZF"
    assert enf["parent"]["number"] == n and enf["parent"]["state"] == "enforcement"
    assert enf["light"] == "green" and enf["officers"] == []
    assert [r["kind"] for r in enf["records"]] == ["referral"]
    assert enf["records"][0]["note"] == "属违法建设，移交综合执法"
    assert_deadline(db_session, enf, 4, "work_hours")  # E0304: stop the work within 4 working hours
    row = db_session.get(EnforcementCase, db_session.scalar(
        select(EnforcementCase.id).where(EnforcementCase.number == number)))
    outbox = db_session.scalar(select(Outbox).where(Outbox.dedup_key == f"enforcement:{row.id}:referred"))
    assert [r["id"] for r in outbox.payload["recipients"]] == [city.staff["zfleader"].id]

    # officers before investigating; the leader accepts, officers don't
    r = advance(client, city, "zfleader", number, "investigate", expect=409)
    assert r["code"] == "officers_first"
    assigned = assign(client, city, number, city.staff["officer"].id)
    assert assigned["version"] > enf["version"] and assigned["records"][-1]["kind"] == "assignment"
    r = advance(client, city, "officer", number, "investigate", expect=403)
    assert r["code"] == "enforcement_leader_only" and "受理" in r["message"]
    r = advance(client, city, "zfleader", number, "decide", expect=409)
    assert r["code"] == "enforcement_out_of_order"
    assert "受理" in r["message"] and "调查取证" in r["message"] and "处罚决定" in r["message"]

    enf = advance(client, city, "zfleader", number, "investigate")
    assert enf["stage"] == "investigate" and [o["id"] for o in enf["officers"]] == [city.staff["officer"].id]
    assert_deadline(db_session, enf, 7, "work_days")  # the catalog's default enf_investigate

    enf = post(client, city.h("officer"), f"{API}/{number}/records", 201, kind="finding",
               note="现场搭建约 20 平方米彩钢棚")
    assert enf["stage"] == "investigate" and enf["records"][-1]["kind"] == "finding"
    enf = advance(client, city, "officer", number, "decide", note="调查终结：未取得建设工程规划许可证")
    assert enf["stage"] == "decide"
    assert_deadline(db_session, enf, 7, "work_days")  # E0304: decide within 7 working days

    enf = advance(client, city, "officer", number, "execute", note="责令限期拆除并处罚款", penalty_amount=5000)
    assert enf["decision"] == "责令限期拆除并处罚款" and enf["penalty_amount"] == 5000
    assert_deadline(db_session, enf, 20, "work_days")  # E0304: demolish within 20 working days

    enf = advance(client, city, "officer", number, "close", note="已强制拆除")
    assert enf["stage"] == "close"
    assert_deadline(db_session, enf, 3, "work_days")
    r = advance(client, city, "officer", number, "closed", expect=403, note="结案")
    assert r["code"] == "enforcement_leader_only"
    r = advance(client, city, "zfleader", number, "closed", expect=422)  # the outcome is required
    assert "note" in r["fields"]

    enf = advance(client, city, "zfleader", number, "closed", note="违法建设已拆除，恢复原状")
    assert enf["stage"] == "closed" and enf["outcome"] == "违法建设已拆除，恢复原状"
    assert enf["light"] is None and enf["closed_at"] and enf["stage_due_at"] is None
    assert enf["parent"]["state"] == "handled"
    kinds = [(r["kind"], r["from_stage"], r["to_stage"]) for r in enf["records"]]
    assert kinds == [("referral", None, "accept"), ("assignment", "accept", "accept"),
                     ("stage", "accept", "investigate"), ("finding", "investigate", "investigate"),
                     ("finding", "investigate", "decide"), ("decision", "decide", "execute"),
                     ("execution", "execute", "close"), ("outcome", "close", "closed")]
    assert enf["records"][5]["data"]["penalty_amount"] == 5000
    r = advance(client, city, "zfleader", number, "closed", expect=409, note="again")
    assert r["code"] == "enforcement_closed"

    # the parent is checked (核查) and closed like any other case
    c = get(client, city.h("clerk"), f"/api/v1/cases/{n}")
    result = c["events"][-1]
    assert result["verb"] == "enforcement_result" and result["role"] == "system"
    assert result["note"] == "违法建设已拆除，恢复原状" and result["data"]["enforcement_number"] == number
    do(client, city, "clerk", n, "request_check")
    do(client, city, "worker1", n, "check", outcome="pass")
    c = do(client, city, "shift", n, "close")
    assert c["state"] == "closed"
    parent = db_session.scalar(select(Case).where(Case.number == n))
    assert replay_state(db_session, parent) == "closed"
    verbs = [e.verb for e in db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == parent.id)
                                                .order_by(CaseEvent.id))]
    assert verbs == ["submit", "accept", "open", "dispatch", "sign", "refer_enforcement", "enforcement_result",
                     "request_check", "check", "close"]
    closed_note = db_session.scalar(select(Outbox).where(Outbox.dedup_key == f"enforcement:{row.id}:closed"))
    ids = {r["id"] for r in closed_note.payload["recipients"]}
    assert {city.staff["clerk"].id, city.staff["road"].id} <= ids


def test_referral_from_dispatcher_when_opened(client, city, db_session):
    n, c = refer_by_dispatcher(client, city)
    assert c["state"] == "enforcement"
    number = enf_number(c)
    enf = get(client, city.h("zfleader"), f"{API}/{number}")
    assert enf["records"][0]["data"]["role"] == "dispatcher"
    assert enf["parent"]["number"] == n and enf["stage"] == "accept"
    # the dispatch center and leaders see all referrals; they do not run them
    for who in ("dispatcher", "leader", "clerk"):
        assert [e["number"] for e in get(client, city.h(who), API)["enforcement_cases"]] == [number]
    r = post(client, city.h("dispatcher"), f"{API}/{number}/advance", 403, to_stage="investigate")
    assert r["code"] == "forbidden_role"

    # the enforcement case closes; the parent comes back and is checked
    enf = run_to_closed(client, city, number)
    assert enf["parent"]["state"] == "handled"
    do(client, city, "clerk", n, "request_check")
    do(client, city, "worker1", n, "check", outcome="pass")
    assert do(client, city, "shift", n, "close")["state"] == "closed"


def test_a_case_failing_its_check_can_be_referred_again(client, city, db_session):
    n, c = refer_by_department(client, city)
    run_to_closed(client, city, enf_number(c))
    do(client, city, "clerk", n, "request_check")
    do(client, city, "worker1", n, "check", outcome="fail")  # back to the department
    c = do(client, city, "road", n, "refer_enforcement", note="又在原处搭建")
    assert enf_number(c) == f"{n}-ZF2"


# --- who may do what --------------------------------------------------------------------

@pytest.fixture
def other_team(db_session, login):
    dept = DepartmentFactory(code="ZF2", name="第二执法中队", kind="enforcement_team", grid_code="310101002")
    officer = StaffFactory(roles=["enforcement_officer"], department_id=dept.id)
    return {"dept": dept, "officer": officer,
            "leader": login("enforcement_leader", department_id=dept.id)}


def test_wrong_team_and_non_officers_are_refused(client, city, db_session, login, other_team):
    n, c = refer_by_department(client, city)
    number = enf_number(c)
    before = snapshot(db_session, number)

    # another team's leader: neither reads nor acts on it, and does not list it
    r = get(client, other_team["leader"], f"{API}/{number}", 403)
    assert r["code"] == "not_your_team" and number in r["message"]
    assert get(client, other_team["leader"], API)["enforcement_cases"] == []
    r = post(client, other_team["leader"], f"{API}/{number}/officers", 403,
             staff_ids=[other_team["officer"].id])
    assert r["code"] == "not_your_team"
    assert post(client, other_team["leader"], f"{API}/{number}/advance", 403,
                to_stage="investigate")["code"] == "not_your_team"

    # officers must be enforcement officers of this team
    r = assign(client, city, number, other_team["officer"].id, expect=422)
    assert r["code"] == "validation_error" and "staff_ids" in r["fields"]
    for bad in (city.staff["worker1"].id, city.staff["zfleader"].id, 999_999):
        assert assign(client, city, number, bad, expect=422)["code"] == "validation_error"
    # an officer cannot assign
    assert assign(client, city, number, city.staff["officer"].id, who="officer", expect=403)["code"] == \
        "forbidden_role"
    assert snapshot(db_session, number) == before

    # a team officer who is not assigned may neither advance nor record
    assign(client, city, number, city.staff["officer"].id)
    advance(client, city, "zfleader", number, "investigate")
    unassigned = login("enforcement_officer", department_id=city.departments["zf"].id)
    assert advance(client, city, unassigned, number, "decide", expect=403, note="x")["code"] == \
        "not_assigned_officer"
    assert post(client, unassigned, f"{API}/{number}/records", 403, note="x")["code"] == "not_assigned_officer"
    # ...but sees the team's referrals
    assert [e["number"] for e in get(client, unassigned, API)["enforcement_cases"]] == [number]

    # other roles
    assert get(client, city.h("worker1"), API, 403)["code"] == "forbidden_role"
    assert get(client, city.h("env"), f"{API}/{number}", 404)["code"] == "not_found"
    assert get(client, city.h("env"), API)["enforcement_cases"] == []
    assert get(client, city.h("road"), f"{API}/{number}")["number"] == number  # the referring department


def test_team_is_chosen_by_grid(client, city, db_session):
    street_team = DepartmentFactory(code="ZF3", name="测试街道执法中队", kind="enforcement_team",
                                    grid_code="310101001")
    DepartmentFactory(code="ZF4", name="别的街道执法中队", kind="enforcement_team", grid_code="310101009")
    db_session.commit()
    _, c = refer_by_dispatcher(client, city)
    enf = db_session.scalar(select(EnforcementCase).where(EnforcementCase.number == enf_number(c)))
    assert enf.team_id == street_team.id


def test_no_enforcement_team_is_a_clear_409(client, city, db_session):
    n = opened_case(client, city)
    city.departments["zf"].active = False
    db_session.commit()
    r = client.post(f"/api/v1/cases/{n}/actions/refer_enforcement", json={"note": "移交"},
                    headers=city.h("dispatcher"))
    assert r.status_code == 409 and r.json["code"] == "no_enforcement_team"
    assert "enforcement_team" in r.json["message"]
    db_session.expire_all()
    assert db_session.scalar(select(Case.state).where(Case.number == n)) == "opened"
    assert db_session.scalar(select(func.count(EnforcementCase.id))) == 0


# --- bad input --------------------------------------------------------------------------

def test_bad_input_changes_nothing(client, city, db_session):
    n = opened_case(client, city)
    r = client.post(f"/api/v1/cases/{n}/actions/refer_enforcement", json={"note": "   "},
                    headers=city.h("dispatcher"))
    assert r.status_code == 422 and "note" in r.json["fields"]
    db_session.expire_all()
    assert db_session.scalar(select(Case.state).where(Case.number == n)) == "opened"
    assert db_session.scalar(select(func.count(EnforcementCase.id))) == 0
    assert db_session.scalar(select(func.count(EnforcementGroup.id))) == 0

    c = do(client, city, "dispatcher", n, "refer_enforcement", note="违法建设")
    number = enf_number(c)
    before = snapshot(db_session, number)
    h, o = city.h("zfleader"), city.h("officer")
    assert post(client, h, f"{API}/{number}/advance", 422, to_stage="bogus")["fields"]["to_stage"]
    assert post(client, h, f"{API}/{number}/advance", 422)["fields"]["to_stage"]
    assert post(client, h, f"{API}/{number}/officers", 422, staff_ids=[])["fields"]["staff_ids"]
    assert post(client, h, f"{API}/{number}/officers", 422, staff_ids="x")["fields"]["staff_ids"]
    assert post(client, h, f"{API}/{number}/records", 422, kind="finding", note="too early")["fields"]["kind"]
    assert post(client, h, f"{API}/{number}/records", 422, kind="verdict", note="x")["fields"]["kind"]
    assert post(client, h, f"{API}/{number}/records", 422)["fields"]["note"]
    assert post(client, h, f"{API}/{number}/records", 422, note="x", attachments=[424242])["fields"]["attachments"]
    assert post(client, h, f"{API}/{number}/advance", 409, to_stage="investigate",
                expected_version=before[1] + 5)["code"] == "enforcement_conflict"
    assert post(client, h, "/api/v1/enforcement/NOPE-ZF1/advance", 404, to_stage="investigate")["code"] == \
        "not_found"
    assert snapshot(db_session, number) == before

    assign(client, city, number, city.staff["officer"].id)
    advance(client, city, "zfleader", number, "investigate")
    advance(client, city, "officer", number, "decide", note="查明")
    before = snapshot(db_session, number)
    assert post(client, o, f"{API}/{number}/advance", 422, to_stage="execute", note="罚款",
                penalty_amount=-1)["fields"]["penalty_amount"]
    assert post(client, o, f"{API}/{number}/advance", 422, to_stage="execute", note="罚款",
                penalty_amount="lots")["fields"]["penalty_amount"]
    assert post(client, o, f"{API}/{number}/advance", 422, to_stage="execute",
                penalty_amount=100)["fields"]["note"]
    assert post(client, o, f"{API}/{number}/advance", 422, to_stage="execute", note="罚款",
                attachments=[424242])["fields"]["attachments"]
    assert post(client, o, f"{API}/{number}/advance", 409, to_stage="close", note="跳过")["code"] == \
        "enforcement_out_of_order"
    assert post(client, o, f"{API}/{number}/advance", 409, to_stage="investigate", note="回头")["code"] == \
        "enforcement_out_of_order"
    assert snapshot(db_session, number) == before
    enf = advance(client, city, "officer", number, "execute", note="不予处罚")  # no penalty is fine
    assert enf["penalty_amount"] is None and enf["decision"] == "不予处罚"
    r = post(client, o, f"{API}/{number}/advance", 422, to_stage="close", note="执行", penalty_amount=5)
    assert "penalty_amount" in r["fields"]


def test_records_are_append_only(client, city, db_session):
    _, c = refer_by_dispatcher(client, city)
    record = db_session.scalar(select(EnforcementRecord).limit(1))
    record.note = "rewritten"
    with pytest.raises(RuntimeError, match="append-only"):
        db_session.flush()
    db_session.rollback()
    record = db_session.scalar(select(EnforcementRecord).limit(1))
    db_session.delete(record)
    with pytest.raises(RuntimeError, match="append-only"):
        db_session.flush()
    db_session.rollback()


# --- one place, one visit ---------------------------------------------------------------

def test_referrals_at_one_shop_share_a_group_and_the_leader_sees_it(client, city, db_session):
    n1, c1 = refer_by_dispatcher(client, city, point=SHOP)
    n2, c2 = refer_by_department(client, city, point=NEXT_DOOR)
    e1, e2 = enf_number(c1), enf_number(c2)
    first = get(client, city.h("zfleader"), f"{API}/{e1}")
    second = get(client, city.h("zfleader"), f"{API}/{e2}")
    assert first["group_id"] == second["group_id"] is not None
    assert [m["number"] for m in second["group"]["members"]] == [e1]  # the others of the group
    assert second["group"]["size"] == 2 and second["group"]["open"] is True

    group = get(client, city.h("zfleader"), f"{API}/groups/{first['group_id']}")
    assert [m["number"] for m in group["members"]] == [e1, e2]
    assert group["lon"] == SHOP[0] and group["address"] == "测试路 8 号 小吃店"
    # joining extended the window to the later referral's
    assert at(group["window_ends_at"]) == at(second["created_at"]) + timedelta(days=7)
    groups = get(client, city.h("zfleader"), f"{API}/groups")["groups"]
    assert [g["id"] for g in groups] == [group["id"]]
    assert [e["number"] for e in get(client, city.h("zfleader"), f"{API}?group={group['id']}")[
        "enforcement_cases"]] == [e2, e1]
    # the leader's notice of the second referral names the first
    row2 = db_session.scalar(select(EnforcementCase).where(EnforcementCase.number == e2))
    notice = db_session.scalar(select(Outbox).where(Outbox.dedup_key == f"enforcement:{row2.id}:referred"))
    assert e1 in notice.payload["text_zh"] and notice.payload["group_id"] == group["id"]

    # one team, one visit: the same officer takes the whole group
    enf = assign(client, city, e1, city.staff["officer"].id, whole_group=True)
    assert [o["id"] for o in enf["group"]["members"][0]["officers"]] == [city.staff["officer"].id]

    # closing one does not close the other
    run_to_closed(client, city, e1)
    other = get(client, city.h("zfleader"), f"{API}/{e2}")
    assert other["stage"] == "accept" and other["closed_at"] is None
    assert other["parent"]["state"] == "enforcement"
    assert get(client, city.h("clerk"), f"/api/v1/cases/{n1}")["state"] == "handled"
    assert get(client, city.h("clerk"), f"/api/v1/cases/{n2}")["state"] == "enforcement"
    # a third referral there joins the group while one member is still open
    _, c3 = refer_by_dispatcher(client, city, point=SHOP)
    assert get(client, city.h("zfleader"), f"{API}/{enf_number(c3)}")["group_id"] == group["id"]


def test_far_away_or_later_referrals_get_their_own_group(client, city, db_session, monkeypatch):
    _, c1 = refer_by_dispatcher(client, city, point=SHOP)
    _, c2 = refer_by_dispatcher(client, city, point=POINT_G2, address="测试路 99 号")  # about 950 m away
    g1 = get(client, city.h("zfleader"), f"{API}/{enf_number(c1)}")["group_id"]
    g2 = get(client, city.h("zfleader"), f"{API}/{enf_number(c2)}")
    assert g2["group_id"] != g1 and g2["group"]["members"] == []
    assert get(client, city.h("zfleader"), f"{API}/groups")["groups"] == []  # no group of two yet

    # outside the window: eight days later the same shop is a new visit
    real_now = service.utcnow
    monkeypatch.setattr(service, "utcnow", lambda: real_now() + timedelta(days=8))
    _, c3 = refer_by_dispatcher(client, city, point=SHOP)
    g3 = get(client, city.h("zfleader"), f"{API}/{enf_number(c3)}")["group_id"]
    assert g3 not in (g1, g2["group_id"])
    monkeypatch.setattr(service, "utcnow", real_now)

    # the distance is configuration: with 2 km the far shop joins the first group
    monkeypatch.setattr(client.application.config["WANGGE"], "enforcement_group_distance_m", 2000.0)
    _, c4 = refer_by_dispatcher(client, city, point=POINT_G2, address="测试路 99 号")
    g4 = get(client, city.h("zfleader"), f"{API}/{enf_number(c4)}")["group_id"]
    assert g4 in (g1, g2["group_id"])


def test_the_forbidden_leader_of_another_team_cannot_see_a_group(client, city, db_session, other_team):
    _, c = refer_by_dispatcher(client, city)
    group_id = get(client, city.h("zfleader"), f"{API}/{enf_number(c)}")["group_id"]
    assert get(client, other_team["leader"], f"{API}/groups/{group_id}", 404)["code"] == "not_found"
    assert get(client, other_team["leader"], f"{API}/groups")["groups"] == []


# --- lights and deadline notices --------------------------------------------------------

def test_light_and_deadline_sweep(client, city, db_session):
    _, c = refer_by_dispatcher(client, city)
    number = enf_number(c)
    enf = db_session.scalar(select(EnforcementCase).where(EnforcementCase.number == number))
    clock = service.clock(db_session, enf)  # the stage's clock, swept with the cases' clocks
    now = service.utcnow()
    clock.warn_at = now - timedelta(minutes=5)
    db_session.commit()
    assert get(client, city.h("zfleader"), f"{API}/{number}")["light"] == "yellow"
    assert [e["number"] for e in get(client, city.h("zfleader"), f"{API}?light=yellow")["enforcement_cases"]] == \
        [number]
    assert sweep(db_session) == {"warnings": 1, "overdue": 0}
    assert sweep(db_session) == {"warnings": 0, "overdue": 0}  # once only
    clock = service.clock(db_session, enf)
    clock.due_at = now - timedelta(minutes=1)
    db_session.commit()
    assert get(client, city.h("zfleader"), f"{API}/{number}")["light"] == "red"
    assert get(client, city.h("zfleader"), f"{API}?light=green")["enforcement_cases"] == []
    assert sweep(db_session) == {"warnings": 0, "overdue": 1}
    assert sweep(db_session) == {"warnings": 0, "overdue": 0}
