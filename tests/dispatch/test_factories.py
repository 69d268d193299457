"""The dispatch factories make rows the application itself accepts: numbered as intake numbers
them, with the event log replay expects, readable through the API, clocks over the work
calendar, append-only records that stay so."""
from __future__ import annotations

import re

import pytest
from shapely.geometry import Point

from dispatch.cases.models import Case
from dispatch.clocks import deadlines
from dispatch.intake.numbering import next_number
from dispatch.workflow.actions import replay_state
from tests.dispatch.conftest import POINT_G1, report
from tests.factories import (
    AttachmentFactory,
    CaseEventFactory,
    CaseFactory,
    EnforcementCaseFactory,
    EnforcementRecordFactory,
    StageClockFactory,
)


def test_a_factory_case_is_numbered_logged_and_readable_like_a_submitted_one(client, city, db_session):
    case = CaseFactory(lon=POINT_G1[0], lat=POINT_G1[1], category_code="E0102")
    assert re.fullmatch(r"310101\d{4}\d{6}", case.number) and re.fullmatch(r"[2-9A-HJ-NP-Z]{10}", case.tracking_code)
    assert case.location.equals(Point(*POINT_G1)) and case.version == 1
    assert [e.verb for e in case.events] == ["submit"] and case.events[0].actor_role == "citizen"
    assert replay_state(db_session, case) == "reported"
    # the intake's numbering goes on after it: no two cases share a number
    submitted = report(client, city, category="C0101")
    assert submitted["number"] != case.number
    assert next_number(db_session, "310101", int(case.number[6:10])) > max(case.number, submitted["number"])

    r = client.get(f"/api/v1/cases/{case.number}", headers=city.h("clerk"))
    assert r.status_code == 200, r.json
    assert (r.json["state"], r.json["category_code"]) == ("reported", "E0102")
    assert [e["verb"] for e in r.json["events"]] == ["submit"]


def test_events_chain_and_carry_their_actor(city, db_session):
    worker = city.staff["worker1"]
    case = CaseFactory(channel="grid_worker", reporter=worker)
    assert (case.events[0].actor_id, case.events[0].actor_role) == (worker.id, "grid_worker")
    CaseEventFactory(case=case, verb="accept", actor=city.staff["clerk"], from_state="reported",
                     to_state="accepted")
    db_session.expire(case, ["events"])
    assert [(e.verb, e.actor_role) for e in case.events] == [("submit", "grid_worker"), ("accept", "intake_clerk")]
    assert replay_state(db_session, case) == "accepted"
    assert CaseFactory(submitted=None).events == []


def test_a_clock_runs_over_the_work_calendar(city, db_session):
    clock = StageClockFactory(case=CaseFactory(state="handling", department=city.departments["env"]))
    cal = deadlines.calendar(db_session)
    assert clock.due_at == cal.add(clock.started_at, 4, "work_hours")
    assert clock.started_at <= clock.warn_at < clock.due_at
    assert clock.department_id == city.departments["env"].id
    assert deadlines.current_clock(db_session, clock.case) is clock
    assert deadlines.light(clock, now=clock.started_at) == "green"
    assert deadlines.light(clock, now=clock.warn_at) == "yellow"


def test_attachment_rows_are_metadata_of_their_uploader(city, db_session):
    a, b = AttachmentFactory(uploader=city.staff["worker1"]), AttachmentFactory()
    assert a.uploaded_by == city.staff["worker1"].id and b.uploaded_by not in (None, a.uploaded_by)
    assert a.sha256 != b.sha256 and len(a.sha256) == 64 and a.path == f"{a.sha256[:2]}/{a.sha256}"
    case = CaseFactory()
    assert AttachmentFactory(case=case).case_id == case.id


def test_an_enforcement_case_with_its_clock_and_records_is_readable(client, city, db_session):
    enf = EnforcementCaseFactory(team=city.departments["zf"],
                                 parent=CaseFactory(state="enforcement", department=city.departments["env"]))
    assert enf.number == f"{enf.parent.number}-ZF1" and enf.version == 1
    clock = StageClockFactory(enforcement=enf)
    assert (clock.case_id, clock.enforcement_id, clock.stage) == (None, enf.id, "enf_accept")
    assert clock.department_id == city.departments["zf"].id
    record = EnforcementRecordFactory(enforcement=enf, actor_id=city.staff["zfleader"].id)

    r = client.get(f"/api/v1/enforcement/{enf.number}", headers=city.h("zfleader"))
    assert r.status_code == 200, r.json
    assert (r.json["stage"], r.json["team"]["code"], r.json["light"]) == ("accept", "ZF", "green")
    assert [x["id"] for x in r.json["records"]] == [record.id]

    record.note = "rewritten"
    with pytest.raises(RuntimeError, match="append-only"):
        db_session.flush()
    db_session.rollback()
    assert db_session.get(Case, enf.parent_case_id).state == "enforcement"
