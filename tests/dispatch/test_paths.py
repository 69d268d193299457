"""End-to-end paths through the HTTP API on PostGIS, each actor signed in with their own role
(docs/domain.md §2): the main line and every side path the lifecycle table declares."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from dispatch.attachments.models import Attachment
from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks.models import StageClock
from dispatch.notifications.models import Outbox
from dispatch.workflow.actions import replay_state
from tests.dispatch.conftest import POINT_G1, POINT_G2, do, report
from tests.factories import AttachmentFactory

_ip = itertools.count(1)


# --- helpers shared by the dispatch tests -------------------------------------------------

# How to bring a fresh C0101 (manhole cover -> ROAD, no auto-dispatch) case reported by
# worker1 in grid 1 into each state: (who, verb, body) steps after the report.
_TO_HANDLING = [("clerk", "accept", {}), ("shift", "open", {}), ("dispatcher", "dispatch", {}),
                ("road", "sign", {})]
STEPS: dict[str, list[tuple[str, str, dict]]] = {
    "reported": [],
    "verifying": [("clerk", "request_verify", {})],
    "accepted": [("clerk", "accept", {})],
    "rejected": [("clerk", "reject", {"note": "不属于受理范围"})],
    "opened": _TO_HANDLING[:2],
    "dispatched": _TO_HANDLING[:3],
    "handling": _TO_HANDLING,
    "return_requested": [*_TO_HANDLING, ("road", "return", {"note": "不属于本部门"})],
    "extension_requested": [*_TO_HANDLING, ("road", "request_extension", {"note": "需要采购配件"})],
    "suspend_requested": [*_TO_HANDLING, ("road", "request_suspend", {"note": "需立项", "review_date": "2027-03-01"})],
    "suspended": [*_TO_HANDLING, ("road", "request_suspend", {"note": "需立项", "review_date": "2027-03-01"}),
                  ("dispatcher", "decide_suspend", {"outcome": "approve"})],
    "handled": [*_TO_HANDLING, ("road", "report_back", {"note": "已更换"})],
    "checking": [*_TO_HANDLING, ("road", "report_back", {"note": "已更换"}), ("clerk", "request_check", {})],
    "check_passed": [*_TO_HANDLING, ("road", "report_back", {"note": "已更换"}), ("clerk", "request_check", {}),
                     ("worker1", "check", {"outcome": "pass"})],
    "closed": [*_TO_HANDLING, ("road", "report_back", {"note": "已更换"}), ("clerk", "request_check", {}),
               ("worker1", "check", {"outcome": "pass"}), ("shift", "close", {})],
    "void_requested": [*_TO_HANDLING[:2], ("dispatcher", "request_void", {"note": "重复上报"})],
    "voided": [*_TO_HANDLING[:2], ("dispatcher", "request_void", {"note": "重复上报"}),
               ("shift", "decide_void", {"outcome": "approve"})],
}


def drive(client, city, state: str, category: str = "C0101", point=POINT_G1) -> str:
    """A new case brought to ``state`` through the API; returns its number."""
    if state == "merged":
        master = report(client, city, category=category, point=point)["number"]
        n = report(client, city, category=category, point=point)["number"]
        do(client, city, "clerk", n, "merge", into=master)
        return n
    n = report(client, city, category=category, point=point)["number"]
    for who, verb, body in STEPS[state]:
        do(client, city, who, n, verb, **body)
    assert get(client, city, "clerk", n)["state"] == state
    return n


def get(client, city, who: str, number: str) -> dict:
    r = client.get(f"/api/v1/cases/{number}", headers=city.h(who))
    assert r.status_code == 200, r.json
    return r.json


def events(db_session, number: str) -> list[CaseEvent]:
    case = db_session.scalar(select(Case).where(Case.number == number))
    return list(db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))


def outbox(db_session, number: str, template: str) -> list[dict]:
    rows = db_session.scalars(select(Outbox).where(Outbox.topic == "case_event").order_by(Outbox.id))
    return [r.payload for r in rows if r.payload.get("case") == number and r.payload.get("template") == template]


def recipients(db_session, number: str, template: str) -> list[dict]:
    return [rcpt for p in outbox(db_session, number, template) for rcpt in p["recipients"]]


def staff_ids(rcpts: list[dict]) -> set[int]:
    return {r["id"] for r in rcpts if r["kind"] == "staff"}


def public_post(client, url: str, **body):
    """A citizen's request from an address of its own (the public endpoints are rate limited)."""
    n = next(_ip)
    return client.post(url, json=body, environ_base={"REMOTE_ADDR": f"10.77.{n // 250}.{n % 250 + 1}"})


