"""Offline work on a case that left the sender's view since (redispatched to another
department, reassigned, moved to another grid) is a conflict kept for the dispatch center,
not a ``not_found`` that loses it; a case the sender never could see stays ``not_found``
worded as a number that does not exist. Refusals the worker cannot fix offline and that carry
their work (their roles changed) are conflicts too; bare or malformed items stay refused."""
from __future__ import annotations

from sqlalchemy import func, select, text, update

from dispatch.cases.models import Case
from grid.accounts.service import issue_token, set_roles
from grid.models import GridAssignment
from mobile_api.push.models import SyncPushItem
from tests.dispatch.conftest import POINT_G1, POINT_G2, do, report
from tests.dispatch.fixtures_photos import media_fixture, photo, upload  # noqa: F401 - media fixture
from tests.factories import AssignmentFactory, AttachmentFactory, StaffFactory
from tests.mobile.fixtures_push import CONFLICTS, action_item, cid, push, report_item
from wangge.timeutil import utcnow

GRID2 = "31010100100102"


def kept(client, city, number: str) -> list[dict]:
    r = client.get(f"{CONFLICTS}?case={number}", headers=city.h("dispatcher"))
    assert r.status_code == 200, r.json
    return r.json["conflicts"]


def rows(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(SyncPushItem))


def signed_by_env(client, city) -> dict:
    number = report(client, city, who="clerk")["number"]
    do(client, city, "clerk", number, "accept")
    do(client, city, "shift", number, "open")          # E0102: dispatched to ENV on opening
    return do(client, city, "env", number, "sign")


def headers_for(db_session, staff) -> dict:
    secret, _ = issue_token(db_session, staff, ttl_hours=1)
    db_session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_a_handler_whose_case_was_redispatched_keeps_the_work_as_a_conflict(client, city, db_session):
    handling = signed_by_env(client, city)
    number, seen = handling["number"], handling["version"]
    photo = AttachmentFactory(uploader=city.staff["env"])
    db_session.commit()
    # ENV handled it offline, while the dispatcher moved the case to ROAD
    do(client, city, "dispatcher", number, "redispatch", department_code="ROAD")
    assert client.get(f"/api/v1/cases/{number}", headers=city.h("env")).status_code == 404
    item = action_item(cid("rb"), number, "report_back", seen, note="已清运完毕", attachments=[photo.id])
    out = push(client, city.h("env"), [item])["items"][0]
    assert (out["outcome"], out["status"], out["code"]) == ("conflict", 409, "case_left_view")
    assert number in out["message"] and out["conflict_id"]
    assert out["case"] is None  # no state, no version, no department: it is not theirs any more
    [row] = kept(client, city, number)
    assert row["id"] == out["conflict_id"] and row["staff"]["id"] == city.staff["env"].id
    assert row["body"]["action"]["note"] == "已清运完毕" and row["body"]["action"]["attachments"] == [photo.id]
    assert row["code"] == "case_left_view" and row["case"]["state"] == "dispatched"
    assert row["at_push"] == row["case"]  # the dispatch center sees the case as it was at the push
    # nothing happened to the case; the photo stays the handler's, unattached
    assert client.get(f"/api/v1/cases/{number}", headers=city.h("road")).json["state"] == "dispatched"
    db_session.refresh(photo)
    assert photo.case_id is None
    # the same item again: already done, the same kept conflict
    again = push(client, city.h("env"), [item])["items"][0]
    assert (again["outcome"], again["original_outcome"], again["conflict_id"], again["case"]) == (
        "already_done", "conflict", out["conflict_id"], None)


