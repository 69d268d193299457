"""Evaluation indicators: known histories built through the HTTP API at known times, exact
numbers per indicator, period boundaries, exports, the CLI, SQLite, and "from events"."""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from shapely.geometry import box
from sqlalchemy import inspect, select, update

from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks.models import StageClock
from dispatch.indicators import kpi
from dispatch.indicators.views import XLSX
from dispatch.intake import service as intake
from dispatch.workflow.actions import Actor, Payload, act, replay_state
from grid.catalog.service import load_catalog
from grid.models import GridAssignment
from tests.conftest import make_settings
from tests.dispatch.conftest import POINT_G1, POINT_G2, do, report
from tests.factories import (
    AssignmentFactory,
    DepartmentFactory,
    GridFactory,
    ResponsibilityFactory,
    StaffFactory,
)
from wangge import create_app
from wangge.cli import upgrade_database
from wangge.extensions import db

SH = ZoneInfo("Asia/Shanghai")
DAY = (2026, 3, 10)  # a Tuesday, an ordinary working day; working hours 08-12, 14-18


def at(hour, minute=0, day=10):
    return datetime(2026, 3, day, hour, minute, tzinfo=SH)


def one_day():
    return kpi.local_period(datetime(*DAY).date(), datetime(*DAY).date(), "Asia/Shanghai")


def rows_by(rows, field="code"):
    return {row[field]: row for row in rows}


