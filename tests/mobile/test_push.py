"""POST /api/m/v1/sync/push: an ordered batch of what the phone did offline, one outcome per
item, each in its own savepoint; the same batch again changes nothing; a conflict is kept and
shown to the dispatch center (/api/v1/sync-conflicts), never to the worker next door."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dispatch.cases.models import Case, CaseEvent
from grid.accounts.service import issue_token
from mobile_api.push.models import SyncPushItem
from tests.dispatch.conftest import POINT_G2, do, report
from tests.factories import AssignmentFactory, AttachmentFactory, StaffFactory
from tests.mobile.fixtures_push import (
    CONFLICTS,
    PUSH,
    action_item,
    case_in_checking,
    cid,
    push,
    report_item,
)


def nowhere(client_id: str) -> dict:
    item = report_item(client_id)
    del item["report"]["lon"], item["report"]["lat"]
    return item


def count(db_session, model=Case) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


def events(db_session, number: str) -> list[str]:
    case = db_session.scalar(select(Case).where(Case.number == number))
    return [e.verb for e in db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                               .order_by(CaseEvent.id))]


def test_a_batch_of_reports_and_actions_in_order(client, city, db_session):
    checking = case_in_checking(client, city)
    photo = AttachmentFactory(uploader=city.staff["worker1"])
    items = [report_item(cid("r1")),
             report_item(cid("r2"), description="井盖缺失", category_code="C0101", attachments=[photo.id]),
             action_item(cid("a1"), checking["number"], "check", checking["version"], outcome="pass", note="已复查")]
    answer = push(client, city.h("worker1"), items)
    out = answer["items"]
    assert [i["outcome"] for i in out] == ["created", "created", "done"]
    assert [i["status"] for i in out] == [201, 201, 200]
    assert [i["index"] for i in out] == [0, 1, 2]
    assert [i["client_id"] for i in out] == [i["client_id"] for i in items]
    assert answer["counts"] == {"created": 2, "done": 1}
    assert out[2]["case"]["state"] == "check_passed" and out[2]["case"]["version"] == checking["version"] + 1
    second = db_session.scalar(select(Case).where(Case.number == out[1]["case"]["number"]))
    assert second.channel == "grid_worker" and second.reporter_staff_id == city.staff["worker1"].id
    db_session.refresh(photo)
    assert photo.case_id == second.id

    # the same batch again: nothing changes, every item answers what was done the first time
    cases, rows = count(db_session), count(db_session, SyncPushItem)
    again = push(client, city.h("worker1"), items)["items"]
    assert [i["outcome"] for i in again] == ["already_done"] * 3
    assert [i["original_outcome"] for i in again] == ["created", "created", "done"]
    assert [i["case"]["number"] for i in again] == [i["case"]["number"] for i in out]
    assert (count(db_session), count(db_session, SyncPushItem)) == (cases, rows)
    assert events(db_session, checking["number"]).count("check") == 1


def test_a_refused_item_never_undoes_the_others(client, city, db_session):
    before = count(db_session)
    items = [report_item(cid("ok1")),
             nowhere(cid("bad")),                                     # no place at all
             {"client_id": cid("junk"), "type": "report", "report": {"description": {"a": [1, {"b": 2}]}}},
             "not an object",
             {"client_id": cid("both"), "type": "action", "report": {"description": "x"}},
             action_item(cid("nover"), "2026000001", "check", 2**31),  # version beyond any integer
             report_item(cid("ok2"))]
    out = push(client, city.h("worker1"), items)["items"]
    assert [i["outcome"] for i in out] == ["created", "refused", "refused", "refused", "refused", "refused",
                                           "created"]
    assert out[1]["code"] == "validation_error" and "address" in out[1]["fields"]
    assert out[2]["status"] == 422 and "report" in out[2]["fields"]
    assert out[3]["client_id"] is None and "_item" in out[3]["fields"]
    assert set(out[4]["fields"]) == {"action", "report"}
    assert "version_seen" in out[5]["fields"]["action"]
    assert all(i["message"] for i in out if i["outcome"] == "refused")
    assert count(db_session) == before + 2
    # a refused item leaves no record: corrected, it may be sent again under its client id
    fixed = report_item(items[1]["client_id"], address="测试路 1 号")
    assert push(client, city.h("worker1"), [fixed])["items"][0]["outcome"] == "created"


def test_a_client_id_reused_with_another_body_is_409_per_item(client, city, db_session):
    key = cid("reuse")
    assert push(client, city.h("worker1"), [report_item(key)])["items"][0]["outcome"] == "created"
    before = count(db_session)
    out = push(client, city.h("worker1"), [report_item(key, description="另一件事"), report_item(cid("fresh"))])
    first, second = out["items"]
    assert (first["outcome"], first["status"], first["code"]) == ("idempotency_key_reused", 409,
                                                                  "idempotency_key_reused")
    assert key in first["message"]
    assert second["outcome"] == "created"
    assert count(db_session) == before + 1
    # within one batch: the second use of a key answers like a resend
    k2 = cid("twice")
    out = push(client, city.h("worker1"), [report_item(k2), report_item(k2), report_item(k2, description="变了")])
    assert [i["outcome"] for i in out["items"]] == ["created", "already_done", "idempotency_key_reused"]
    # an action's client id is the same namespace as a report's
    checking = case_in_checking(client, city)
    out = push(client, city.h("worker1"), [action_item(key, checking["number"], "check", checking["version"],
                                                       outcome="pass")])
    assert out["items"][0]["outcome"] == "idempotency_key_reused"
    assert "check" not in events(db_session, checking["number"])


def test_client_ids_live_in_the_senders_namespace(client, city, db_session):
    key = cid("ns")
    one = push(client, city.h("worker1"), [report_item(key)])["items"][0]
    two = push(client, city.h("worker2"), [report_item(key, description="别人的事")])["items"][0]
    assert (one["outcome"], two["outcome"]) == ("created", "created")
    assert one["case"]["number"] != two["case"]["number"]


def test_a_report_sent_before_by_the_single_endpoint_is_already_done(client, city, db_session):
    key = cid("single")
    body = report_item(key)["report"]
    r = client.post("/api/m/v1/reports", json=body, headers={**city.h("worker1"), "Idempotency-Key": key})
    assert r.status_code == 201
    out = push(client, city.h("worker1"), [report_item(key)])["items"][0]
    assert (out["outcome"], out["original_outcome"], out["case"]["number"]) == ("already_done", "created",
                                                                                r.json["number"])
    out = push(client, city.h("worker1"), [report_item(cid("x")), report_item(key, description="改了")])["items"]
    assert [i["outcome"] for i in out] == ["created", "idempotency_key_reused"]


def test_an_offline_check_on_a_case_that_was_redispatched_is_a_kept_conflict(client, city, db_session):
    checking = case_in_checking(client, city)
    number, seen = checking["number"], checking["version"]
    # the worker checks on another device (the desk), the check fails, the case goes to ROAD
    do(client, city, "worker1", number, "check", outcome="fail", note="仍有垃圾")
    do(client, city, "dispatcher", number, "redispatch", department_code="ROAD")
    # ... while the phone, offline, recorded a pass against the version it had seen
    item = action_item(cid("chk"), number, "check", seen, outcome="pass", note="现场已清理干净")
    out = push(client, city.h("worker1"), [item, report_item(cid("after"))])["items"]
    conflict = out[0]
    assert (conflict["outcome"], conflict["status"], conflict["code"]) == ("conflict", 409, "verb_not_allowed")
    assert conflict["case"]["state"] == "dispatched" and conflict["case"]["version"] > seen
    assert conflict["message"] and conflict["conflict_id"]
    assert out[1]["outcome"] == "created"
    assert events(db_session, number).count("check") == 1  # the offline pass did not move the case

    # kept and visible to the dispatch center
    for who in ("dispatcher", "shift", "clerk"):
        r = client.get(f"{CONFLICTS}?unresolved=true&case={number}", headers=city.h(who))
        assert r.status_code == 200, r.json
        [kept] = r.json["conflicts"]
        assert kept["id"] == conflict["conflict_id"] and kept["staff"]["id"] == city.staff["worker1"].id
        assert kept["body"]["action"]["note"] == "现场已清理干净" and kept["body"]["action"]["outcome"] == "pass"
        assert kept["case"]["state"] == "dispatched" and kept["code"] == "verb_not_allowed"
        assert kept["resolved_at"] is None and kept["at_push"]["state"] == "dispatched"
    # ... and to nobody else: the worker, the worker next door, handlers, leaders, anonymous
    for who in ("worker1", "worker2", "env", "road", "leader", "officer"):
        r = client.get(CONFLICTS, headers=city.h(who))
        assert r.status_code == 403 and r.json["code"] == "forbidden_role", who
        r = client.post(f"{CONFLICTS}/{conflict['conflict_id']}/resolve", json={"note": "x"}, headers=city.h(who))
        assert r.status_code == 403, who
    assert client.get(CONFLICTS).status_code == 401

    # the same item again: already done (its outcome was the conflict), not a second conflict
    again = push(client, city.h("worker1"), [item])["items"][0]
    assert (again["outcome"], again["original_outcome"], again["conflict_id"]) == (
        "already_done", "conflict", conflict["conflict_id"])
    assert count(db_session, SyncPushItem) == db_session.scalar(
        select(func.count()).select_from(SyncPushItem).where(SyncPushItem.staff_id == city.staff["worker1"].id))

    # resolved once, with a note, recorded
    r = client.post(f"{CONFLICTS}/{conflict['conflict_id']}/resolve", json={"note": "已电话联系网格员，按路政处置结果为准"},
                    headers=city.h("dispatcher"))
    assert r.status_code == 200, r.json
    assert r.json["resolved_by"]["id"] == city.staff["dispatcher"].id and r.json["resolved_at"]
    assert r.json["resolution_note"].startswith("已电话联系")
    r = client.post(f"{CONFLICTS}/{conflict['conflict_id']}/resolve", json={"note": "again"},
                    headers=city.h("shift"))
    assert r.status_code == 409 and r.json["code"] == "sync_conflict_resolved"
    r = client.get(f"{CONFLICTS}?unresolved=true&case={number}", headers=city.h("dispatcher"))
    assert r.json["conflicts"] == []
    r = client.get(f"{CONFLICTS}?unresolved=false&case={number}", headers=city.h("dispatcher"))
    assert [c["id"] for c in r.json["conflicts"]] == [conflict["conflict_id"]]


def test_an_older_version_whose_verb_still_fits_is_done(client, city, db_session):
    checking = case_in_checking(client, city)
    do(client, city, "leader", checking["number"], "urge", note="请尽快核查")  # version moves, state not
    out = push(client, city.h("worker1"), [action_item(cid("late"), checking["number"], "check",
                                                       checking["version"], outcome="pass")])["items"][0]
    assert out["outcome"] == "done" and out["case"]["state"] == "check_passed"
    out = push(client, city.h("worker1"), [action_item(cid("ahead"), checking["number"], "check",
                                                       out["case"]["version"] + 5, outcome="pass")])["items"][0]
    assert out["outcome"] == "refused" and "version_seen" in out["fields"]


def test_an_item_on_a_case_the_worker_cannot_see_is_refused_not_found(client, city, db_session):
    theirs = report(client, city, who="worker2", point=POINT_G2)  # grid 2: not worker1's
    out = push(client, city.h("worker1"), [
        action_item(cid("peek"), theirs["number"], "check", theirs["version"], outcome="pass"),
        action_item(cid("none"), "3101019999000001", "check", 1, outcome="pass")])["items"]
    assert [(i["outcome"], i["status"], i["code"]) for i in out] == [("refused", 404, "not_found")] * 2
    assert out[0]["case"] is None  # no state, no version: the same answer as a number that does not exist
    assert out[0]["message"].replace(theirs["number"], "N") == out[1]["message"].replace("3101019999000001", "N")
    assert count(db_session, SyncPushItem) == 0


def test_refusals_name_the_reason(client, city, db_session):
    checking = case_in_checking(client, city)
    n, v = checking["number"], checking["version"]
    out = push(client, city.h("worker1"), [
        action_item(cid("a"), n, "fly", v),                                  # no such verb
        action_item(cid("b"), n, "check", v),                                # outcome missing
        action_item(cid("c"), n, "check", v, outcome="maybe"),              # not an outcome
        action_item(cid("d"), n, "accept", v),                               # not a worker's verb
        action_item(cid("e"), n, "check", v, outcome="pass", role="dispatcher"),
        action_item(cid("f"), n, "check", v, outcome="pass", review_date="9999-01-01"),
        action_item(cid("g"), n, "check", v, outcome="pass", amount=1e308),
        action_item(cid("h"), n, "check", v, outcome="pass", attachments=[2**31 - 1]),
        action_item(cid("i"), n, "check", v, outcome="pass", surprise=True),
    ])["items"]
    assert [i["code"] for i in out] == ["unknown_verb", "validation_error", "validation_error", "forbidden_role",
                                        "forbidden_role", "validation_error", "validation_error",
                                        "validation_error", "validation_error"]
    assert all(i["outcome"] == "refused" for i in out)
    assert "outcome" in out[1]["fields"] and "outcome" in out[2]["fields"]
    assert "review_date" in out[5]["fields"]["action"] and "amount" in out[6]["fields"]["action"]
    assert "attachments" in out[7]["fields"] and "surprise" in out[8]["fields"]["action"]
    assert "check" not in events(db_session, n)
    # the handler next door cannot act on ENV's case (not visible: not found)
    out = push(client, city.h("road"), [action_item(cid("j"), n, "report_back", v, note="x")])["items"][0]
    assert (out["outcome"], out["code"]) == ("refused", "not_found")
    # a role that may not report: the report is work the phone cannot fix, kept for the
    # dispatch center (tests/mobile/test_push_conflicts.py)
    out = push(client, city.h("env"), [report_item(cid("k"))])["items"][0]
    assert (out["outcome"], out["status"], out["code"]) == ("conflict", 409, "forbidden_role")


def test_the_batch_itself(client, city, db_session):
    assert client.post(PUSH, json={"items": [report_item(cid())]}).status_code == 401
    h = city.h("worker1")
    for body in ({}, {"items": []}, {"items": "x"}, {"items": {"a": 1}}, {"items": [report_item(cid())], "x": 1},
                 {"items": [report_item(cid(str(i))) for i in range(101)]}):
        r = client.post(PUSH, json=body, headers=h)
        assert r.status_code == 422 and r.json["code"] == "validation_error", (body if len(str(body)) < 200 else "101")
    r = client.post(PUSH, json={"items": [report_item(cid(), description="a\u0000b")]}, headers=h)
    assert r.status_code == 422 and r.json["code"] == "invalid_characters"
    r = client.post(PUSH, json={"items": [report_item(cid("nul\u0000id"))]}, headers=h)
    assert r.status_code == 422
    before = count(db_session)
    out = push(client, h, [report_item(cid(str(i))) for i in range(100)])
    assert out["counts"] == {"created": 100}
    assert count(db_session) == before + 100


@pytest.mark.parametrize("client_id", ["short", "x" * 129, "line\nbreak-id", 12345678, None, ["a" * 10]])
def test_bad_client_ids_are_refused(client, city, db_session, client_id):
    item = {**report_item("placeholder"), "client_id": client_id}
    out = push(client, city.h("worker1"), [item])["items"][0]
    assert out["outcome"] == "refused" and "client_id" in out["fields"], out
    assert count(db_session, SyncPushItem) == 0


def test_two_devices_of_one_worker_share_the_namespace(client, city, db_session):
    """A second token of the same person is the same sender: a batch resent from another
    device answers already_done."""
    secret, _ = issue_token(db_session, city.staff["worker1"], ttl_hours=1)
    db_session.commit()
    key = cid("dev")
    push(client, city.h("worker1"), [report_item(key)])
    out = push(client, {"Authorization": f"Bearer {secret}"}, [report_item(key)])["items"][0]
    assert out["outcome"] == "already_done"


def test_a_worker_without_grids_next_door_sees_nothing(client, city, db_session):
    """A newcomer grid worker with the other grid only cannot act on grid 1's checks."""
    newcomer = StaffFactory(roles=["grid_worker"])
    AssignmentFactory(staff=newcomer, grid_code="31010100100102")
    secret, _ = issue_token(db_session, newcomer, ttl_hours=1)
    db_session.commit()
    checking = case_in_checking(client, city)
    out = push(client, {"Authorization": f"Bearer {secret}"},
               [action_item(cid("nb"), checking["number"], "check", checking["version"], outcome="pass")])
    assert out["items"][0]["code"] == "not_found"
