"""Stage deadlines on a frozen clock (time-machine), over the real Chinese calendar
(docs/domain.md §3): National Day 2026 (1-7 October off, Saturday 10 October worked) and
Spring Festival 2026 (Saturday 14 February worked, 15-23 February off). Times are
Asia/Shanghai wall-clock; working hours 08:00-12:00 and 14:00-18:00.

C0101 (manhole cover): sign 1 working hour, handle 3 working days (24 working hours).
E0102 (exposed garbage): handle 4 working hours, dispatched automatically on opening."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import time_machine
from sqlalchemy import select

from dispatch.cases.models import Case
from dispatch.clocks import deadlines
from dispatch.clocks.models import StageClock
from dispatch.notifications.models import Outbox
from grid.calendar.workcal import WorkCalendar
from tests.dispatch.conftest import do, report
from tests.dispatch.test_paths import get

SH = ZoneInfo("Asia/Shanghai")


def at(month, day, hour, minute=0, second=0, year=2026) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SH)


def iso(dt: datetime) -> str:
    return dt.isoformat()


@pytest.fixture
def clock():
    traveller = time_machine.travel(at(9, 30, 15), tick=False)
    t = traveller.start()
    yield t
    traveller.stop()


def test_the_calendar_facts_this_file_relies_on():
    # checked against chinese_calendar 1.11.0 (the State Council schedule for 2026)
    for d in range(1, 8):
        assert chinese_calendar.is_holiday(at(10, d, 0).date())
    assert chinese_calendar.is_workday(at(10, 10, 0).date()) and at(10, 10, 0).weekday() == 5
    assert chinese_calendar.is_holiday(at(10, 11, 0).date())
    assert chinese_calendar.is_workday(at(2, 14, 0).date()) and at(2, 14, 0).weekday() == 5
    for d in range(15, 24):
        assert chinese_calendar.is_holiday(at(2, d, 0).date())


def _to_dispatched(client, city, clock, dispatched_at: datetime, category="C0101") -> str:
    n = report(client, city, category=category)["number"]
    do(client, city, "clerk", n, "accept")
    clock.move_to(dispatched_at)
    do(client, city, "shift", n, "open")
    if category == "C0101":
        do(client, city, "dispatcher", n, "dispatch")
    return n


def _handling(client, city, clock, signed_at: datetime, category="C0101") -> str:
    n = _to_dispatched(client, city, clock, signed_at, category)
    who = "road" if category == "C0101" else "env"
    c = do(client, city, who, n, "sign")
    assert c["clock"]["stage"] == "handle" and c["clock"]["started_at"] == iso(signed_at)
    return n


def test_work_hour_and_work_day_limits_across_national_day_and_its_makeup_saturday(client, city, clock):
    n = _to_dispatched(client, city, clock, at(9, 30, 17, 30))
    c = get(client, city, "road", n)["clock"]
    # 1 working hour from Wed 30 Sep 17:30: half an hour that day, the rest after the holiday
    assert (c["stage"], c["unit"], c["due_at"]) == ("sign", "work_hours", iso(at(10, 8, 8, 30)))
    clock.move_to(at(9, 30, 17, 45))
    c = do(client, city, "road", n, "sign")["clock"]
    # 24 working hours from 17:45: 0.25 h + Thu 8 Oct 8 h + Fri 9 Oct 8 h + Sat 10 Oct (worked) 7.75 h
    assert (c["stage"], c["amount"], c["unit"]) == ("handle", 3.0, "work_days")
    assert c["due_at"] == iso(at(10, 10, 17, 45))
    assert c["warn_at"] == iso(at(10, 10, 10, 57))  # 80% = 19.2 h
    # the sign stage ended on time
    clocks = {k.stage: k for k in get_clocks(n)}
    assert clocks["sign"].ended_late is False


def get_clocks(number):
    from wangge.extensions import db

    case = db.session.scalar(select(Case).where(Case.number == number))
    return db.session.scalars(select(StageClock).where(StageClock.case_id == case.id).order_by(StageClock.id)).all()


def test_work_hours_across_spring_festival_and_its_makeup_saturday(client, city, clock):
    clock.move_to(at(2, 13, 16))
    n = _handling(client, city, clock, at(2, 13, 17), category="E0102")
    c = get(client, city, "env", n)["clock"]
    assert (c["amount"], c["unit"]) == (4.0, "work_hours")
    # Fri 13 Feb 17:00-18:00, then Saturday 14 Feb is a make-up working day: 08:00 + 3 h
    assert c["due_at"] == iso(at(2, 14, 11))
    m = _handling(client, city, clock, at(2, 14, 17), category="E0102")
    # signed on that Saturday at 17:00: one hour, then nine days off, then Tue 24 Feb 08:00 + 3 h
    assert get(client, city, "env", m)["clock"]["due_at"] == iso(at(2, 24, 11))


def test_suspension_pauses_the_clock_by_exactly_the_suspended_working_time(client, city, clock):
    n = _handling(client, city, clock, at(9, 30, 16, 30))
    due = get(client, city, "road", n)["clock"]["due_at"]
    assert due == iso(at(10, 10, 16, 30))
    clock.move_to(at(10, 8, 10))  # 3.5 working hours used
    do(client, city, "road", n, "request_suspend", note="需立项", review_date="2026-10-09")
    c = do(client, city, "dispatcher", n, "decide_suspend", outcome="approve")["clock"]
    assert c["paused"] is True and c["due_at"] is None and c["light"] == "green"
    clock.move_to(at(10, 12, 17))  # long past the old deadline: a paused clock does not turn red
    c = get(client, city, "road", n)["clock"]
    assert c["paused"] is True and c["light"] == "green"
    clock.move_to(at(10, 9, 15))
    c = do(client, city, "dispatcher", n, "restore")["clock"]
    # 20.5 h left from Fri 9 Oct 15:00: 3 h + Sat 10 Oct 8 h + Mon 12 Oct 8 h + Tue 13 Oct 1.5 h
    assert c["paused"] is False and c["due_at"] == iso(at(10, 13, 9, 30))
    paused = WorkCalendar().working_time_between(at(10, 8, 10), at(10, 9, 15))
    assert paused == timedelta(hours=11)
    assert WorkCalendar().working_time_between(datetime.fromisoformat(due), at(10, 13, 9, 30)) == paused


def test_approved_extension_adds_the_original_limit(client, city, clock):
    n = _handling(client, city, clock, at(9, 30, 16, 30))
    clock.move_to(at(10, 8, 10))
    c = do(client, city, "road", n, "request_extension", note="需要采购")["clock"]
    assert c["paused"] is False and c["due_at"] == iso(at(10, 10, 16, 30))  # keeps running by default
    clock.move_to(at(10, 8, 11))
    c = do(client, city, "dispatcher", n, "decide_extension", outcome="approve")["clock"]
    # 24 more working hours after Sat 10 Oct 16:30: 1.5 + Mon 8 + Tue 8 + Wed 14 Oct 6.5 -> 16:30
    assert (c["amount"], c["extended"]) == (6.0, 3.0)
    assert c["due_at"] == iso(at(10, 14, 16, 30))
    assert c["warn_at"] == iso(at(10, 13, 14, 54))  # 80% of 48 h = 38.4 h from the start


def test_refused_extension_leaves_the_deadline(client, city, clock):
    n = _handling(client, city, clock, at(9, 30, 16, 30))
    clock.move_to(at(10, 8, 10))
    do(client, city, "road", n, "request_extension", note="需要采购")
    clock.move_to(at(10, 9, 10))
    c = do(client, city, "dispatcher", n, "decide_extension", outcome="refuse")["clock"]
    assert c["due_at"] == iso(at(10, 10, 16, 30)) and c["extended"] == 0


@pytest.mark.parametrize("outcome,due", [("approve", at(10, 15, 16, 30)), ("refuse", at(10, 12, 16, 30))])
def test_clock_pauses_while_an_extension_waits_where_configured(client, city, clock, app, monkeypatch, outcome, due):
    monkeypatch.setattr(app.config["WANGGE"], "pause_while_extension_pending", True)
    n = _handling(client, city, clock, at(9, 30, 16, 30))
    clock.move_to(at(10, 8, 10))
    c = do(client, city, "road", n, "request_extension", note="需要采购")["clock"]
    assert c["paused"] is True and c["due_at"] is None
    clock.move_to(at(10, 9, 10))  # 8 working hours waiting for the decision
    c = do(client, city, "dispatcher", n, "decide_extension", outcome=outcome)["clock"]
    # the old deadline Sat 10 Oct 16:30 moves by the 8 h wait (+ 24 h when approved)
    assert c["paused"] is False and c["due_at"] == iso(due)


def test_lights_turn_at_80_percent_and_at_the_deadline(client, city, clock, db_session):
    n = _handling(client, city, clock, at(9, 30, 17, 45))  # due Sat 10 Oct 17:45, 80% at 10:57

    def light(now):
        clock.move_to(now)
        c = get(client, city, "dispatcher", n)["clock"]
        listed = {x["number"]: x["clock"]["light"] for x in
                  client.get(f"/api/v1/cases?light={c['light']}", headers=city.h("dispatcher")).json["cases"]}
        assert listed.get(n) == c["light"]  # the list filter agrees with the detail
        return c["light"]

    assert light(at(10, 1, 12)) == "green"  # the holiday does not count
    assert light(at(10, 9, 18)) == "green"  # 17.5 of 24 h used
    assert light(at(10, 10, 10, 56, 59)) == "green"
    assert light(at(10, 10, 10, 57)) == "yellow"
    assert light(at(10, 10, 17, 45)) == "yellow"
    assert light(at(10, 10, 17, 45, 1)) == "red"
    assert light(at(10, 11, 12)) == "red"

    # the sweep notifies once at 80% and once when overdue
    def sweep(now):
        result = deadlines.sweep(db_session, now=now.astimezone(SH))
        db_session.commit()
        return result

    assert sweep(at(10, 10, 10, 56)) == {"warnings": 0, "overdue": 0}
    assert sweep(at(10, 10, 10, 57)) == {"warnings": 1, "overdue": 0}
    assert sweep(at(10, 10, 12)) == {"warnings": 0, "overdue": 0}
    assert sweep(at(10, 10, 17, 46)) == {"warnings": 0, "overdue": 1}
    rows = [o.payload for o in db_session.scalars(select(Outbox).where(Outbox.topic == "deadline").order_by(Outbox.id))
            if o.payload["case"] == n]
    assert [r["template"] for r in rows] == ["deadline_warning", "deadline_overdue"]
    assert city.staff["road"].id in {r["id"] for r in rows[0]["recipients"]}
    assert city.staff["leader"].id in {r["id"] for r in rows[1]["recipients"]}
    clock.move_to(at(10, 12, 9))
    do(client, city, "road", n, "report_back", note="已处理")
    handle = next(k for k in get_clocks(n) if k.stage == "handle")
    assert handle.ended_late is True