def test_a_case_never_in_view_stays_not_found_worded_as_a_missing_number(client, city, db_session):
    handling = signed_by_env(client, city)          # ENV's case: ROAD never had it
    number = handling["number"]
    grid2 = report(client, city, who="worker2", point=POINT_G2)  # grid 2, worker2's
    missing = "3101019999000001"
    cases = [(city.h("road"), number, "report_back", {"note": "x"}),
             (city.h("worker1"), grid2["number"], "check", {"outcome": "pass", "note": "x"})]
    for headers, n, verb, payload in cases:
        out = push(client, headers, [action_item(cid("peek"), n, verb, 1, **payload),
                                     action_item(cid("none"), missing, verb, 1, **payload)])["items"]
        assert [(i["outcome"], i["status"], i["code"], i["case"]) for i in out] == [
            ("refused", 404, "not_found", None)] * 2
        assert out[0]["message"].replace(n, "N") == out[1]["message"].replace(missing, "N")
    # a handler who joins ENV later does see it (the department's case), a new ROAD one does not
    newcomer = StaffFactory(roles=["department_handler"], department_id=city.departments["road"].id)
    out = push(client, headers_for(db_session, newcomer),
               [action_item(cid("new"), number, "report_back", handling["version"], note="x")])["items"][0]
    assert out["code"] == "not_found"
    assert rows(db_session) == 0 and kept(client, city, number) == []


def test_a_grid_worker_whose_case_was_reassigned_and_moved_keeps_the_work(client, city, db_session):
    number = report(client, city, who="clerk")["number"]          # grid 1: worker1's
    verifying = do(client, city, "clerk", number, "request_verify")
    assert verifying["assignee_id"] == city.staff["worker1"].id
    # the location is corrected by hand to grid 2 and the task given to worker2 (no event)
    db_session.execute(text("UPDATE cases SET grid_code = :g, assignee_id = :w, version = version + 1 "
                            "WHERE number = :n"), {"g": GRID2, "w": city.staff["worker2"].id, "n": number})
    db_session.commit()
    assert client.get(f"/api/v1/cases/{number}", headers=city.h("worker1")).status_code == 404
    item = action_item(cid("vf"), number, "verify", verifying["version"], outcome="confirmed", note="现场确认属实")
    out = push(client, city.h("worker1"), [item, report_item(cid("after"))])["items"]
    assert [(i["outcome"], i["code"]) for i in out] == [("conflict", "case_left_view"), ("created", None)]
    assert out[0]["case"] is None
    [row] = kept(client, city, number)
    assert row["body"]["action"]["note"] == "现场确认属实" and row["staff"]["id"] == city.staff["worker1"].id
    # worker2, whose task it is now, does it normally
    done = push(client, city.h("worker2"), [action_item(cid("vf2"), number, "verify", verifying["version"] + 1,
                                                        outcome="confirmed")])["items"][0]
    assert done["outcome"] == "done"


def test_a_case_that_only_the_change_feed_shows_was_in_the_grid(client, city, db_session):
    """No event and no assignment names worker1: only the feed row of the hand-made grid
    change says the case was in worker1's grid."""
    number = report(client, city, who="clerk", point=POINT_G1)["number"]
    case = db_session.scalar(select(Case).where(Case.number == number))
    assert case.grid_code != GRID2 and case.assignee_id is None
    db_session.execute(text("UPDATE cases SET grid_code = :g, version = version + 1 WHERE number = :n"),
                       {"g": GRID2, "n": number})
    db_session.commit()
    item = action_item(cid("feed"), number, "verify", 1, outcome="confirmed", note="看到了")
    out = push(client, city.h("worker1"), [item])["items"][0]
    assert (out["outcome"], out["code"], out["case"]) == ("conflict", "case_left_view", None)
    # a worker who joins grid 1 only now never saw it in grid 1: not found
    later = StaffFactory(roles=["grid_worker"])
    AssignmentFactory(staff=later, grid_code="31010100100101")
    out = push(client, headers_for(db_session, later), [action_item(cid("feed2"), number, "verify", 1,
                                                                    outcome="confirmed", note="x")])["items"][0]
    assert (out["outcome"], out["code"]) == ("refused", "not_found")


def test_a_worker_whose_grid_was_taken_away_keeps_the_work(client, city, db_session):
    """worker1's assignment to grid 1 ended while the phone was offline; the case of grid 1
    they were not assigned to (reported by the clerk, verified by worker2 from next door)."""
    number = report(client, city, who="clerk")["number"]
    verifying = do(client, city, "clerk", number, "request_verify", assignee_id=city.staff["worker2"].id)
    db_session.execute(update(GridAssignment).where(GridAssignment.staff_id == city.staff["worker1"].id)
                       .values(valid_to=utcnow()))
    db_session.commit()
    out = push(client, city.h("worker1"), [action_item(cid("gone"), number, "verify", verifying["version"],
                                                       outcome="confirmed", note="我看过")])["items"][0]
    assert (out["outcome"], out["code"], out["case"]) == ("conflict", "case_left_view", None)


