"""Refusals, table-driven over the lifecycle data (dispatch/cases/lifecycle.py): a verb not allowed
from the current state is 409, a role that may not use it 403, missing fields 422 naming
them; each answer carries a sentence saying why, and the case is left exactly as it was.
Plus: the event log is immutable and the state can be rebuilt from it."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from dispatch.cases.lifecycle import CITIZEN, STATES, SYSTEM, VERBS
from dispatch.cases.models import Case, CaseEvent
from dispatch.workflow.actions import replay_state
from grid import roles as R
from grid.accounts.service import issue_token
from tests.dispatch.conftest import POINT_G2, do
from tests.dispatch.test_paths import STEPS, attachment, drive, get
from tests.factories import CaseEventFactory, StaffFactory

# enforcement is another module's path (dispatch.enforcement); every other state is driven here
DRIVABLE = [s for s in STATES if s in STEPS or s == "merged"]
STAFF_VERBS = [name for name, v in VERBS.items() if set(v.roles) - {SYSTEM, CITIZEN}]

# who acts in each role (department handlers: ROAD, the department of the C0101 cases)
ACTOR = {R.GRID_WORKER: "worker1", R.INTAKE_CLERK: "clerk", R.SHIFT_LEADER: "shift", R.DISPATCHER: "dispatcher",
         R.DEPARTMENT_HANDLER: "road", R.LEADER: "leader"}


def snapshot(db_session, number):
    db_session.expire_all()
    case = db_session.scalar(select(Case).where(Case.number == number))
    n_events = db_session.query(CaseEvent).filter_by(case_id=case.id).count()
    return (case.state, case.version, case.department_id, case.assignee_id, case.rating, case.supervised,
            case.resume_state, n_events)


@pytest.fixture
def seer(db_session, city):
    """Department handler of ROAD who is also a leader, so sees every case (scope) - for refusals
    that must come from the lifecycle, not from 'not found'."""
    staff = StaffFactory(roles=[R.DEPARTMENT_HANDLER, R.LEADER], department_id=city.departments["road"].id)
    secret, _ = issue_token(db_session, staff, ttl_hours=1)
    city.headers["seer"] = {"Authorization": f"Bearer {secret}"}
    db_session.commit()
    return "seer"


@pytest.mark.parametrize("state", DRIVABLE)
def test_verbs_not_allowed_in_a_state_are_409_and_change_nothing(client, city, db_session, seer, state):
    n = drive(client, city, state)
    before = snapshot(db_session, n)
    refused = [name for name in STAFF_VERBS if state not in VERBS[name].sources]
    assert refused
    for name in refused:
        verb = VERBS[name]
        role = next(r for r in verb.roles if r in ACTOR)
        who = seer if role == R.DEPARTMENT_HANDLER else ACTOR[role]
        r = client.post(f"/api/v1/cases/{n}/actions/{name}", json={"role": role}, headers=city.h(who))
        assert r.status_code == 409, (state, name, r.json)
        assert r.json["code"] == "verb_not_allowed", (state, name, r.json)
        zh_state = STATES[state][0]
        assert r.json["message"] == f"案件当前状态为「{zh_state}」，不能执行「{verb.zh}」", r.json
        assert snapshot(db_session, n) == before, (state, name)
    # the verbs the API offers in this state are exactly the table's
    offered = set(get(client, city, "clerk", n)["allowed_verbs"])
    assert offered == {v for v in VERBS if state in VERBS[v].sources and R.INTAKE_CLERK in VERBS[v].roles}


def test_message_is_in_the_users_language(client, city, db_session):
    n = drive(client, city, "reported")
    r = client.post(f"/api/v1/cases/{n}/actions/close?lang=en", json={}, headers=city.h("shift"))
    assert r.status_code == 409 and r.json["message"].startswith("The case is 'Reported'; "), r.json


def _allowed_state(verb_name: str) -> str | None:
    return next((s for s in VERBS[verb_name].sources if s in DRIVABLE), None)


@pytest.mark.parametrize("name", STAFF_VERBS)
def test_wrong_role_is_403_and_changes_nothing(client, city, db_session, name):
    verb = VERBS[name]
    state = _allowed_state(name)
    n = drive(client, city, state)
    before = snapshot(db_session, n)
    # someone who sees every case but holds none of the verb's roles
    who = next(w for w in ("leader", "clerk", "dispatcher", "shift") if
               not set(city.staff[w].roles) & set(verb.roles))
    r = client.post(f"/api/v1/cases/{n}/actions/{name}", json={}, headers=city.h(who))
    assert r.status_code == 403 and r.json["code"] == "forbidden_role", (name, r.json)
    assert r.json["message"].startswith("该操作需要以下角色之一")
    # asking for a role one does not hold is refused too
    r = client.post(f"/api/v1/cases/{n}/actions/{name}", json={"role": verb.roles[0]}, headers=city.h(who))
    assert r.status_code == 403 and r.json["code"] == "forbidden_role"
    assert snapshot(db_session, n) == before


def test_acting_in_a_held_role_the_verb_does_not_allow_is_403(client, city, db_session):
    multi = StaffFactory(roles=[R.INTAKE_CLERK, R.SHIFT_LEADER])
    secret, _ = issue_token(db_session, multi, ttl_hours=1)
    city.headers["multi"] = {"Authorization": f"Bearer {secret}"}
    n = drive(client, city, "accepted")
    before = snapshot(db_session, n)
    r = client.post(f"/api/v1/cases/{n}/actions/open", json={"role": "intake_clerk"}, headers=city.h("multi"))
    assert r.status_code == 403 and r.json["code"] == "verb_forbidden" and "立案" in r.json["message"]
    assert snapshot(db_session, n) == before
    assert do(client, city, "multi", n, "open")["state"] == "opened"  # the fitting role is chosen


OWN_DEPARTMENT = [name for name, v in VERBS.items() if v.own_department and name != "refer_enforcement"]


@pytest.mark.parametrize("name", OWN_DEPARTMENT)
def test_handler_of_another_department_is_403(client, city, db_session, name):
    verb = VERBS[name]
    n = drive(client, city, _allowed_state(name))  # a ROAD case
    other = StaffFactory(roles=[R.DEPARTMENT_HANDLER, R.LEADER], department_id=city.departments["env"].id)
    secret, _ = issue_token(db_session, other, ttl_hours=1)
    before = snapshot(db_session, n)
    body = {"role": R.DEPARTMENT_HANDLER, "note": "x", "review_date": "2027-01-01"}
    r = client.post(f"/api/v1/cases/{n}/actions/{name}", json=body, headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 403 and r.json["code"] == "not_your_department", (name, r.json)
    assert n in r.json["message"]
    # a plain handler of another department does not even see the case (no leaking of numbers)
    r = client.post(f"/api/v1/cases/{n}/actions/{name}", json=body, headers=city.h("env"))
    assert r.status_code == 404
    assert snapshot(db_session, n) == before
    assert verb.own_department


@pytest.mark.parametrize("verb,state", [("verify", "verifying"), ("check", "checking")])
def test_grid_worker_not_assigned_is_403(client, city, db_session, verb, state):
    # reported by worker1 in grid 2 (worker2's grid): worker1 sees it, the task goes to worker2
    n = drive(client, city, state, point=POINT_G2)
    assert get(client, city, "clerk", n)["assignee_id"] == city.staff["worker2"].id
    before = snapshot(db_session, n)
    outcome = "confirmed" if verb == "verify" else "pass"
    r = client.post(f"/api/v1/cases/{n}/actions/{verb}", json={"outcome": outcome}, headers=city.h("worker1"))
    assert r.status_code == 403 and r.json["code"] == "not_assigned" and n in r.json["message"]
    assert snapshot(db_session, n) == before
    do(client, city, "worker2", n, verb, outcome=outcome)


def test_only_the_reporter_self_handles(client, city, db_session):
    n = drive(client, city, "reported", point=POINT_G2)  # reported by worker1, in worker2's grid
    before = snapshot(db_session, n)
    r = client.post(f"/api/v1/cases/{n}/actions/self_handle",
                    json={"note": "已处理", "attachments": [attachment(db_session, city, "worker2")]},
                    headers=city.h("worker2"))
    assert r.status_code == 403 and r.json["code"] == "not_reporter"
    assert snapshot(db_session, n) == before


REQUIRING = [name for name in STAFF_VERBS if VERBS[name].requires]


@pytest.mark.parametrize("name", REQUIRING)
def test_missing_required_fields_are_422_naming_them(client, city, db_session, seer, name):
    verb = VERBS[name]
    state = _allowed_state(name)
    n = drive(client, city, state)
    before = snapshot(db_session, n)
    role = next(r for r in verb.roles if r in ACTOR)
    who = seer if role == R.DEPARTMENT_HANDLER else ACTOR[role]  # verify/check: worker1 is assigned
    r = client.post(f"/api/v1/cases/{n}/actions/{name}", json={"role": role}, headers=city.h(who))
    assert r.status_code == 422 and r.json["code"] == "validation_error", (name, r.json)
    assert set(r.json["fields"]) == set(verb.requires), (name, r.json)
    for field in verb.requires:
        assert field in r.json["message"]
    assert snapshot(db_session, n) == before


@pytest.mark.parametrize("name", sorted(n for n, v in VERBS.items() if v.outcomes and n in STAFF_VERBS))
def test_unknown_outcome_is_422(client, city, db_session, name):
    verb = VERBS[name]
    n = drive(client, city, _allowed_state(name))
    before = snapshot(db_session, n)
    role = next(r for r in verb.roles if r in ACTOR)
    body = {"role": role, "outcome": "maybe", "note": "x", "department_code": "ENV"}
    r = client.post(f"/api/v1/cases/{n}/actions/{name}", json=body, headers=city.h(ACTOR[role]))
    assert r.status_code == 422 and set(r.json["fields"]) == {"outcome"}
    for outcome in verb.outcomes:
        assert outcome in r.json["fields"]["outcome"][0]
    assert snapshot(db_session, n) == before


def test_unknown_verb_and_stale_version(client, city, db_session):
    n = drive(client, city, "reported")
    r = client.post(f"/api/v1/cases/{n}/actions/teleport", json={}, headers=city.h("clerk"))
    assert r.status_code == 404 and r.json["code"] == "unknown_verb"
    version = get(client, city, "clerk", n)["version"]
    before = snapshot(db_session, n)
    r = client.post(f"/api/v1/cases/{n}/actions/accept", json={"expected_version": version - 1},
                    headers=city.h("clerk"))
    assert r.status_code == 409 and r.json["code"] == "stale_case" and n in r.json["message"]
    assert snapshot(db_session, n) == before
    assert do(client, city, "clerk", n, "accept", expected_version=version)["version"] > version


# --- the event log ----------------------------------------------------------------------

def test_state_is_rebuilt_from_events_on_every_path(client, city, db_session):
    numbers = [drive(client, city, s) for s in DRIVABLE]
    for n in numbers:
        case = db_session.scalar(select(Case).where(Case.number == n))
        assert replay_state(db_session, case) == case.state
        evs = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
        assert evs[0].verb == "submit" and evs[0].from_state is None
        for a, b in zip(evs, evs[1:], strict=False):
            assert b.from_state == a.to_state and b.at >= a.at
        for e in evs:
            assert e.actor_role and e.at is not None and e.to_state in STATES
            assert e.actor_role in (SYSTEM, CITIZEN) or e.actor_id is not None


def test_replay_detects_a_log_that_does_not_chain(client, city, db_session):
    n = drive(client, city, "opened")
    case = db_session.scalar(select(Case).where(Case.number == n))
    CaseEventFactory(case=case, verb="dispatch", actor=None, actor_role="dispatcher", from_state="handling",
                     to_state="dispatched")
    with pytest.raises(AssertionError, match="starts from handling"):
        replay_state(db_session, case)


def test_events_cannot_be_updated_or_deleted(client, city, db_session):
    n = drive(client, city, "accepted")
    case = db_session.scalar(select(Case).where(Case.number == n))
    event = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).first()
    event.note = "rewritten history"
    with pytest.raises(RuntimeError, match="immutable"):
        db_session.flush()
    db_session.rollback()
    event = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).first()
    db_session.delete(event)
    with pytest.raises(RuntimeError, match="immutable"):
        db_session.flush()
    db_session.rollback()
    assert db_session.query(CaseEvent).filter_by(case_id=case.id).count() == 2
    assert replay_state(db_session, db_session.scalar(select(Case).where(Case.number == n))) == "accepted"


def test_the_database_itself_refuses_to_rewrite_history(client, city, db_session):
    """Not only the ORM: raw SQL cannot update or delete events (a trigger in the migration)."""
    import pytest as _pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from tests.dispatch.conftest import report as _report

    _report(client, city)
    for sql in ("UPDATE case_events SET note = 'rewritten'", "DELETE FROM case_events"):
        with _pytest.raises(DBAPIError, match="append-only"):
            with db_session.begin_nested():
                db_session.execute(text(sql))