@pytest.fixture
def history(client, city, db_session):
    """Six reports on 2026-03-10 (times are Shanghai local):

    A  C0101 worker1 grid1: open on time, dispatched to ENV (wrong), ENV returns, return
       accepted, re-dispatched late to ROAD, extension approved, reported back, check fails
       (rework), reported back again, check passes late, closed, rated 基本满意.
    B  E0102 citizen (web) grid1: verified late, opened late, auto-dispatched to ENV, signed,
       never reported back (handle clock due 17:40: overdue and unhandled).
    C  C0101 worker2 grid2: opened on time, then voided.
    D  C0101 worker2 grid2: rejected (not a valid report).
    E  E0102 worker2 grid2: auto-dispatched to ENV, reported back late, checked on time,
       closed, rated 不满意.
    F  C0101 worker1 grid1: dispatched to ROAD, ROAD asks to return, refused, re-dispatched
       to ENV by the dispatcher.
    """
    db_session.execute(update(GridAssignment).values(valid_from=datetime(2020, 1, 1, tzinfo=UTC)))
    n = {}
    with time_machine.travel(at(8, 30), tick=False) as tm:
        def step(hour, minute, *args, **body):
            tm.move_to(at(hour, minute))
            return do(client, city, *args, **body)

        # E
        n["E"] = report(client, city, who="worker2", point=POINT_G2, category="E0102")["number"]
        step(8, 35, "clerk", n["E"], "accept")
        step(8, 40, "shift", n["E"], "open")  # auto-dispatch to ENV at the same instant
        step(8, 50, "env", n["E"], "sign")  # handle: 4 working hours, due 14:50
        # A
        tm.move_to(at(9, 0))
        n["A"] = report(client, city, category="C0101")["number"]
        do(client, city, "clerk", n["A"], "accept")  # open clock due 09:30
        # B (public)
        tm.move_to(at(9, 5))
        r = client.post("/api/v1/public/reports", json={"description": "垃圾", "category_code": "E0102",
                                                        "lon": POINT_G1[0], "lat": POINT_G1[1]})
        assert r.status_code == 201, r.json
        n["B"] = r.json["number"]
        step(9, 5, "clerk", n["B"], "request_verify")  # verify clock due 10:05, assigned to worker1
        step(9, 10, "shift", n["A"], "open")
        step(9, 20, "dispatcher", n["A"], "dispatch", department_code="ENV")
        # C
        tm.move_to(at(9, 30))
        n["C"] = report(client, city, who="worker2", point=POINT_G2, category="C0101")["number"]
        step(9, 30, "env", n["A"], "return", note="不归我们管")
        step(9, 35, "clerk", n["C"], "accept")
        step(9, 40, "shift", n["C"], "open")
        step(9, 40, "dispatcher", n["A"], "rule_return", outcome="accept")  # dispatch clock due 10:10
        step(9, 50, "dispatcher", n["C"], "request_void", note="重复")
        step(10, 0, "shift", n["C"], "decide_void", outcome="approve")
        # D
        tm.move_to(at(10, 0))
        n["D"] = report(client, city, who="worker2", point=POINT_G2, category="C0101")["number"]
        step(10, 5, "clerk", n["D"], "reject", note="不属实")
        step(10, 30, "worker1", n["B"], "verify", outcome="confirmed")  # late; open clock due 11:00
        step(10, 30, "dispatcher", n["A"], "dispatch", department_code="ROAD")  # late
        step(10, 40, "road", n["A"], "sign")
        step(11, 0, "road", n["A"], "request_extension", note="需要材料")
        step(11, 10, "dispatcher", n["A"], "decide_extension", outcome="approve")
        step(11, 20, "road", n["A"], "report_back", note="已修")
        step(11, 30, "clerk", n["A"], "request_check")  # check due 14:30
        step(11, 30, "shift", n["B"], "open")  # late; auto-dispatched to ENV on time
        step(11, 40, "worker1", n["A"], "check", outcome="fail")  # rework: a new handle clock
        step(11, 40, "env", n["B"], "sign")  # handle clock due 17:40
        # F
        tm.move_to(at(13, 0))
        n["F"] = report(client, city, category="C0101")["number"]
        do(client, city, "clerk", n["F"], "accept")
        step(13, 5, "shift", n["F"], "open")
        step(13, 10, "dispatcher", n["F"], "dispatch")  # ROAD, suggested
        step(13, 20, "road", n["F"], "return", note="不是井盖")
        step(13, 30, "dispatcher", n["F"], "rule_return", outcome="refuse")
        step(13, 40, "dispatcher", n["F"], "redispatch", department_code="ENV")
        step(14, 10, "road", n["A"], "report_back", note="已返工")
        step(14, 20, "clerk", n["A"], "request_check")  # due 15:20
        step(15, 30, "env", n["E"], "report_back", note="已清理")  # late (due 14:50)
        step(15, 40, "clerk", n["E"], "request_check")  # worker2, due 16:40
        step(15, 50, "worker1", n["A"], "check", outcome="pass")  # late
        step(16, 0, "shift", n["A"], "close")
        step(16, 0, "worker2", n["E"], "check", outcome="pass")
        step(16, 10, "shift", n["E"], "close")
        step(16, 10, "clerk", n["A"], "rate", rating="basically_satisfied")
        step(16, 20, "clerk", n["E"], "rate", rating="unsatisfied")
        tm.move_to(at(9, 0, day=11))
        yield n, tm


def get_kpi(client, city, who="leader", **params):
    query = {"from": "2026-03-10", "to": "2026-03-10", "by": "department", **params}
    r = client.get("/api/v1/kpi", query_string=query, headers=city.h(who))
    return r


