"""Indicators (综合评价) of a 30-day period over 1,000,000 cases, from the roll-up.

One scratch PostGIS database (name ``wangge_bench_kpi_<hex>``, or ``--db NAME``: created
and loaded if missing, reused without loading if present, and kept) migrated with the app's own
migrations, holding the catalog, 20 departments and 2,000 grid workers each assigned to a
grid, and ``--cases`` case lives spread over the last 365 days, bulk-loaded by
``INSERT ... SELECT`` from one generated row per case (``generate_series``) with the
triggers off: submit; 10% rejected; 20% from citizens verified by a grid worker (verify
clock, some late); accept; open (open clock; 5% never opened); dispatch (dispatch clock, to
one of 20 departments); 4% returned and re-dispatched (handle clock withdrawn, a second
dispatch clock); handle clock of one day, 6% extended by a day, 3% never reported back;
report back, check (check clock; 9% fail: rework with a new handle clock), close, 60% rated.
About 10 events and 4 clocks per case. Then ``rollup.rebuild`` fills the facts (timed).

Measured in-process through the service function ``kpi.compute`` (every indicator of
DOMAIN.md §4: three grouped statements, four by worker, names and scores), by department, grid, worker and
category, for the 30 local days ending 30 days ago: the median of ``--rounds`` calls after
one warm-up. Baselines in the same run: the from-scratch computation (``source="scratch"``,
by department, one call: it reads every clock and its result must equal the roll-up's), and
a minimal indexed SELECT (the number of submit events in the period by the (verb, at)
index). Each grouping is a goal: < 1 s. Then 1,000 cases of the period get an event (a
supervision note, which changes no count) through the triggers and are left dirty: the read
by department, which computes their facts on the fly, is timed and must answer the same rows
(a goal too); then they are folded (the notes stay: events are append-only).

EXPLAIN check: every statement the roll-up sends is run again under ``EXPLAIN (ANALYZE,
BUFFERS)``; the bench FAILS when one scans a big table sequentially.

Run:  python -m bench.bench_kpi [--cases N] [--rounds N] [--no-scratch] [--keep-db]
      [--db NAME [--load-only] [--no-rebuild]]
"""
from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # `python bench/bench_kpi.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg.conninfo import make_conninfo

from bench import goals
from bench.bench_mobile_inbox import _nodes
from bench.common import (
    _sqlalchemy_url,
    add_database_options,
    create_database,
    dispose_app,
    drop_database,
    make_app,
    migrate,
    write_json,
)

NAME = "kpi"
RESULTS = Path(__file__).resolve().parent / "results" / "kpi.json"
TARGET_S = 1.0
DEPARTMENTS = 20
WORKERS = 2000
BIG_TABLES = ("cases", "case_events", "stage_clocks", "kpi_event_facts", "kpi_clock_facts", "kpi_dirty")
SEQ_LIMIT = 1000
DIRTY = 1000  # cases made dirty (not folded) for the on-the-fly measurement
CATEGORIES = ("E0102", "C0101", "E0304")


def setup(app) -> dict:
    from grid.catalog.service import load_catalog
    from grid.models import Department, GridAssignment, Staff, StaffRole
    from wangge.extensions import db

    with app.app_context():
        migrate()
        s = db.session
        load_catalog(s)
        depts = [Department(code=f"D{i:02d}", name=f"部门{i}", kind="functional") for i in range(DEPARTMENTS)]
        s.add_all(depts)
        s.flush()
        workers = []
        for i in range(WORKERS):
            st = Staff(username=f"w{i}", name=f"w{i}", password_hash="x")
            st.role_rows = [StaffRole(role="grid_worker")]
            workers.append(st)
        s.add_all(workers)
        s.flush()
        since = datetime(2020, 1, 1, tzinfo=UTC)
        s.add_all([GridAssignment(staff_id=w.id, grid_code=f"G{i:05d}", valid_from=since)
                   for i, w in enumerate(workers)])
        ids = {"d0": depts[0].id, "w0": workers[0].id}
        s.commit()
        s.remove()
    return ids


