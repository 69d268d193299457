"""One rule for "the verbs I may use now": the case API's ``allowed_verbs``, the phone
inbox's ``verbs`` and what ``act`` then accepts agree, for the worker the task is assigned
to, the worker next door (same grid, not assigned), a worker who did not make the report,
and the handler of the case's department."""
from __future__ import annotations

from tests.dispatch.conftest import POINT_G1, do, report
from tests.factories import AssignmentFactory

INBOX = "/api/m/v1/inbox"


def desk_verbs(client, city, who, number):
    r = client.get(f"/api/v1/cases/{number}", headers=city.h(who))
    return r.json["allowed_verbs"] if r.status_code == 200 else None


def inbox_verbs(client, city, who, number):
    r = client.get(INBOX, headers=city.h(who))
    assert r.status_code == 200, r.json
    return next((i["verbs"] for i in r.json["items"] if i["number"] == number), [])


def test_assigned_worker_only_is_offered_the_task(client, city, db_session):
    # worker2 patrols grid 1 too, but the verification is worker1's
    AssignmentFactory(staff=city.staff["worker2"], grid_code="31010100100101")
    db_session.commit()
    number = report(client, city, who="clerk", point=POINT_G1)["number"]
    do(client, city, "clerk", number, "request_verify", assignee_id=city.staff["worker1"].id)
    assert "verify" in desk_verbs(client, city, "worker1", number)
    assert "verify" in inbox_verbs(client, city, "worker1", number)
    assert "verify" not in desk_verbs(client, city, "worker2", number)      # sees it, may not verify it
    assert "verify" not in inbox_verbs(client, city, "worker2", number)
    r = client.post(f"/api/v1/cases/{number}/actions/verify", json={"outcome": "confirmed"},
                    headers=city.h("worker2"))
    assert (r.status_code, r.json["code"]) == (403, "not_assigned")
    do(client, city, "worker1", number, "verify", outcome="confirmed")


def test_only_the_reporter_is_offered_self_handle(client, city, db_session):
    AssignmentFactory(staff=city.staff["worker2"], grid_code="31010100100101")
    db_session.commit()
    number = report(client, city, who="worker1")["number"]
    assert "self_handle" in desk_verbs(client, city, "worker1", number)
    assert "self_handle" in inbox_verbs(client, city, "worker1", number)
    assert "self_handle" not in desk_verbs(client, city, "worker2", number)


def test_handlers_verbs_are_the_same_on_desk_and_phone(client, city):
    number = report(client, city)["number"]
    do(client, city, "clerk", number, "accept")
    opened = do(client, city, "shift", number, "open")
    if opened["state"] == "opened":
        do(client, city, "dispatcher", number, "dispatch", department_code="ENV")
    assert desk_verbs(client, city, "env", number) == inbox_verbs(client, city, "env", number) == ["sign", "return"]
    assert desk_verbs(client, city, "road", number) is None      # another department: not visible at all