def test_department_indicators_are_exact(client, city, history):
    r = get_kpi(client, city)
    assert r.status_code == 200, r.json
    assert r.json["period"]["start"].startswith("2026-03-10T00:00:00+08:00")
    rows = rows_by(r.json["rows"])
    assert set(rows) == {"ENV", "ROAD", None}

    none = rows[None]  # facts before any department had the case (intake, opening, dispatching)
    assert (none["reports"], none["valid_reports"], none["valid_report_rate"]) == (6, 5, 5 / 6)
    assert (none["opened"], none["opened_on_time"], none["on_time_open_rate"]) == (5, 4, 4 / 5)
    assert (none["voided"], none["accurate_open_rate"]) == (1, 4 / 5)
    assert (none["miss_opened"], none["missed"], none["miss_rate"]) == (5, 1, 1 / 5)
    assert (none["verify_due"], none["verify_on_time"], none["on_time_verify_rate"]) == (1, 0, 0.0)
    # A twice (on time, late), B, E, F on time; C's clock was withdrawn by the void
    assert (none["dispatch_due"], none["dispatch_on_time"], none["on_time_dispatch_rate"]) == (5, 4, 4 / 5)
    assert none["dispatched"] == 0 and none["return_rate"] is None and none["handling_rate"] is None
    assert none["score"] is None  # nothing a department score measures

    env = rows["ENV"]
    assert env["name"] == "环卫所"
    # dispatches to ENV: A (returned, return accepted), B, E, F (redispatch)
    assert (env["dispatched"], env["returned"], env["return_accepted"]) == (4, 1, 1)
    assert (env["return_rate"], env["accurate_dispatch_rate"]) == (1 / 4, 3 / 4)
    # handle clocks: E (late), B (overdue, never reported back)
    assert (env["due_handling"], env["handled"], env["handled_on_time"]) == (2, 1, 0)
    assert (env["handling_rate"], env["on_time_handling_rate"]) == (1 / 2, 0.0)
    assert (env["overdue_unhandled"], env["overdue_unhandled_rate"]) == (1, 1 / 2)
    assert (env["extended"], env["extension_rate"]) == (0, 0.0)
    assert (env["due_closing"], env["closed"], env["closed_on_time"], env["reworked"]) == (2, 1, 0, 0)
    assert (env["closing_rate"], env["on_time_closing_rate"], env["rework_rate"]) == (1 / 2, 0.0, 0.0)
    assert (env["check_due"], env["check_on_time"], env["on_time_check_rate"]) == (1, 1, 1.0)
    assert (env["rated"], env["unsatisfied"], env["satisfaction_rate"]) == (1, 1, 0.0)
    assert env["reports"] == 0 and env["valid_report_rate"] is None

    road = rows["ROAD"]
    assert (road["dispatched"], road["returned"], road["return_accepted"]) == (2, 1, 0)
    assert (road["return_rate"], road["accurate_dispatch_rate"]) == (1 / 2, 1.0)
    # A's first handling (extended, on time) and its rework (on time)
    assert (road["due_handling"], road["handled"], road["handled_on_time"], road["extended"]) == (2, 2, 2, 1)
    assert (road["on_time_handling_rate"], road["extension_rate"], road["overdue_unhandled_rate"]) == (1.0, 0.5, 0.0)
    assert (road["due_closing"], road["closed"], road["closed_on_time"], road["reworked"]) == (1, 1, 1, 1)
    assert road["rework_rate"] == 1.0
    assert (road["check_due"], road["check_on_time"], road["on_time_check_rate"]) == (2, 1, 1 / 2)
    assert (road["rated"], road["basically_satisfied"], road["satisfaction_rate"]) == (1, 1, 1.0)

    # default department score: 10 x volume/max + closing x 30 + on-time handling x 30 + (1 - rework) x 30
    assert env["score"] == pytest.approx(10 + 15 + 0 + 30)
    assert road["score"] == pytest.approx(10 + 30 + 30 + 0)
    assert env["score_max"] == 100