def _m(expr: str) -> str:
    return f"({expr}) * interval '1 minute'"


def load(conninfo: str, n: int, ids: dict) -> dict:
    d0, w0 = ids["d0"], ids["w0"]
    t: dict = {}
    with psycopg.connect(conninfo) as conn:
        conn.execute("SET session_replication_role = replica")  # the triggers wait for the rebuild
        start = time.perf_counter()
        conn.execute(f"""
CREATE UNLOGGED TABLE bench_life AS
WITH g AS (SELECT g, now() - interval '365 days' + g * (interval '365 days' / {n}) AS t0
           FROM generate_series(1, {int(n)}) AS g),
a AS (SELECT g, t0, g % 10 = 0 AS rejected, g % 10 <> 0 AND g % 5 = 0 AS citizen FROM g),
b AS (SELECT *, CASE WHEN citizen THEN t0 + {_m('20 + g % 120')} WHEN NOT rejected THEN t0 + interval '10 minutes'
                END AS accepted FROM a),
c AS (SELECT *, CASE WHEN g % 20 <> 1 THEN accepted + {_m('g % 47')} END AS opened FROM b),
d AS (SELECT *, opened + {_m('g % 90')} AS dispatched, g % 25 = 0 AND opened IS NOT NULL AS returned FROM c),
e AS (SELECT *, CASE WHEN returned THEN dispatched + interval '55 minutes' ELSE dispatched END AS handle_from,
             {d0} + CASE WHEN returned THEN (g + 1) % {DEPARTMENTS} ELSE g % {DEPARTMENTS} END AS dept FROM d),
f AS (SELECT *, handle_from + interval '1 day' * CASE WHEN g % 17 = 0 THEN 2 ELSE 1 END AS handle_due,
             CASE WHEN g % 33 <> 0 THEN handle_from + {_m('g % 2000')} END AS reported_back FROM e),
h AS (SELECT *, reported_back + {_m('g % 300')} AS checked, g % 11 = 0 AS failed FROM f)
SELECT g AS id, t0, rejected, citizen, accepted, opened, dispatched, returned, handle_from, dept, handle_due,
       reported_back, checked, failed,
       checked + CASE WHEN failed THEN interval '660 minutes' ELSE interval '30 minutes' END AS closed
FROM h""")
        conn.execute(f"""
INSERT INTO cases (id, number, tracking_code, channel, description, state, category_code, department_id,
                   reporter_staff_id, grid_code, supervised, reported_at, updated_at, version)
SELECT id, 'K' || lpad(id::text, 9, '0'), 'T' || lpad(id::text, 12, '0'),
       CASE WHEN citizen THEN 'citizen' ELSE 'grid_worker' END, '路边有暴露垃圾', 'closed',
       (ARRAY{list(CATEGORIES)})[1 + id % {len(CATEGORIES)}], dept,
       CASE WHEN NOT citizen THEN {w0} + id % {WORKERS} END, 'G' || lpad((id % {WORKERS})::text, 5, '0'),
       false, t0, t0, 1
FROM bench_life""")
        conn.execute("SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))")
        t["cases_s"] = time.perf_counter() - start
        start = time.perf_counter()
        # (verb, at, from, to, department, data, only when)
        events = [
            ("submit", "t0", None, "reported", "NULL", "'{}'", "true"),
            ("reject", "t0 + interval '30 minutes'", "reported", "rejected", "NULL", "'{}'", "rejected"),
            ("request_verify", "t0 + interval '5 minutes'", "reported", "verifying", "NULL",
             f"json_build_object('assignee_id', {w0} + (id * 7) % {WORKERS})", "citizen"),
            ("verify", "accepted", "verifying", "accepted", "NULL", "'{\"outcome\": \"confirmed\"}'", "citizen"),
            ("accept", "accepted", "reported", "accepted", "NULL", "'{}'", "NOT citizen AND NOT rejected"),
            ("open", "opened", "accepted", "opened", "NULL", "'{}'", "opened IS NOT NULL"),
            ("dispatch", "dispatched", "opened", "dispatched", f"{d0} + id % {DEPARTMENTS}", "'{}'",
             "opened IS NOT NULL"),
            ("return", "dispatched + interval '20 minutes'", "dispatched", "dispatched", f"{d0} + id % {DEPARTMENTS}",
             "'{}'", "returned"),
            ("rule_return", "dispatched + interval '40 minutes'", "dispatched", "opened", f"{d0} + id % {DEPARTMENTS}",
             "'{\"outcome\": \"accept\"}'", "returned"),
            ("dispatch", "handle_from", "opened", "dispatched", "dept", "'{}'", "returned"),
            ("sign", "handle_from + interval '10 minutes'", "dispatched", "handling", "dept", "'{}'",
             "opened IS NOT NULL"),
            ("decide_extension", "handle_from + interval '60 minutes'", "handling", "handling", "dept",
             "'{\"outcome\": \"approve\"}'", "opened IS NOT NULL AND id % 17 = 0"),
            ("report_back", "reported_back", "handling", "reported_back", "dept", "'{}'", "reported_back IS NOT NULL"),
            ("request_check", "reported_back", "reported_back", "checking", "dept",
             f"json_build_object('assignee_id', {w0} + id % {WORKERS})", "reported_back IS NOT NULL"),
            ("check", "checked", "checking", "handling", "dept", "'{\"outcome\": \"fail\"}'",
             "reported_back IS NOT NULL AND failed"),
            ("report_back", "checked + interval '600 minutes'", "handling", "reported_back", "dept", "'{}'",
             "reported_back IS NOT NULL AND failed"),
            ("check", "checked", "checking", "closing", "dept", "'{\"outcome\": \"pass\"}'",
             "reported_back IS NOT NULL AND NOT failed"),
            ("close", "closed", "closing", "closed", "dept", "'{}'", "reported_back IS NOT NULL"),
            ("rate", "closed + interval '60 minutes'", "closed", "closed", "dept",
             "json_build_object('rating', (ARRAY['satisfied','basically_satisfied','unsatisfied'])[1 + id % 3])",
             "reported_back IS NOT NULL AND id % 10 < 6"),
        ]
        for verb, at, frm, to, dept, data, when in events:
            conn.execute(f"""
INSERT INTO case_events (case_id, verb, actor_role, at, from_state, to_state, department_id, data, attachment_ids)
SELECT id, '{verb}', 'system', {at}, {'NULL' if frm is None else repr(frm)}, '{to}', {dept}, ({data})::json, '[]'
FROM bench_life WHERE {when}""")
        t["events_s"] = time.perf_counter() - start
        start = time.perf_counter()
        # (stage, department, started, due, ended, only when)
        clocks = [
            ("verify", "NULL", "t0 + interval '5 minutes'", "t0 + interval '65 minutes'", "accepted", "citizen"),
            ("open", "NULL", "accepted", "accepted + interval '30 minutes'", "opened", "accepted IS NOT NULL"),
            ("dispatch", "NULL", "opened", "opened + interval '60 minutes'", "dispatched", "opened IS NOT NULL"),
            ("handle", f"{d0} + id % {DEPARTMENTS}", "dispatched", "dispatched + interval '1 day'",
             "dispatched + interval '40 minutes'", "returned"),
            ("dispatch", "NULL", "dispatched + interval '40 minutes'", "dispatched + interval '100 minutes'",
             "handle_from", "returned"),
            ("handle", "dept", "handle_from", "handle_due", "reported_back", "opened IS NOT NULL"),
            ("check", "dept", "reported_back", "reported_back + interval '4 hours'", "checked",
             "reported_back IS NOT NULL"),
            ("handle", "dept", "checked", "checked + interval '1 day'", "checked + interval '600 minutes'",
             "reported_back IS NOT NULL AND failed"),
        ]
        for stage, dept, started, due, ended, when in clocks:
            conn.execute(f"""
INSERT INTO stage_clocks (case_id, stage, department_id, started_at, amount, unit, consumed, segment_started_at,
                          warn_at, due_at, ended_at, ended_late, extended)
SELECT id, '{stage}', {dept}, {started}, 1, 'hours', 0,
       CASE WHEN {ended} IS NULL THEN {started} END, {due}, {due}, {ended},
       CASE WHEN {ended} IS NOT NULL THEN {ended} > {due} END, 0
FROM bench_life WHERE {when}""")
        t["clocks_s"] = time.perf_counter() - start
        conn.execute("DROP TABLE bench_life")
        conn.commit()
        conn.autocommit = True
        start = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        t["vacuum_analyze_s"] = time.perf_counter() - start
    return {"timings": t, "counts": counts(conninfo)}