def attachment(db_session, city, who="worker1", name="photo.jpg") -> int:
    return AttachmentFactory(uploader=city.staff[who], filename=name).id


def assert_replays(db_session, number: str) -> None:
    case = db_session.scalar(select(Case).where(Case.number == number))
    assert replay_state(db_session, case) == case.state


# --- the main line ----------------------------------------------------------------------

def test_straight_through(client, city, db_session):
    case = report(client, city, category="C0101")
    n = case["number"]
    assert case["state"] == "reported" and case["grid_code"] == "31010100100101"
    assert case["suggested_department"]["code"] == "ROAD" and "路政" in case["suggestion_reason"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")
    c = do(client, city, "dispatcher", n, "dispatch")
    assert c["department"]["code"] == "ROAD" and c["clock"]["stage"] == "sign"
    do(client, city, "road", n, "sign")
    c = do(client, city, "road", n, "report_back", note="已更换井盖")
    assert c["state"] == "handled"
    c = do(client, city, "clerk", n, "request_check")
    assert c["assignee_id"] == city.staff["worker1"].id
    do(client, city, "worker1", n, "check", outcome="pass")
    c = do(client, city, "shift", n, "close")
    assert c["state"] == "closed" and c["clock"] is None
    row = db_session.query(Case).filter_by(number=n).one()
    assert replay_state(db_session, row) == "closed"
    verbs = [e.verb for e in db_session.query(CaseEvent).filter_by(case_id=row.id).order_by(CaseEvent.id)]
    assert verbs == ["submit", "accept", "open", "dispatch", "sign", "report_back", "request_check", "check", "close"]
    # every stage had a clock, each ended exactly once, in order
    stages = [c.stage for c in db_session.scalars(select(StageClock).where(StageClock.case_id == row.id)
                                                  .order_by(StageClock.id))]
    assert stages == ["open", "dispatch", "sign", "handle", "check", "close"]
    assert db_session.scalar(select(StageClock).where(StageClock.case_id == row.id,
                                                      StageClock.ended_at.is_(None))) is None
    # the reporter hears the answer (点对点反馈)
    assert city.staff["worker1"].id in staff_ids(recipients(db_session, n, "close"))


def test_auto_dispatch_category_goes_out_on_open(client, city, db_session):
    n = report(client, city, category="E0102")["number"]
    do(client, city, "clerk", n, "accept")
    c = do(client, city, "shift", n, "open")
    assert c["state"] == "dispatched" and c["department"]["code"] == "ENV"
    roles = [e["role"] for e in c["events"]]
    assert roles[-1] == "system"


def test_events_record_who_which_role_when_from_to_note(client, city, db_session):
    n = drive(client, city, "handling")
    c = do(client, city, "road", n, "report_back", note="已更换", attachments=[attachment(db_session, city, "road")])
    last = c["events"][-1]
    assert last["verb"] == "report_back" and last["role"] == "department_handler"
    assert last["actor"]["id"] == city.staff["road"].id and last["at"].endswith("+08:00")
    assert (last["from"], last["to"], last["note"]) == ("handling", "handled", "已更换")
    assert len(last["attachments"]) == 1
    assert [e["to"] for e in c["events"]] == ["reported", "accepted", "opened", "dispatched", "handling", "handled"]
    assert_replays(db_session, n)


# --- 核实 verify before opening -------------------------------------------------------------

def test_verify_confirmed_then_opened(client, city, db_session):
    n = report(client, city, who="clerk", category="C0101", channel="hotline")["number"]
    c = do(client, city, "clerk", n, "request_verify")
    assert c["state"] == "verifying" and c["assignee_id"] == city.staff["worker1"].id
    assert c["clock"]["stage"] == "verify"
    assert city.staff["worker1"].id in staff_ids(recipients(db_session, n, "request_verify"))
    c = do(client, city, "worker1", n, "verify", outcome="confirmed", note="现场确认")
    assert c["state"] == "accepted" and c["events"][-1]["data"]["outcome"] == "confirmed"
    c = do(client, city, "shift", n, "open")
    assert c["state"] == "opened"
    assert_replays(db_session, n)


def test_verify_false_report_is_rejected(client, city, db_session):
    n = report(client, city, who="clerk", category="C0101", channel="hotline")["number"]
    do(client, city, "clerk", n, "request_verify", assignee_id=city.staff["worker2"].id)
    c = do(client, city, "worker2", n, "verify", outcome="false_report", note="现场无此问题")
    assert c["state"] == "rejected" and c["clock"] is None and c["allowed_verbs"] == []
    do(client, city, "shift", n, "open", expect=409)
    assert_replays(db_session, n)


# --- 回退 return and re-dispatch ------------------------------------------------------------

def test_return_accepted_and_redispatched(client, city, db_session):
    n = drive(client, city, "handling")
    c = do(client, city, "road", n, "return", note="井盖属燃气公司，不属路政")
    assert c["state"] == "return_requested" and c["clock"]["stage"] == "handle"  # clock keeps running
    assert city.staff["dispatcher"].id in staff_ids(recipients(db_session, n, "return"))
    c = do(client, city, "dispatcher", n, "rule_return", outcome="accept", note="同意退回")
    assert c["state"] == "opened" and c["department"] is None and c["clock"]["stage"] == "dispatch"
    rule = events(db_session, n)[-1]
    assert rule.department_id == city.departments["road"].id  # the return counts against ROAD
    c = do(client, city, "dispatcher", n, "dispatch", department_code="ENV")
    assert c["state"] == "dispatched" and c["department"]["code"] == "ENV"
    assert c["events"][-1]["data"]["overrides_suggestion"] is True
    assert city.staff["env"].id in staff_ids(recipients(db_session, n, "dispatch"))
    # ROAD no longer sees it; ENV does and carries on
    assert client.get(f"/api/v1/cases/{n}", headers=city.h("road")).status_code == 404
    do(client, city, "env", n, "sign")
    c = do(client, city, "env", n, "report_back", note="已处理")
    assert c["state"] == "handled"
    assert_replays(db_session, n)


def test_return_refused_goes_back_to_where_it_was(client, city, db_session):
    n = drive(client, city, "dispatched")
    do(client, city, "road", n, "return", note="非本部门")
    c = do(client, city, "dispatcher", n, "rule_return", outcome="refuse", note="审定由路政处置")
    assert c["state"] == "dispatched" and c["department"]["code"] == "ROAD" and c["clock"]["stage"] == "sign"
    assert city.staff["road"].id in staff_ids(recipients(db_session, n, "rule_return"))
    do(client, city, "road", n, "sign")
    assert_replays(db_session, n)


def test_redispatch_to_another_department(client, city, db_session):
    n = drive(client, city, "handling")
    before = get(client, city, "dispatcher", n)["clock"]
    c = do(client, city, "dispatcher", n, "redispatch", department_code="ENV", note="改派环卫")
    assert c["state"] == "dispatched" and c["department"]["code"] == "ENV" and c["clock"]["stage"] == "sign"
    assert c["clock"]["started_at"] >= before["started_at"]
    assert c["events"][-1]["data"]["previous_department_id"] == city.departments["road"].id
    assert city.staff["env"].id in staff_ids(recipients(db_session, n, "redispatch"))
    assert client.get(f"/api/v1/cases/{n}", headers=city.h("road")).status_code == 404
    do(client, city, "env", n, "sign")
    # an inactive or unknown department is refused, nothing changes
    version = get(client, city, "dispatcher", n)["version"]
    r = client.post(f"/api/v1/cases/{n}/actions/redispatch", json={"department_code": "NOPE"},
                    headers=city.h("dispatcher"))
    assert r.status_code == 404 and get(client, city, "dispatcher", n)["version"] == version
    assert_replays(db_session, n)


# --- 延期 extension -------------------------------------------------------------------------

def test_extension_refused_then_approved(client, city, db_session):
    n = drive(client, city, "handling")
    clock = get(client, city, "road", n)["clock"]
    assert clock["stage"] == "handle" and (clock["amount"], clock["unit"]) == (3.0, "work_days")
    c = do(client, city, "road", n, "request_extension", note="需要采购配件")
    assert c["state"] == "extension_requested"
    assert c["events"][-1]["data"] == {"amount": 3.0, "unit": "work_days"}
    c = do(client, city, "dispatcher", n, "decide_extension", outcome="refuse", note="不同意")
    assert c["state"] == "handling" and c["clock"]["due_at"] == clock["due_at"] and c["clock"]["extended"] == 0
    do(client, city, "road", n, "request_extension", note="确需延期")
    c = do(client, city, "dispatcher", n, "decide_extension", outcome="approve")
    assert c["state"] == "handling" and c["clock"]["amount"] == 6.0 and c["clock"]["extended"] == 3.0
    assert c["clock"]["due_at"] > clock["due_at"]
    assert [e["data"].get("outcome") for e in c["events"] if e["verb"] == "decide_extension"] == ["refuse", "approve"]
    assert_replays(db_session, n)


def test_extension_cap_is_configured_and_enforced(client, city, db_session, app, monkeypatch):
    assert app.config["WANGGE"].max_extensions == 2
    n = drive(client, city, "handling")
    for _ in range(2):
        do(client, city, "road", n, "request_extension", note="再延期")
        do(client, city, "dispatcher", n, "decide_extension", outcome="approve")
    before = get(client, city, "road", n)
    r = client.post(f"/api/v1/cases/{n}/actions/request_extension", json={"note": "第三次"}, headers=city.h("road"))
    assert r.status_code == 409 and r.json["code"] == "extension_limit" and "2" in r.json["message"]
    after = get(client, city, "road", n)
    assert (after["state"], after["version"], len(after["events"])) == ("handling", before["version"],
                                                                         len(before["events"]))
    # refusals do not count; a deployment may allow fewer
    m = drive(client, city, "handling")
    monkeypatch.setattr(app.config["WANGGE"], "max_extensions", 1)
    do(client, city, "road", m, "request_extension", note="一")
    do(client, city, "dispatcher", m, "decide_extension", outcome="refuse")
    do(client, city, "road", m, "request_extension", note="二")
    do(client, city, "dispatcher", m, "decide_extension", outcome="approve")
    r = client.post(f"/api/v1/cases/{m}/actions/request_extension", json={"note": "三"}, headers=city.h("road"))
    assert r.status_code == 409 and r.json["code"] == "extension_limit"


# --- 挂账 suspension ------------------------------------------------------------------------

def test_suspension_and_restore(client, city, db_session):
    n = drive(client, city, "handling")
    c = do(client, city, "road", n, "request_suspend", note="需立项资金", review_date="2027-03-01")
    assert c["state"] == "suspend_requested" and c["review_date"] == "2027-03-01"
    assert city.staff["dispatcher"].id in staff_ids(recipients(db_session, n, "request_suspend"))
    c = do(client, city, "dispatcher", n, "decide_suspend", outcome="approve")
    assert c["state"] == "suspended" and c["clock"]["paused"] is True and c["clock"]["due_at"] is None
    assert get(client, city, "dispatcher", n)["allowed_verbs"] == ["restore"]
    c = do(client, city, "dispatcher", n, "restore", note="资金到位")
    assert c["state"] == "handling" and c["clock"]["paused"] is False and c["clock"]["due_at"]
    assert c["review_date"] is None and c["clock"]["stage"] == "handle"
    c = do(client, city, "road", n, "report_back", note="已修复")
    assert c["state"] == "handled"
    assert_replays(db_session, n)


def test_suspension_refused_keeps_handling(client, city, db_session):
    n = drive(client, city, "suspend_requested")
    c = do(client, city, "dispatcher", n, "decide_suspend", outcome="refuse", note="应尽快处置")
    assert c["state"] == "handling" and c["review_date"] is None and c["clock"]["paused"] is False


# --- 返工 rework ----------------------------------------------------------------------------

def test_rework_after_failed_check(client, city, db_session):
    n = drive(client, city, "checking")
    c = do(client, city, "worker1", n, "check", outcome="fail", note="井盖仍松动")
    assert c["state"] == "handling" and c["department"]["code"] == "ROAD" and c["clock"]["stage"] == "handle"
    row = db_session.scalar(select(Case).where(Case.number == n))
    handle_clocks = db_session.scalars(select(StageClock).where(StageClock.case_id == row.id,
                                                                StageClock.stage == "handle")).all()
    assert len(handle_clocks) == 2 and sum(c.ended_at is None for c in handle_clocks) == 1  # a fresh clock
    do(client, city, "road", n, "report_back", note="已重新固定")
    do(client, city, "clerk", n, "request_check")
    do(client, city, "worker1", n, "check", outcome="pass")
    c = do(client, city, "shift", n, "close")
    assert c["state"] == "closed"
    assert [e["data"].get("outcome") for e in c["events"] if e["verb"] == "check"] == ["fail", "pass"]
    assert_replays(db_session, n)


# --- 合并 merge ------------------------------------------------------------------------------

def test_merge_of_duplicates_one_handling_closes_all(client, city, db_session):
    master = report(client, city, category="C0101")["number"]
    r = public_post(client, "/api/v1/public/reports", description="井盖坏了", category_code="C0101",
                    lon=POINT_G1[0] + 0.0001, lat=POINT_G1[1], name="李女士", phone="13811112222")
    assert r.status_code == 201, r.json
    citizen, code = r.json["number"], r.json["tracking_code"]
    assert get(client, city, "clerk", citizen)["possible_duplicate_of"] == master
    other = report(client, city, who="worker2", category="C0101", point=(POINT_G1[0], POINT_G1[1] + 0.0001))["number"]
    for n in (citizen, other):
        c = do(client, city, "clerk", n, "merge", into=master, note="同一井盖")
        assert c["state"] == "merged" and c["merged_into"] == master
    page = client.get(f"/api/v1/public/reports/{code}").json
    assert page["merged_into"] == {"number": master, "state": "received"}
    for who, verb, body in STEPS["closed"]:
        do(client, city, who, master, verb, **body)
    for n in (citizen, other):
        c = get(client, city, "clerk", n)
        assert c["state"] == "closed" and c["closed_at"] and c["events"][-1]["data"] == {"with": master}
        assert_replays(db_session, n)
    assert client.get(f"/api/v1/public/reports/{code}").json["merged_into"]["state"] == "closed"
    # every reporter gets the answer
    rcpts = recipients(db_session, master, "close")
    assert staff_ids(rcpts) >= {city.staff["worker1"].id, city.staff["worker2"].id}
    assert {"kind": "citizen", "phone": "13811112222"}.items() <= next(
        r for r in rcpts if r["kind"] == "citizen").items()
    assert {r["case"] for r in rcpts} == {master, citizen, other}


def test_self_handling_a_master_closes_the_reports_merged_into_it(client, city, db_session):
    master = report(client, city, category="E0202")["number"]
    r = public_post(client, "/api/v1/public/reports", description="电线杆上有小广告", category_code="E0202",
                    lon=POINT_G1[0], lat=POINT_G1[1], phone="13822223333")
    child, code = r.json["number"], r.json["tracking_code"]
    do(client, city, "clerk", child, "merge", into=master)
    do(client, city, "worker1", master, "self_handle", note="已清除", attachments=[attachment(db_session, city)])
    assert get(client, city, "clerk", child)["state"] == "closed"
    assert client.get(f"/api/v1/public/reports/{code}").json["state"] == "closed"
    assert "13822223333" in {r.get("phone") for r in recipients(db_session, master, "self_handle")}
    assert_replays(db_session, child)


def test_merge_needs_an_open_master(client, city, db_session):
    closed = drive(client, city, "closed")
    n = report(client, city, category="C0101")["number"]
    r = client.post(f"/api/v1/cases/{n}/actions/merge", json={"into": closed}, headers=city.h("clerk"))
    assert r.status_code == 422 and "into" in r.json["fields"]
    r = client.post(f"/api/v1/cases/{n}/actions/merge", json={"into": n}, headers=city.h("clerk"))
    assert r.status_code == 422 and "into" in r.json["fields"]
    assert get(client, city, "clerk", n)["state"] == "reported"


# --- 作废 void ------------------------------------------------------------------------------

def test_void_approved(client, city, db_session):
    n = drive(client, city, "dispatched")
    c = do(client, city, "dispatcher", n, "request_void", note="重复上报")
    assert c["state"] == "void_requested" and c["clock"]["stage"] == "sign"
    assert city.staff["shift"].id in staff_ids(recipients(db_session, n, "request_void"))
    c = do(client, city, "shift", n, "decide_void", outcome="approve")
    assert c["state"] == "voided" and c["clock"] is None and c["allowed_verbs"] == []
    assert_replays(db_session, n)


def test_void_refused_returns_to_previous_state(client, city, db_session):
    n = drive(client, city, "void_requested")
    c = do(client, city, "shift", n, "decide_void", outcome="refuse", note="不属重复")
    assert c["state"] == "opened" and c["clock"]["stage"] == "dispatch"
    do(client, city, "dispatcher", n, "dispatch")
    assert_replays(db_session, n)


# --- 自处理 self-handled --------------------------------------------------------------------

def test_self_handled_report_is_closed_with_evidence(client, city, db_session):
    photo = attachment(db_session, city)
    body = {"description": "小广告已清除", "category_code": "E0202", "lon": POINT_G1[0], "lat": POINT_G1[1],
            "self_handled": True, "attachments": [photo]}
    r = client.post("/api/v1/cases", json=body, headers=city.h("worker1"))
    assert r.status_code == 201, r.json
    c = r.json
    assert c["state"] == "closed" and c["closed_at"] and c["channel"] == "grid_worker"
    assert [e["verb"] for e in c["events"]] == ["submit", "self_handle"]
    assert c["events"][-1]["attachments"] == [photo] and c["events"][-1]["role"] == "grid_worker"
    assert db_session.get(Attachment, photo).case_id == c["id"]
    assert_replays(db_session, c["number"])


def test_self_handle_without_evidence_is_refused_and_nothing_written(client, city, db_session):
    count = db_session.query(Case).count()
    body = {"description": "小广告已清除", "category_code": "E0202", "lon": POINT_G1[0], "lat": POINT_G1[1],
            "self_handled": True}
    r = client.post("/api/v1/cases", json=body, headers=city.h("worker1"))
    assert r.status_code == 422 and "attachments" in r.json["fields"]
    assert db_session.query(Case).count() == count
    # on an existing report, only its reporter may self-handle it, with a photo
    n = report(client, city, who="worker1")["number"]
    photo = attachment(db_session, city, "worker2")
    r = client.post(f"/api/v1/cases/{n}/actions/self_handle", json={"note": "已处理", "attachments": [photo]},
                    headers=city.h("worker2"))
    assert r.status_code in (403, 404)
    c = do(client, city, "worker1", n, "self_handle", note="已处理", attachments=[attachment(db_session, city)])
    assert c["state"] == "closed"


# --- 督办 / 催办 -------------------------------------------------------------------------------

@pytest.mark.parametrize("verb", ["supervise", "urge"])
def test_supervise_and_urge_are_logged_and_reach_the_handler(client, city, db_session, verb):
    n = drive(client, city, "handling")
    before = get(client, city, "leader", n)
    c = do(client, city, "leader", n, verb, note="请加快处置")
    assert c["state"] == "handling" and c["supervised"] is (verb == "supervise")
    last = c["events"][-1]
    assert (last["verb"], last["role"], last["from"], last["to"]) == (verb, "leader", "handling", "handling")
    assert last["actor"]["id"] == city.staff["leader"].id and last["note"] == "请加快处置"
    assert c["clock"]["due_at"] == before["clock"]["due_at"]
    rcpts = recipients(db_session, n, verb)
    assert city.staff["road"].id in staff_ids(rcpts) and city.staff["env"].id not in staff_ids(rcpts)
    assert "请加快处置" in outbox(db_session, n, verb)[0]["text_zh"]
    if verb == "supervise":
        listed = client.get("/api/v1/cases?supervised=true", headers=city.h("leader")).json["cases"]
        assert [x["number"] for x in listed] == [n]
    # before dispatch there is no department: the dispatch center hears it
    m = drive(client, city, "opened")
    do(client, city, "leader", m, verb, note="尽快派遣")
    assert city.staff["dispatcher"].id in staff_ids(recipients(db_session, m, verb))


# --- 评价 citizen rating and follow-up ------------------------------------------------------

def _citizen_case_closed(client, city):
    r = public_post(client, "/api/v1/public/reports", description="路灯不亮", category_code="C0101",
                    lon=POINT_G2[0], lat=POINT_G2[1], name="王先生", phone="13955556666")
    assert r.status_code == 201, r.json
    n, code = r.json["number"], r.json["tracking_code"]
    for who, verb, body in STEPS["closed"]:
        do(client, city, "worker2" if who == "worker1" else who, n, verb, **body)
    return n, code


def test_citizen_rates_via_tracking_code_and_bad_rating_is_followed_up(client, city, db_session):
    n, code = _citizen_case_closed(client, city)
    assert {"kind": "citizen", "phone": "13955556666"}.items() <= recipients(db_session, n, "close")[0].items()
    page = client.get(f"/api/v1/public/reports/{code.lower()}")
    assert page.status_code == 200 and page.json["state"] == "closed" and "version" not in page.json
    assert all("actor" not in e for e in page.json["events"])
    r = public_post(client, f"/api/v1/public/reports/{code}/rating", rating="unsatisfied", note="灯还是不亮")
    assert r.status_code == 200, r.json
    assert r.json["rating"] == "unsatisfied" and r.json["events"][-1]["role"] == "citizen"
    c = do(client, city, "clerk", n, "follow_up", outcome="reopen", note="回访：市民反映仍未修好")
    assert c["state"] == "opened" and c["rating"] is None and c["closed_at"] is None
    assert c["clock"]["stage"] == "dispatch"
    for who, verb, body in STEPS["closed"][2:]:
        do(client, city, "worker2" if who == "worker1" else who, n, verb, **body)
    r = public_post(client, f"/api/v1/public/reports/{code}/rating", rating="satisfied")
    assert r.status_code == 200 and r.json["rating"] == "satisfied"
    assert_replays(db_session, n)


def test_rating_only_when_closed_and_follow_up_only_after_a_bad_rating(client, city, db_session):
    r = public_post(client, "/api/v1/public/reports", description="井盖响", address="测试路1号", phone="13900009999")
    code = r.json["tracking_code"]
    r = public_post(client, f"/api/v1/public/reports/{code}/rating", rating="satisfied")
    assert r.status_code == 409 and r.json["code"] == "verb_not_allowed"
    r = public_post(client, f"/api/v1/public/reports/{code}/rating", rating="great")
    assert r.status_code == 422 and "rating" in r.json["fields"]
    assert public_post(client, "/api/v1/public/reports/NOSUCHCODE/rating", rating="satisfied").status_code == 404
    n, code = _citizen_case_closed(client, city)
    public_post(client, f"/api/v1/public/reports/{code}/rating", rating="basically_satisfied")
    r = client.post(f"/api/v1/cases/{n}/actions/follow_up", json={"outcome": "reopen", "note": "回访"},
                    headers=city.h("clerk"))
    assert r.status_code == 409 and r.json["code"] == "no_bad_rating"
    assert get(client, city, "clerk", n)["state"] == "closed"


def test_unsatisfied_rating_reaches_the_intake_clerks(client, city, db_session):
    n, code = _citizen_case_closed(client, city)
    public_post(client, f"/api/v1/public/reports/{code}/rating", rating="unsatisfied", note="灯还是不亮")
    assert city.staff["clerk"].id in staff_ids(recipients(db_session, n, "rate"))


def test_reports_merged_into_a_voided_case_go_back_to_the_desk(client, city, db_session):
    """A master voided as false does not silently swallow the reports merged into it."""
    from dispatch.notifications.models import Outbox
    from tests.dispatch.conftest import do as _do
    from tests.dispatch.conftest import report as _report

    master = _report(client, city, category="C0101")["number"]
    child = _report(client, city, who="worker2", category="C0101")["number"]
    _do(client, city, "clerk", child, "merge", into=master)
    _do(client, city, "clerk", master, "request_void", note="误报")
    _do(client, city, "shift", master, "decide_void", outcome="approve")
    c = client.get(f"/api/v1/cases/{child}", headers=city.h("clerk")).json
    assert c["state"] == "reported" and c["merged_into"] is None
    assert [e["verb"] for e in c["events"]][-2:] == ["merge", "unmerge"]
    assert c["events"][-1]["role"] == "system" and master in c["events"][-1]["note"]
    unmerge_rows = [r for r in db_session.query(Outbox).all() if r.payload.get("template") == "unmerge"]
    assert [r.payload["case"] for r in unmerge_rows] == [child]
    assert {x["id"] for x in unmerge_rows[0].payload["recipients"]} == {city.staff["clerk"].id}
    # and it can be handled on its own from there
    _do(client, city, "clerk", child, "accept")


def test_nested_merges_close_with_the_top_case(client, city, db_session):
    from tests.dispatch.conftest import do as _do
    from tests.dispatch.conftest import report as _report

    top = _report(client, city, category="C0101")["number"]
    middle = _report(client, city, who="worker2", category="C0101")["number"]
    leaf = _report(client, city, who="worker1", category="C0101", point=(121.4051, 31.2051))["number"]
    _do(client, city, "clerk", leaf, "merge", into=middle)
    _do(client, city, "clerk", middle, "merge", into=top)
    for who, verb, extra in [("clerk", "accept", {}), ("shift", "open", {}), ("dispatcher", "dispatch", {}),
                             ("road", "sign", {}), ("road", "report_back", {"note": "修好了"}),
                             ("clerk", "request_check", {}), ("worker1", "check", {"outcome": "pass"}),
                             ("shift", "close", {})]:
        _do(client, city, who, top, verb, **extra)
    for n in (middle, leaf):
        assert client.get(f"/api/v1/cases/{n}", headers=city.h("clerk")).json["state"] == "closed"