def test_grid_worker_and_category_groupings(client, city, history):
    grids = rows_by(get_kpi(client, city, by="grid").json["rows"])
    g1, g2 = grids["31010100100101"], grids["31010100100102"]
    assert g1["name"] == "一号网格"
    assert (g1["reports"], g1["valid_reports"], g2["reports"], g2["valid_reports"]) == (3, 3, 3, 2)
    assert (g1["miss_opened"], g1["missed"], g2["miss_opened"], g2["missed"]) == (3, 1, 2, 0)
    assert (g1["dispatched"], g1["returned"], g2["dispatched"]) == (5, 2, 1)

    w1, w2 = city.staff["worker1"].id, city.staff["worker2"].id
    workers = rows_by(get_kpi(client, city, by="worker").json["rows"], "key")
    assert (workers[w1]["reports"], workers[w1]["valid_report_rate"]) == (2, 1.0)
    assert (workers[w2]["reports"], workers[w2]["valid_report_rate"]) == (3, 2 / 3)
    assert workers[None]["reports"] == 1  # the citizen's report
    # miss rate by the grid worker assigned to the grid when the case was opened
    assert (workers[w1]["miss_rate"], workers[w2]["miss_rate"]) == (1 / 3, 0.0)
    # verification and checks by the worker they were assigned to
    assert (workers[w1]["verify_due"], workers[w1]["on_time_verify_rate"]) == (1, 0.0)
    assert (workers[w1]["check_due"], workers[w1]["on_time_check_rate"]) == (2, 1 / 2)
    assert (workers[w2]["check_due"], workers[w2]["on_time_check_rate"]) == (1, 1.0)
    assert workers[w1]["name"] == city.staff["worker1"].name

    cats = rows_by(get_kpi(client, city, by="category").json["rows"])
    assert (cats["C0101"]["reports"], cats["E0102"]["reports"]) == (4, 2)
    assert cats["C0101"]["name"] == "上水井盖"
    assert (cats["C0101"]["opened"], cats["C0101"]["voided"], cats["E0102"]["opened"]) == (3, 1, 2)
    assert (cats["E0102"]["due_handling"], cats["E0102"]["overdue_unhandled"]) == (2, 1)
    assert (cats["C0101"]["rework_rate"], cats["E0102"]["satisfaction_rate"]) == (1.0, 0.0)


def test_period_boundaries_and_past_periods_stay_put(client, city, history, db_session):
    n, tm = history
    start, end = one_day()
    s = db_session
    assert kpi.compute(s, start - timedelta(days=1), start, "department") == []
    # half-open: the rating at exactly 16:10 is outside [start, 16:10) and inside [start, 16:10 + 1 µs)
    cut = at(16, 10).astimezone(UTC)
    before = rows_by(kpi.compute(s, start, cut, "department"))
    after = rows_by(kpi.compute(s, start, cut + timedelta(microseconds=1), "department"))
    assert before["ROAD"]["rated"] == 0 and after["ROAD"]["rated"] == 1
    # a clock belongs to the period in which it settles: B's handle clock fell due at 17:40
    at_1740 = at(17, 40).astimezone(UTC)
    late_evening = rows_by(kpi.compute(s, at_1740 + timedelta(microseconds=1), end, "department"))
    assert late_evening.get("ENV", {}).get("due_handling", 0) == 0
    assert rows_by(kpi.compute(s, at_1740, end, "department"))["ENV"]["overdue_unhandled"] == 1
    # evaluated at 17:00 (``now``), B is not yet due: not counted anywhere
    early = rows_by(kpi.compute(s, start, end, "department", now=at(17, 0).astimezone(UTC)))
    assert (early["ENV"]["due_handling"], early["ENV"]["overdue_unhandled"]) == (1, 0)

    # B is reported back the next day: the 10th still shows it overdue and unhandled, and
    # the 11th does not count it again (it settled when it fell due)
    tm.move_to(at(10, 0, day=11))
    do(client, city, "env", n["B"], "report_back", note="终于处理了")
    again = rows_by(get_kpi(client, city).json["rows"])
    assert (again["ENV"]["due_handling"], again["ENV"]["overdue_unhandled"]) == (2, 1)
    nxt = rows_by(get_kpi(client, city, **{"from": "2026-03-11", "to": "2026-03-11"}).json["rows"])
    assert "ENV" not in nxt
    both = rows_by(get_kpi(client, city, **{"from": "2026-03-10", "to": "2026-03-11"}).json["rows"])
    assert (both["ENV"]["due_handling"], both["ENV"]["handled"], both["ENV"]["handled_on_time"]) == (2, 2, 0)