def counts(conninfo: str) -> dict:
    with psycopg.connect(conninfo) as conn:
        return dict(conn.execute(
            "SELECT 'cases', count(*) FROM cases UNION ALL SELECT 'events', count(*) FROM case_events "
            "UNION ALL SELECT 'clocks', count(*) FROM stage_clocks").fetchall())


def database_exists(admin_url: str, dbname: str) -> bool:
    with psycopg.connect(admin_url) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is not None


def rebuild(app, conninfo: str) -> float:
    from dispatch.indicators import rollup
    from wangge.extensions import db

    start = time.perf_counter()
    with app.app_context():
        rollup.rebuild(db.session, batch=20000,
                       progress=lambda done, total: print(f"  rebuild {done:,}/{total:,} "
                                                          f"{time.perf_counter() - start:.0f} s", flush=True)
                       if done % 200000 < 20000 or done == total else None)
        db.session.remove()
    seconds = time.perf_counter() - start
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE kpi_event_facts")
        conn.execute("VACUUM ANALYZE kpi_clock_facts")
        conn.execute("VACUUM ANALYZE kpi_dirty")
    return seconds


def explain(conn, sql: str, params) -> dict:
    [[doc]] = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params).fetchall()
    nodes = _nodes(doc[0]["Plan"], [])
    problems, shape = [], []
    for node in nodes:
        rows = node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
        where = node.get("Index Name") or node.get("Relation Name") or ""
        shape.append(f"{node['Node Type']}{' ' + where if where else ''} ({rows:g})")
        read = rows + node.get("Rows Removed by Filter", 0) * node.get("Actual Loops", 1)
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in BIG_TABLES and read > SEQ_LIMIT:
            problems.append(f"Seq Scan on {node['Relation Name']} ({read:g} rows read)")
    return {"statement": " ".join(sql.split())[:120], "nodes": shape, "problems": problems,
            "execution_ms": doc[0].get("Execution Time")}


