"""Enforcement stages on the case machinery: their clocks are stage clocks over the work
calendar (a holiday does not count), the one deadline sweep warns and escalates them next to
the cases' clocks, a step not in the enforcement table is refused, and migration 0004 turns a
running stage of an existing enforcement case into a clock."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import flask_migrate
import pytest
import time_machine
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from dispatch.cases.models import Case
from dispatch.clocks import deadlines
from dispatch.clocks.models import StageClock
from dispatch.enforcement import lifecycle, service
from dispatch.enforcement.models import EnforcementCase
from dispatch.enforcement.schemas import TARGETS
from dispatch.notifications.models import Outbox
from tests.conftest import make_settings
from tests.dispatch.conftest import do, report
from tests.dispatch.test_enforcement import (
    API,
    advance,
    assign,
    enf_number,
    get,
    refer_by_dispatcher,
    snapshot,
)
from wangge import create_app
from wangge.extensions import db

SH = ZoneInfo("Asia/Shanghai")


def at(month, day, hour, minute=0, year=2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def local(value: str) -> datetime:
    return datetime.fromisoformat(value)


def enforcement_case(db_session, number) -> EnforcementCase:
    db_session.expire_all()
    return db_session.scalar(select(EnforcementCase).where(EnforcementCase.number == number))


@pytest.fixture
def frozen():
    traveller = time_machine.travel(at(9, 30, 9), tick=False)
    t = traveller.start()
    yield t
    traveller.stop()


def test_stage_clock_runs_over_the_work_calendar_across_national_day(client, city, db_session, frozen):
    # E0304 (illegal construction): accept within 4 working hours. Referred on Wednesday
    # 30 September 2026 at 17:30: half an hour that day, 1-7 October off, 3.5 hours on the 8th.
    frozen.move_to(at(9, 30, 17, 30))
    _, c = refer_by_dispatcher(client, city)
    number = enf_number(c)
    enf = get(client, city.h("zfleader"), f"{API}/{number}")
    assert local(enf["stage_due_at"]) == at(10, 8, 11, 30)
    assert local(enf["stage_warn_at"]) == at(10, 8, 10, 42)  # 80%: 3.2 working hours
    assert enf["limit"] == {"amount": 4, "unit": "work_hours"} and enf["light"] == "green"

    row = enforcement_case(db_session, number)
    clock = db_session.scalar(select(StageClock).where(StageClock.enforcement_id == row.id))
    assert clock.case_id is None and clock.stage == "enf_accept" and clock.department_id == row.team_id
    assert (clock.amount, clock.unit, clock.ended_at) == (4, "work_hours", None)
    assert deadlines.current_clock(db_session, row).id == clock.id

    frozen.move_to(at(10, 7, 17))
    assert get(client, city.h("zfleader"), f"{API}/{number}")["light"] == "green"  # the holiday does not count
    frozen.move_to(at(10, 8, 10, 43))
    assert get(client, city.h("zfleader"), f"{API}/{number}")["light"] == "yellow"
    frozen.move_to(at(10, 8, 11, 31))
    assert get(client, city.h("zfleader"), f"{API}/{number}")["light"] == "red"
    assert [e["number"] for e in get(client, city.h("zfleader"), f"{API}?light=red")["enforcement_cases"]] == \
        [number]

    # leaving the stage late ends its clock late and starts the next stage's (7 work days)
    assign(client, city, number, city.staff["officer"].id)
    enf = advance(client, city, "zfleader", number, "investigate")
    assert enf["records"][-1]["data"]["late"] is True
    db_session.expire_all()
    assert db_session.get(StageClock, clock.id).ended_late is True
    # 7 work days: 9, 10 (a Saturday worked after the holiday), 12, 13, 14, 15 and 16 October
    assert local(enf["stage_due_at"]) == at(10, 16, 11, 31)


def _case_clock(client, city, db_session) -> StageClock:
    n = report(client, city)["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")  # E0102 goes out at once: the sign clock runs
    return deadlines.current_clock(db_session, db_session.scalar(select(Case).where(Case.number == n)))


def _rows(db_session, topic: str) -> list[Outbox]:
    return list(db_session.scalars(select(Outbox).where(Outbox.topic == topic).order_by(Outbox.id)))


def test_one_sweep_warns_and_escalates_enforcement_stages_with_the_cases(client, city, db_session):
    _, c = refer_by_dispatcher(client, city)
    number = enf_number(c)
    enf = enforcement_case(db_session, number)
    case_clock = _case_clock(client, city, db_session)
    enf_clock = deadlines.current_clock(db_session, enf)
    t0 = service.utcnow()
    case_clock.warn_at, case_clock.due_at = t0 - timedelta(hours=2), t0 - timedelta(hours=1)
    enf_clock.warn_at, enf_clock.due_at = t0 - timedelta(hours=2), t0 + timedelta(hours=1)
    db_session.commit()

    assert deadlines.sweep(db_session, now=t0) == {"warnings": 2, "overdue": 1}
    assert deadlines.sweep(db_session, now=t0) == {"warnings": 0, "overdue": 0}  # once only
    assert [r.payload["template"] for r in _rows(db_session, "deadline")] == ["deadline_warning", "deadline_overdue"]
    [warning] = _rows(db_session, "enforcement")[1:]  # after the referral notice
    started = enf_clock.started_at.timestamp()
    assert warning.dedup_key == f"enforcement:{enf.id}:accept:{started:.0f}:warning"
    assert warning.payload["template"] == "enforcement_deadline_warning" and warning.payload["case"] == number
    assert warning.payload["parent_case"] == enf.parent.number and warning.payload["enforcement_id"] == enf.id
    assert "「受理」环节即将超时" in warning.payload["text_zh"]
    assert [r["id"] for r in warning.payload["recipients"]] == [city.staff["zfleader"].id]  # the leader accepts

    # the officers' stage: warned are the assigned officers, overdue goes to the leader as well
    assign(client, city, number, city.staff["officer"].id)
    advance(client, city, "zfleader", number, "investigate")
    enf = enforcement_case(db_session, number)
    investigate = deadlines.current_clock(db_session, enf)
    assert investigate.stage == "enf_investigate" and investigate.id != enf_clock.id
    assert db_session.get(StageClock, enf_clock.id).ended_at is not None
    assert deadlines.sweep(db_session, now=investigate.due_at + timedelta(seconds=1)) == {"warnings": 1, "overdue": 1}
    warning, overdue = _rows(db_session, "enforcement")[-2:]
    assert warning.payload["template"] == "enforcement_deadline_warning"
    assert [r["id"] for r in warning.payload["recipients"]] == [city.staff["officer"].id]
    assert overdue.payload["template"] == "enforcement_deadline_overdue" and "已超时" in overdue.payload["text_zh"]
    assert [r["id"] for r in overdue.payload["recipients"]] == [city.staff["officer"].id, city.staff["zfleader"].id]

    # closed: no clock runs, nothing more to sweep
    for to, who, note in (("decide", "officer", "查明"), ("execute", "officer", "决定"), ("close", "officer", "执行"),
                          ("closed", "zfleader", "结案")):
        advance(client, city, who, number, to, note=note)
    assert deadlines.current_clock(db_session, enforcement_case(db_session, number)) is None
    assert deadlines.sweep(db_session, now=t0 + timedelta(days=3650)) == {"warnings": 0, "overdue": 0}


def test_a_step_not_in_the_table_is_refused(client, city, db_session):
    _, c = refer_by_dispatcher(client, city)
    number = enf_number(c)
    assign(client, city, number, city.staff["officer"].id)
    for stage in lifecycle.STAGES:
        [verb] = lifecycle.advancing(stage)
        who = "zfleader" if lifecycle.LEADER in verb.roles else "officer"
        before = snapshot(db_session, number)
        clock_id = deadlines.current_clock(db_session, enforcement_case(db_session, number)).id
        for to in lifecycle.STATES:
            if to == verb.target:
                continue
            r = advance(client, city, who, number, to, expect=409 if to in TARGETS else 422, note="x")
            assert r["code"] == ("enforcement_out_of_order" if to in TARGETS else "validation_error"), (stage, to)
        assert snapshot(db_session, number) == before
        assert deadlines.current_clock(db_session, enforcement_case(db_session, number)).id == clock_id
        assert advance(client, city, who, number, verb.target, note="按表推进")["stage"] == verb.target
    r = advance(client, city, "zfleader", number, "close", expect=409, note="x")
    assert r["code"] == "enforcement_closed"


def test_a_clock_has_exactly_one_owner(client, city, db_session):
    _, c = refer_by_dispatcher(client, city)
    enf = enforcement_case(db_session, enf_number(c))
    clock = deadlines.current_clock(db_session, enf)
    clock.case_id = enf.parent_case_id
    with pytest.raises(IntegrityError, match="one_owner"):
        db_session.flush()
    db_session.rollback()
    clock = deadlines.current_clock(db_session, enforcement_case(db_session, enf_number(c)))
    clock.enforcement_id = None
    with pytest.raises(IntegrityError, match="one_owner"):
        db_session.flush()
    db_session.rollback()


def test_migration_moves_running_stages_to_clocks_and_back(tmp_path):
    """On the embedded SQLite file: an enforcement case stored by 0003 with its own deadline
    columns gets a running clock with the same deadlines (a warning already sent stays sent),
    a closed one none; downgrading puts the columns back."""
    path = tmp_path / "wangge.sqlite3"
    app = create_app(make_settings(f"sqlite:///{path}", data_dir=str(tmp_path)))
    started = datetime(2026, 9, 30, 9, 30)  # UTC, as SQLite stores it
    with app.app_context():
        flask_migrate.upgrade(revision="0003")
        db.engine.dispose()
    con = sqlite3.connect(path)
    con.executescript("""
        INSERT INTO departments (id, code, name, kind, active) VALUES (1, 'ZF', '执法', 'enforcement_team', 1);
        INSERT INTO categories (code, kind, name_zh, auto_dispatch, active, sort)
            VALUES ('E03', 'event', '违法建设', 0, 1, 1);
        INSERT INTO categories (code, kind, name_zh, auto_dispatch, active, sort, parent_code)
            VALUES ('E0304', 'event', '违章搭建', 0, 1, 1, 'E03');
        INSERT INTO time_limits (category_code, stage, amount, unit) VALUES ('*', 'enf_decide', 7, 'work_days');
        INSERT INTO time_limits (category_code, stage, amount, unit) VALUES ('E03', 'enf_decide', 5, 'work_days');
        INSERT INTO cases (id, number, tracking_code, channel, description, state, supervised, reported_at,
                           updated_at, version, category_code)
            VALUES (1, 'C1', 't1', 'staff', 'd', 'enforcement', 0, '2026-09-30 09:00:00', '2026-09-30 09:00:00', 1,
                    'E0304');
    """)
    con.executemany(
        "INSERT INTO enforcement_cases (id, number, parent_case_id, team_id, stage, stage_started_at, stage_warn_at,"
        " stage_due_at, reason, created_at, version) VALUES (?, ?, 1, 1, ?, ?, ?, ?, 'r', ?, 1)",
        [(1, "C1-ZF1", "decide", "2026-09-30 09:30:00.000000", "2026-10-09 09:30:00.000000",
          "2026-10-12 09:30:00.000000", "2026-09-30 09:00:00"),
         (2, "C1-ZF2", "closed", "2026-09-30 09:30:00.000000", None, None, "2026-09-30 09:00:00")])
    key = f"enforcement:1:decide:{started.replace(tzinfo=UTC).timestamp():.0f}:warning"
    con.execute("INSERT INTO outbox (dedup_key, topic, payload, created_at, available_at, attempts) "
                "VALUES (?, 'enforcement', '{}', '2026-10-09 10:00:00', '2026-10-09 10:00:00', 0)", (key,))
    con.commit()
    con.close()

    with app.app_context():
        flask_migrate.upgrade()
        session = db.session
        [clock] = session.scalars(select(StageClock)).all()
        assert (clock.enforcement_id, clock.case_id, clock.stage, clock.department_id) == (1, None, "enf_decide", 1)
        assert (clock.amount, clock.unit, clock.consumed) == (5, "work_days", 0)  # the big class's limit
        assert clock.started_at == clock.segment_started_at == started.replace(tzinfo=UTC)
        assert clock.warn_at == datetime(2026, 10, 9, 9, 30, tzinfo=UTC)
        assert clock.due_at == datetime(2026, 10, 12, 9, 30, tzinfo=UTC)
        assert clock.warned_at is not None and clock.overdue_notified_at is None  # the warning was sent
        columns = {c["name"] for c in inspect(db.engine).get_columns("enforcement_cases")}
        assert not {"stage_warn_at", "stage_due_at"} & columns
        session.remove()

        flask_migrate.downgrade(revision="0003")
        assert session.scalar(select(func.count()).select_from(StageClock.__table__)) == 0
        due = session.execute(db.text("SELECT id, stage_due_at FROM enforcement_cases ORDER BY id")).all()
        assert [(i, d and str(d)[:19]) for i, d in due] == [(1, "2026-10-12 09:30:00"), (2, None)]
        session.remove()
        db.engine.dispose()