def test_csv_and_xlsx_carry_the_same_numbers(client, city, history):
    rows = rows_by(get_kpi(client, city).json["rows"])
    r = get_kpi(client, city, format="csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert list(table[0]) == kpi.columns()
    road = next(row for row in table if row["code"] == "ROAD")
    assert int(road["due_handling"]) == 2 and float(road["check_due"]) == 2
    assert float(road["on_time_check_rate"]) == rows["ROAD"]["on_time_check_rate"]
    assert next(row for row in table if row["code"] == "")["return_rate"] == ""  # null, not 0

    r = get_kpi(client, city, format="xlsx")
    assert r.status_code == 200 and r.mimetype == kpi_api_xlsx()
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    ws = wb["KPI"]
    header = [c.value for c in ws[1]]
    assert header == kpi.columns()
    sheet = {}
    for values in ws.iter_rows(min_row=2, values_only=True):
        row = dict(zip(header, values, strict=True))
        sheet[row["code"]] = row
    for code in ("ENV", "ROAD", None):
        for name in (*kpi.COUNTS, *kpi.RATIOS, "score"):
            assert sheet[code][name] == rows[code][name], (code, name)
    assert ws.cell(row=2, column=header.index("return_rate") + 1).number_format == "0.00%"
    assert "说明" in wb.sheetnames


def kpi_api_xlsx():
    return XLSX


def test_who_may_see_what_and_bad_input(client, city, history):
    env_rows = get_kpi(client, city, who="env").json["rows"]
    assert [row["code"] for row in env_rows] == ["ENV"]
    by_grid = get_kpi(client, city, who="env", by="grid").json["rows"]
    assert sum(row["dispatched"] for row in by_grid) == 4 and sum(row["reports"] for row in by_grid) == 0
    assert get_kpi(client, city, who="dispatcher").status_code == 200
    assert get_kpi(client, city, who="worker1").status_code == 403
    for params, field in [({"from": "2026-13-01"}, "from"), ({"to": "yesterday"}, "to"), ({"by": "street"}, "by"),
                          ({"format": "pdf"}, "format"), ({"from": "2026-03-11", "to": "2026-03-10"}, "to")]:
        r = get_kpi(client, city, **params)
        assert r.status_code == 422 and field in r.json["fields"], (params, r.json)
    r = client.get("/api/v1/kpi", query_string={"to": "2026-03-10"}, headers=city.h("leader"))
    assert r.status_code == 422 and "from" in r.json["fields"]


def test_configured_weights(client, city, history, app, monkeypatch):
    weights = {"department": {"return_rate": {"weight": 50, "invert": True}, "handling_rate": 50}}
    monkeypatch.setattr(app.config["WANGGE"], "kpi_weights", json.dumps(weights))
    rows = rows_by(get_kpi(client, city).json["rows"])
    assert rows["ENV"]["score"] == pytest.approx(50 * (1 - 1 / 4) + 50 * 1 / 2)
    assert rows["ROAD"]["score"] == pytest.approx(50 * (1 - 1 / 2) + 50 * 1.0)
    assert rows["ROAD"]["score_max"] == 100
    with pytest.raises(kpi.WeightsError, match="unknown indicator"):
        kpi.parse_weights('{"department": {"speed": 10}}')
    with pytest.raises(kpi.WeightsError, match="group kind"):
        kpi.parse_weights('{"street": {}}')


def test_counted_from_events_not_from_case_rows(client, city, history, db_session):
    """Cases carry no counters (no return or redispatch counts, no lateness flags); tampering
    with the mutable case row changes nothing, and the return/dispatch counts equal what a
    replay of each case's event log finds."""
    columns = {c["name"] for c in inspect(db_session.connection()).get_columns("cases")}
    assert not {c for c in columns if any(w in c for w in ("count", "return", "dispatch", "late", "rework"))}
    start, end = one_day()
    before = kpi.compute(db_session, start, end, "department")
    db_session.execute(update(Case).values(state="closed", rating="satisfied", department_id=None))
    db_session.flush()
    assert kpi.compute(db_session, start, end, "department") == before

    # replay: walk each case's events in order, as the state machine saw them
    expected: dict = {}
    for case in db_session.scalars(select(Case)):
        assert replay_state(db_session, case) is not None
        current = None
        for e in db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)):
            if e.verb in ("dispatch", "redispatch"):
                current = {"dept": e.department_id, "returned": False, "accepted": False}
                tally = expected.setdefault(e.department_id, [0, 0, 0])
                tally[0] += 1
                current["tally"] = tally
            elif e.verb == "return" and current and not current["returned"]:
                current["returned"] = True
                current["tally"][1] += 1
            elif e.verb == "rule_return" and e.to_state == "opened" and current and not current["accepted"]:
                current["accepted"] = True
                current["tally"][2] += 1
    got = {row["key"]: [row["dispatched"], row["returned"], row["return_accepted"]] for row in before
           if row["dispatched"]}
    assert got == expected
    # and the lateness comes from the clocks the events closed
    late = db_session.scalars(select(StageClock).where(StageClock.ended_late.is_(True))).all()
    assert sorted(c.stage for c in late) == ["check", "dispatch", "handle", "open", "verify"]