def measure_dirty(s, start, end, now, rounds: int, clean_rows: list) -> dict:
    """The on-the-fly path: DIRTY cases of the period get a new event (a supervision note,
    which changes no indicator) through the triggers, so they are dirty and not folded; the
    read by department computes their facts from the event log (same rows as before). Then
    the cases are folded (the notes stay: events are append-only)."""
    from sqlalchemy import text

    from dispatch.indicators import kpi, rollup

    ids = s.scalars(text("SELECT id FROM cases WHERE reported_at >= :start AND reported_at < :end ORDER BY id"),
                    {"start": start, "end": end}).all()
    ids = ids[::max(1, len(ids) // DIRTY)][:DIRTY]
    s.execute(text("INSERT INTO case_events (case_id, verb, actor_role, at, from_state, to_state, data, "
                   "attachment_ids) SELECT id, 'supervise', 'system', reported_at + interval '1 minute', 'closed', "
                   "'closed', '{\"note\": \"bench\"}', '[]' FROM cases WHERE id = ANY(:ids)"), {"ids": list(ids)})
    s.commit()
    dirty = rollup.dirty_count(s)
    times = []
    for _ in range(rounds + 1):
        t0 = time.perf_counter()
        rows = kpi.compute(s, start, end, "department", now=now)
        times.append(time.perf_counter() - t0)
    while rollup.fold(s):
        s.commit()
    s.commit()
    return {"cases": len(ids), "dirty_rows": dirty, "median_s": statistics.median(times[1:]),
            "rounds_s": times[1:], "equal": rows == clean_rows}


def measure(app, conninfo: str, rounds: int, scratch: bool) -> dict:
    from sqlalchemy import event

    from dispatch.indicators import kpi
    from wangge.extensions import db

    today = datetime.now(UTC).date()
    first, last = today - timedelta(days=60), today - timedelta(days=31)
    start, end = kpi.local_period(first, last, "Asia/Shanghai")
    now = datetime.now(UTC)
    res: dict = {"period": {"from": first.isoformat(), "to": last.isoformat()}, "by": {}}
    captured: list = []
    with app.app_context():
        s = db.session
        engine = db.engine
        for by in ("department", "grid", "worker", "category"):
            kpi.compute(s, start, end, by, now=now)  # warm-up
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                rows = kpi.compute(s, start, end, by, now=now)
                times.append(time.perf_counter() - t0)
            res["by"][by] = {"median_s": statistics.median(times), "rounds_s": times, "rows": len(rows),
                             "due_handling": sum(r["due_handling"] for r in rows),
                             "reports": sum(r["reports"] for r in rows)}
            print(f"  (by {by}: median {statistics.median(times):.3f} s)", flush=True)
            if by == "department":
                department_rows = rows

        def capture(conn, cursor, statement, parameters, context, executemany):
            captured.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        kpi.compute(s, start, end, "worker", now=now)
        event.remove(engine, "before_cursor_execute", capture)
        res["dirty"] = measure_dirty(s, start, end, now, rounds, department_rows)
        print(f"  (by department, {DIRTY} dirty: {res['dirty']['median_s']:.3f} s)", flush=True)
        if scratch:
            print("  (from scratch by department ...)", flush=True)
        if scratch:
            t0 = time.perf_counter()
            expected = kpi.compute(s, start, end, "department", now=now, source="scratch")
            res["scratch_department_s"] = time.perf_counter() - t0
            res["scratch_equal"] = expected == department_rows
        s.remove()
    with psycopg.connect(conninfo) as conn:
        bare = []
        for _ in range(rounds + 1):
            t0 = time.perf_counter()
            conn.execute("SELECT count(*) FROM case_events WHERE verb = 'submit' AND at >= %s AND at < %s",
                         (start, end)).fetchone()
            bare.append(time.perf_counter() - t0)
        res["bare_select_s"] = statistics.median(bare[1:])
        res["plans"] = [explain(conn, sql, params) for sql, params in captured
                        if "kpi_" in sql and "GROUP BY" in sql]
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench_kpi", description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-scratch", action="store_true", help="skip the from-scratch baseline (slow at 1M)")
    ap.add_argument("--db", help="database name to use and keep (created and loaded if missing, reused "
                                 "as it is if it exists: no load)")
    ap.add_argument("--load-only", action="store_true", help="stop after loading (with --db, to load once)")
    ap.add_argument("--no-rebuild", action="store_true",
                    help="with a reused --db: keep the roll-up as it is (fold what is dirty only)")
    add_database_options(ap, RESULTS)
    args = ap.parse_args(argv)
    if args.cases < 1000 or args.rounds < 1:
        ap.error("--cases >= 1000, --rounds >= 1")
    p = print
    dbname = args.db or f"wangge_bench_kpi_{secrets.token_hex(4)}"
    keep = args.keep_db or bool(args.db)
    conninfo = make_conninfo(args.pg_admin_url, dbname=dbname)
    errors: list[str] = []
    result: dict = {}
    reused = args.db is not None and database_exists(args.pg_admin_url, dbname)
    if not reused:
        create_database(args.pg_admin_url, dbname)
    app = None
    try:
        app = make_app(_sqlalchemy_url(args.pg_admin_url, dbname))
        if reused:
            loaded = {"timings": {}, "counts": counts(conninfo), "reused": dbname}
            p(f"kpi: reusing {dbname}: {loaded['counts']['cases']:,} cases, {loaded['counts']['events']:,} "
              f"events, {loaded['counts']['clocks']:,} clocks")
        else:
            loaded = load(conninfo, args.cases, setup(app))
            p(f"kpi: {loaded['counts']['cases']:,} cases, {loaded['counts']['events']:,} events, "
              f"{loaded['counts']['clocks']:,} clocks loaded in {sum(loaded['timings'].values()):.0f} s "
              f"({', '.join(f'{k} {v:.0f}' for k, v in loaded['timings'].items())})")
        if args.load_only:
            return 0
        if reused and args.no_rebuild:
            rebuild_s = None
        else:
            rebuild_s = rebuild(app, conninfo)
            p(f"  rebuild of the roll-up (wangge indicators rebuild): {rebuild_s:.0f} s")
        res = measure(app, conninfo, args.rounds, not args.no_scratch)
        base = res["bare_select_s"]
        p(f"  period {res['period']['from']} .. {res['period']['to']} (30 local days), median of {args.rounds}")
        p(f"  {'by':<12}{'median s':>10}{'rounds':>24}{'rows':>7}{'x bare':>9}")
        for by, r in res["by"].items():
            rounds = "/".join(f"{x:.3f}" for x in r["rounds_s"])
            p(f"  {by:<12}{r['median_s']:>10.3f}{rounds:>24}{r['rows']:>7}{r['median_s'] / base:>9.0f}")
        p(f"  baseline: bare indexed count of the period's submits: {base * 1000:.1f} ms")
        dirty = res["dirty"]
        p(f"  by department with {dirty['cases']:,} dirty cases (facts computed on the fly): "
          f"{dirty['median_s']:.3f} s ({'/'.join(f'{x:.3f}' for x in dirty['rounds_s'])}; same rows: "
          f"{dirty['equal']})")
        if not dirty["equal"]:
            errors.append("the read with dirty cases differs from the folded one")
        if "scratch_department_s" in res:
            p(f"  baseline: from scratch by department: {res['scratch_department_s']:.1f} s "
              f"(same rows as the roll-up: {res['scratch_equal']})")
            if not res["scratch_equal"]:
                errors.append("the roll-up and the from-scratch computation disagree")
        plan_problems = []
        p("  EXPLAIN (ANALYZE, BUFFERS) of the roll-up's statements (by worker):")
        for plan in res["plans"]:
            flag = "; ".join(plan["problems"]) or "ok"
            p(f"    {plan['execution_ms']:.1f} ms {flag}: {' > '.join(plan['nodes'])}")
            plan_problems += plan["problems"]
        for by, r in res["by"].items():
            scratch_ratio = (res["scratch_department_s"] / r["median_s"]) if "scratch_department_s" in res else None
            goals.report(NAME, f"indicators, 30 days, by {by}, {loaded['counts']['cases']:,} cases",
                         f"{r['median_s']:.3f} s", passed=r["median_s"] < TARGET_S and not plan_problems,
                         target="< 1 s", ratio=scratch_ratio)
        goals.report(NAME, f"indicators by department with {dirty['cases']:,} dirty cases (on the fly)",
                     f"{dirty['median_s']:.3f} s", passed=dirty["median_s"] < TARGET_S and dirty["equal"],
                     target="< 1 s", ratio=None)
        verdict = "PASS" if all(r["median_s"] < TARGET_S for r in res["by"].values()) and not plan_problems \
            else "FAIL"
        for problem in plan_problems:
            p(f"  plan problem: {problem}")
        result = {"load": loaded, "rebuild_s": rebuild_s, "results": res, "plan_problems": plan_problems,
                  "verdict": verdict}
    except Exception as exc:  # noqa: BLE001 - reported as the benchmark's failure
        errors.append(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if app is not None:
            dispose_app(app)
        if not keep:
            drop_database(args.pg_admin_url, dbname)
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        out = {"benchmark": NAME, "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
               "params": {"cases": args.cases, "rounds": args.rounds},
               "machine": {"python": platform.python_version(), "platform": platform.platform(),
                           "cpus": os.cpu_count()},
               **result, "errors": errors}
        write_json(args.output, out)
        p(f"results written to {args.output}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