def test_work_on_a_verb_the_sender_may_no_longer_take_is_kept(client, city, db_session):
    """An admin took the grid_worker role away while the phone was offline: the check (with
    its note and photo) is a conflict, a bare verb or a role asked for by mistake is refused."""
    checking = do(client, city, "clerk", signed_and_handled(client, city), "request_check",
                  assignee_id=city.staff["worker1"].id)
    number, seen = checking["number"], checking["version"]
    photo = AttachmentFactory(uploader=city.staff["worker1"])
    worker = city.staff["worker1"]
    set_roles(worker, ["grid_worker", "intake_clerk"])
    db_session.commit()
    # still a grid worker: a role asked for that the verb does not take is the phone's mistake
    out = push(client, city.h("worker1"), [action_item(cid("role"), number, "check", seen, outcome="pass",
                                                       role="intake_clerk")])["items"][0]
    assert (out["outcome"], out["code"]) == ("refused", "verb_forbidden")
    set_roles(worker, ["intake_clerk"])
    db_session.commit()
    out = push(client, city.h("worker1"), [
        action_item(cid("chk"), number, "check", seen, outcome="pass", note="已复查", attachments=[photo.id]),
        action_item(cid("bare"), number, "sign", seen),
    ])["items"]
    assert [(i["outcome"], i["code"]) for i in out] == [("conflict", "forbidden_role"), ("refused", "forbidden_role")]
    assert out[0]["case"]["state"] == "checking"  # a clerk sees every case
    [row] = kept(client, city, number)
    assert row["body"]["action"]["note"] == "已复查" and row["code"] == "forbidden_role"


def test_a_report_from_someone_who_may_no_longer_report_is_kept(client, city, db_session):
    set_roles(city.staff["worker1"], [])
    db_session.commit()
    out = push(client, city.h("worker1"), [report_item(cid("rep"), description="井盖破损")])["items"][0]
    assert (out["outcome"], out["status"], out["code"], out["case"]) == ("conflict", 409, "forbidden_role", None)
    r = client.get(f"{CONFLICTS}?unresolved=true", headers=city.h("dispatcher"))
    [row] = [c for c in r.json["conflicts"] if c["id"] == out["conflict_id"]]
    assert row["type"] == "report" and row["body"]["report"]["description"] == "井盖破损"
    assert row["case"] is None and row["at_push"] is None


def signed_and_handled(client, city) -> str:
    number = signed_by_env(client, city)["number"]
    do(client, city, "env", number, "report_back", note="已清理")
    return number


def test_the_dispatch_center_sees_the_photos_of_a_kept_conflict(client, city, db_session, media):
    """The photos a conflict names stay attached to nothing (the item was not done): the
    dispatch center may open them, nobody else but their uploader."""
    handling = signed_by_env(client, city)
    number = handling["number"]
    r = upload(client, city.h("env"), photo(color=(200, 30, 30)), kind="after")
    assert r.status_code == 201, r.json
    kept_photo = r.json["id"]
    other = upload(client, city.h("env"), photo(color=(30, 30, 200))).json["id"]  # in no conflict
    do(client, city, "dispatcher", number, "redispatch", department_code="ROAD")
    out = push(client, city.h("env"), [action_item(cid("ph"), number, "report_back", handling["version"],
                                                   note="已修复", attachments=[kept_photo])])["items"][0]
    assert out["outcome"] == "conflict"
    for who in ("dispatcher", "shift", "clerk", "env"):
        got = client.get(f"/api/v1/attachments/{kept_photo}", headers=city.h(who))
        assert got.status_code == 200 and got.data[:2] == b"\xff\xd8", who
    for who in ("road", "worker1", "leader", "officer"):
        assert client.get(f"/api/v1/attachments/{kept_photo}", headers=city.h(who)).status_code == 404, who
    assert client.get(f"/api/v1/attachments/{other}", headers=city.h("dispatcher")).status_code == 404
    assert client.get(f"/api/v1/attachments/{kept_photo}").status_code == 401