def test_cli_writes_xlsx_on_a_committed_database(fresh_pg_url, run_cli, tmp_path):
    app = create_app(make_settings(fresh_pg_url))
    with app.app_context():
        numbers = build_small_history(db.session)
        db.session.commit()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    out = tmp_path / "kpi.xlsx"
    proc = run_cli(fresh_pg_url, "report", "kpi", "--from", "2026-03-10", "--to", "2026-03-10", "--by",
                   "department", "--format", "xlsx", "--output", str(out))
    assert "computing by department" in proc.stderr and str(out) in proc.stderr
    ws = openpyxl.load_workbook(out)["KPI"]
    header = [c.value for c in ws[1]]
    rows = {r[header.index("code")]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert_small_history(rows, numbers)

    proc = run_cli(fresh_pg_url, "report", "kpi", "--from", "2026-03-10", "--to", "2026-03-10", "--by",
                   "category", "--format", "json", "--output", "-")
    data = json.loads(proc.stdout)
    assert data["rows"][0]["code"] == "C0101" and data["rows"][0]["reports"] == 2


def test_cli_csv_and_bad_input_in_process(app, client, city, history, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "kpi.csv"
    result = runner.invoke(args=["report", "kpi", "--from", "2026-03-10", "--to", "2026-03-10", "--by", "grid",
                                 "--format", "csv", "--output", str(out)])
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert list(table[0])[:4] == ["by", "key", "code", "name"]
    g1 = next(row for row in table if row["code"] == "31010100100101")
    assert (g1["reports"], g1["miss_opened"], g1["missed"], g1["returned"]) == ("3", "3", "1", "2")
    bad = runner.invoke(args=["report", "kpi", "--from", "2026-03-10", "--to", "2026-03-01"])
    assert bad.exit_code != 0 and "--to" in bad.output
    bad = runner.invoke(args=["report", "kpi", "--from", "2026-03-10", "--to", "2026-03-10", "--by", "street"])
    assert bad.exit_code != 0 and "--by" in bad.output


def test_same_numbers_on_sqlite(tmp_path):
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'kpi.sqlite3'}", redis_url="", jobs_inline=True))
    with app.app_context():
        upgrade_database()
        load_catalog(db.session)
        numbers = build_small_history(db.session)
        db.session.commit()
        start, end = one_day()
        with time_machine.travel(at(9, 0, day=11), tick=False):
            rows = rows_by(kpi.compute(db.session, start, end, "department"))
        assert_small_history(rows, numbers)
        db.session.remove()


# --- a small history through the service layer (for the CLI and SQLite) ------------------

def build_small_history(session):
    """Two C0101 cases on 2026-03-10 in one grid: one straight through (handled on time,
    rated satisfied), one dispatched late and returned (return accepted). The registry rows
    come from the factories (bound to ``db.session``, which ``session`` is)."""
    assert session is db.session
    since = datetime(2020, 1, 1, tzinfo=UTC)
    GridFactory(code="310101001", name="街道", level="street", geom=box(121.40, 31.20, 121.42, 31.21),
                area_m2=1, valid_from=since)
    GridFactory(code="31010100100101", name="一号网格", parent_code="310101001",
                geom=box(121.40, 31.20, 121.41, 31.21), area_m2=1, valid_from=since)
    road = DepartmentFactory(code="ROAD", name="路政")
    worker = StaffFactory(username="w1", roles=["grid_worker"])
    clerk = StaffFactory(username="clerk", roles=["intake_clerk"])
    shift = StaffFactory(username="shift", roles=["shift_leader"])
    disp = StaffFactory(username="disp", roles=["dispatcher"])
    handler = StaffFactory(username="road", roles=["department_handler"], department_id=road.id)
    AssignmentFactory(staff=worker, grid_code="31010100100101", valid_from=since)
    ResponsibilityFactory(category_code="C0101", department=road)
    with time_machine.travel(at(9, 0), tick=False) as tm:
        def go(hour, minute, case, verb, who, role, **payload):
            tm.move_to(at(hour, minute))
            act(session, case, verb, Actor(who, role), Payload(**payload))

        one, _ = intake.submit(session, intake.Submission(channel="grid_worker", description="井盖", category_code="C0101",
                                                          lon=121.405, lat=31.205), reporter=worker, role="grid_worker")
        two, _ = intake.submit(session, intake.Submission(channel="web", description="井盖", category_code="C0101",
                                                          lon=121.406, lat=31.205))
        go(9, 5, one, "accept", clerk, "intake_clerk")
        go(9, 5, two, "accept", clerk, "intake_clerk")
        go(9, 10, one, "open", shift, "shift_leader")
        go(9, 10, two, "open", shift, "shift_leader")
        go(9, 20, one, "dispatch", disp, "dispatcher")
        go(9, 30, one, "sign", handler, "department_handler")
        go(10, 0, two, "dispatch", disp, "dispatcher")  # late: due 09:40
        go(10, 10, two, "return", handler, "department_handler", note="不是我们")
        go(10, 20, two, "rule_return", disp, "dispatcher", outcome="accept")  # a new dispatch clock, due 10:50
        go(10, 30, one, "report_back", handler, "department_handler", note="好了")
        go(10, 40, one, "request_check", clerk, "intake_clerk")
        go(10, 50, one, "check", worker, "grid_worker", outcome="pass")
        go(11, 0, one, "close", shift, "shift_leader")
        go(11, 10, one, "rate", clerk, "intake_clerk", rating="satisfied")
        session.flush()
    return {"road": road.code}


def assert_small_history(rows, numbers):
    road, none = rows[numbers["road"]], rows[None]
    assert (none["reports"], none["valid_reports"], none["opened"], none["opened_on_time"]) == (2, 2, 2, 2)
    assert (none["miss_opened"], none["missed"], none["miss_rate"]) == (2, 1, 0.5)
    # one's dispatch on time, two's late; two's second dispatch clock (after the accepted
    # return) fell due at 10:50 and is still running
    assert (none["dispatch_due"], none["dispatch_on_time"], none["on_time_dispatch_rate"]) == (3, 1, 1 / 3)
    assert (road["dispatched"], road["returned"], road["return_accepted"]) == (2, 1, 1)
    assert (road["return_rate"], road["accurate_dispatch_rate"]) == (0.5, 0.5)
    assert (road["due_handling"], road["handled_on_time"], road["closed"], road["closed_on_time"]) == (1, 1, 1, 1)
    assert (road["check_due"], road["check_on_time"], road["rated"], road["satisfaction_rate"]) == (1, 1, 1, 1.0)
