"""Dispatch: the case verbs over HTTP against the minimal Flask + SQLAlchemy app, throughput,
and the deadline sweep over 1M open cases.

Measured on one scratch PostGIS database migrated with the app's own migrations and holding
the demo city (grids, departments, responsibility matrix, staff):

* **Verbs.** ``wangge serve --workers 1`` (gunicorn, one process) and ``bench.minimal_app``
  under the same gunicorn settings run side by side on 127.0.0.1. Each round, one client
  sends ``--minimal-requests`` reports to the minimal app (token lookup, one INSERT,
  commit), then takes ``--cases`` cases through the chain one verb at a time: every case is
  reported, then every case accepted, opened, dispatched, signed, reported back. The
  server's CPU (utime + stime of its processes from /proc) over each phase, per request,
  and each phase's p50 are compared with the minimal app's of the same round; each verb is
  a goal (within 3x, issue 10).
* **Throughput.** The same chain (6 requests per case) by ``--clients`` concurrent clients,
  one case after another; baseline in the same round: the database's raw single-row INSERT
  rate (``pgbench`` with a custom script at 1 and N clients, and a psycopg loop).
* **Sweep.** 1,000,000 open cases with one running stage clock each are COPYed in (most
  clocks green, a few thousand crossing 80% / 100% since the last sweep, a few hundred more
  every following minute), then ``dispatch.clocks.deadlines.sweep`` runs in an app context: once
  cold, once more at the same ``now`` (must mark nothing), then every ``--sweep-interval``
  seconds of simulated time. Every result is checked against the generated data.

Only ratios and counts mean anything between runs; timings are printed, never asserted.

Run:  python -m bench.bench_dispatch [--cases N] [--open-cases N] [--repeat N] [--skip-sweep] [--keep-db]
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # `python bench/bench_dispatch.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench import minimal_app
from bench.common import (
    INSERT_TABLE,
    PGBENCH_SCRIPT,
    BenchError,
    Client,
    Server,
    _median,
    _ms,
    _pct,
    _ratio,
    _sqlalchemy_url,
    add_database_options,
    create_database,
    drop_database,
    insert_loop,
    login,
    make_app,
    migrate,
    run_pgbench,
    run_threads,
    write_json,
)

ROOT = Path(__file__).resolve().parents[1]
NAME = "dispatch"
RESULTS = Path(__file__).resolve().parent / "results" / "dispatch.json"
TARGET_SWEEP_S = 1.0
SEED = 20261122

# The demo city (grid/demo.py) covers lon 121.470-121.510, lat 31.210-31.240.
CITY = (121.4705, 31.2105, 121.5095, 31.2395)
STEPS = ("submit", "accept", "open", "dispatch", "sign", "report_back")
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
VERB_GOALS = STEPS[1:]  # issue 10: each within 3x of the minimal app (the report is bench_mobile_report's)
TARGET_VERB_RATIO = 3.0
STEP_ACTOR = {"accept": "shouli", "open": "zhiban", "dispatch": "paiqian"}  # sign, report_back: the department's
STEP_STATE = {"submit": "reported", "accept": "accepted", "open": "opened", "dispatch": "dispatched",
              "sign": "handling", "report_back": "handled"}
STEP_BODY = {"report_back": {"note": "井盖已更换"}}
# Non-auto-dispatch small classes routed by a '*' rule of the demo matrix (no street rule),
# so the department the dispatcher lands on is known in advance.
HTTP_CATEGORIES = ("C0101", "C0102", "C0103", "C0201", "C0301", "E0103")

# Bulk data: stage -> case state, wall-clock span of the limit (seconds, min..max), share.
STAGE_STATE = {"open": "accepted", "dispatch": "opened", "sign": "dispatched", "handle": "handling",
               "check": "checking", "close": "check_passed"}
STAGE_SPAN = {"open": (3600, 7200), "dispatch": (3600, 7200), "sign": (7200, 14400),
              "handle": (3 * 86400, 6 * 86400), "check": (7200, 14400), "close": (7200, 14400)}
STAGE_SHARE = {"open": 0.03, "dispatch": 0.04, "sign": 0.08, "handle": 0.75, "check": 0.05, "close": 0.05}
STATE_VERSION = {"accepted": 2, "opened": 3, "dispatched": 4, "handling": 5, "checking": 7, "check_passed": 8}
YELLOW_SHARE, RED_SHARE = 0.08, 0.03  # already warned / already notified overdue (before T0)
BACKLOG_WARN, BACKLOG_DUE = 2000, 500  # crossed since the last sweep, per 1M open cases
WINDOW_WARN, WINDOW_DUE = 300, 100  # crossing in each following sweep interval, per 1M
ENDED_TRAPS = 2000  # ended clocks whose warn/due fall in the backlog window: never marked


# ----------------------------------------------------------------------------- helpers


# ----------------------------------------------------------------------------- app setup


def setup_city(app) -> dict:
    from grid.demo import load_demo
    from wangge.extensions import db

    with app.app_context():
        migrate()
        summary = load_demo(db.session, echo=lambda *a, **k: None)
        db.session.commit()
        db.session.remove()
    return summary


# ----------------------------------------------------------------------------- HTTP side


def case_specs(rng: np.random.Generator, n: int, tag: str, workers: list[str]) -> list[dict]:
    lons = rng.uniform(CITY[0], CITY[2], n)
    lats = rng.uniform(CITY[1], CITY[3], n)
    cats = rng.integers(0, len(HTTP_CATEGORIES), n)
    who = rng.integers(0, len(workers), n)
    return [{"key": f"bench-{tag}-{i:05d}", "worker": workers[who[i]], "category": HTTP_CATEGORIES[cats[i]],
             "lon": round(float(lons[i]), 6), "lat": round(float(lats[i]), 6)} for i in range(n)]


def step_actor(step: str, spec: dict, expected_dept: dict) -> str:
    """Who takes the step: the reporting grid worker, the dispatch center's people, then the
    handler of the department the matrix sends the case to (demo accounts ``cz-<code>``)."""
    if step == "submit":
        return spec["worker"]
    return STEP_ACTOR.get(step) or f"cz-{expected_dept[spec['category']].lower()}"


def run_step(client: Client, tokens: dict, step: str, spec: dict, number: str | None, expected_dept: dict,
             errors: list) -> tuple[str | None, float]:
    """One request of a case's chain; checks the answer (state, and the department after dispatch)."""
    auth = {"Authorization": f"Bearer {tokens[step_actor(step, spec, expected_dept)]}"}
    if step == "submit":
        body = {"description": "上水井盖破损，存在安全隐患", "category_code": spec["category"],
                "lon": spec["lon"], "lat": spec["lat"], "address": "示范区巡查点"}
        status, j, dt = client.post("/api/v1/cases", body, {**auth, "Idempotency-Key": spec["key"]})
        ok = status == 201
    else:
        status, j, dt = client.post(f"/api/v1/cases/{number}/actions/{step}", STEP_BODY.get(step, {}), auth)
        ok = status == 200
    if not ok or j.get("state") != STEP_STATE[step]:
        errors.append(f"{step} {number or spec['key']}: HTTP {status} {str(j)[:200]}")
        return None, dt
    if step == "dispatch" and (j.get("department") or {}).get("code") != expected_dept[spec["category"]]:
        errors.append(f"dispatch {number}: department {(j.get('department') or {}).get('code')}, "
                      f"matrix says {expected_dept[spec['category']]}")
        return None, dt
    return j["number"], dt


def run_case(client: Client, tokens: dict, spec: dict, expected_dept: dict, lat: dict, errors: list) -> str | None:
    """One case through every step of STEPS; checks every answer."""
    number = None
    for step in STEPS:
        number, dt = run_step(client, tokens, step, spec, number, expected_dept, errors)
        lat[step].append(dt)
        if number is None:
            return None
    return number


def run_http(port: int, tokens: dict, specs: list[dict], clients: int, expected_dept: dict) -> dict:
    """Cases through the whole chain, ``clients`` at a time (each client one case after another)."""
    chunks = [specs[i::clients] for i in range(clients)]
    lat = [{s: [] for s in STEPS} for _ in range(clients)]
    errs: list[list[str]] = [[] for _ in range(clients)]
    numbers: list[list[str]] = [[] for _ in range(clients)]
    conns = [Client(port) for _ in range(clients)]

    def work(i):
        for spec in chunks[i]:
            number = run_case(conns[i], tokens, spec, expected_dept, lat[i], errs[i])
            if number is not None:
                numbers[i].append(number)
            if len(errs[i]) >= 5:
                break

    elapsed = run_threads(clients, work, collect=True)
    for c in conns:
        c.close()
    merged = {s: [x for part in lat for x in part[s]] for s in STEPS}
    done = sum(len(n) for n in numbers)
    return {"seconds": elapsed, "cases": done, "cases_per_s": done / elapsed if elapsed > 0 else 0.0,
            "latency_s": merged, "errors": [e for part in errs for e in part],
            "numbers": [x for part in numbers for x in part],
            "requests": sum(c.requests for c in conns), "closed_by_server": sum(c.closed_by_server for c in conns)}


def run_verbs(server: Server, tokens: dict, specs: list[dict], expected_dept: dict) -> dict:
    """One client, one verb at a time: every case is submitted, then every case accepted, and
    so on, so the server's CPU time over each phase is that verb's alone."""
    client = Client(server.port)
    errors: list[str] = []
    numbers: dict[str, str | None] = {spec["key"]: None for spec in specs}
    live = list(specs)
    out = {"latency_s": {}, "cpu_s": {}, "requests": {}}
    gc.collect()
    for step in STEPS:
        lat = []
        cpu0 = server_cpu_seconds(server)
        for spec in live:
            number, dt = run_step(client, tokens, step, spec, numbers[spec["key"]], expected_dept, errors)
            lat.append(dt)
            numbers[spec["key"]] = number
        out["cpu_s"][step] = server_cpu_seconds(server) - cpu0
        out["latency_s"][step] = lat
        out["requests"][step] = len(lat)
        live = [spec for spec in live if numbers[spec["key"]] is not None]
        if len(errors) >= 5:
            break
    client.close()
    out["errors"] = errors
    out["numbers"] = [numbers[spec["key"]] for spec in live]
    return out


def run_minimal(server: Server, n: int) -> dict:
    """``n`` reports to the minimal app, one client: its latency and server CPU per request."""
    client = Client(server.port)
    auth = {"Authorization": f"Bearer {minimal_app.TOKEN}"}
    body = {"description": "上水井盖破损，存在安全隐患", "lon": 121.49, "lat": 31.22}
    lat = []
    gc.collect()
    cpu0 = server_cpu_seconds(server)
    for _ in range(n):
        status, j, dt = client.post("/reports", body, auth)
        if status != 201 or "id" not in j:
            client.close()
            raise BenchError(f"minimal app: HTTP {status} {str(j)[:200]}")
        lat.append(dt)
    cpu = server_cpu_seconds(server) - cpu0
    client.close()
    return {"latency_s": lat, "cpu_s": cpu, "requests": n}


def merge_minimal(*parts: dict) -> dict:
    """Several ``run_minimal`` results as one: latencies together, CPU and requests summed."""
    return {"latency_s": [x for part in parts for x in part["latency_s"]],
            "cpu_s": sum(part["cpu_s"] for part in parts), "requests": sum(part["requests"] for part in parts)}


TICK = os.sysconf("SC_CLK_TCK")


def start_worker(database_url: str, env: dict, log_path: Path) -> subprocess.Popen:
    """``wangge worker`` delivering the server's jobs (``--redis``): its CPU is its own,
    outside the server's figures."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WANGGE_")}
    environ.update({"WANGGE_DATABASE_URL": database_url, "WANGGE_LOAD_DEMO": "0", **env})
    log = open(log_path, "wb")  # noqa: SIM115 - the child holds it; closed with the process
    return subprocess.Popen([sys.executable, "-m", "wangge", "worker"], cwd=Path(__file__).resolve().parents[1],
                            env=environ, stdout=log, stderr=subprocess.STDOUT)


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def server_cpu_seconds(server: Server) -> float:
    """utime + stime of the server's master and its live children, plus what the master has
    reaped of children that exited (cutime + cstime), from /proc: a gunicorn worker's CPU."""
    master = server.proc.pid
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == master:  # ppid
                children.append(fields)
    fields = (Path(f"/proc/{master}/stat")).read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    ticks += sum(int(f[11]) + int(f[12]) for f in children)
    return ticks / TICK


# ----------------------------------------------------------------------------- raw INSERT baseline


# ----------------------------------------------------------------------------- 1M open cases


class Truth:
    """What the generated data says each sweep must mark: clock ids by the instant they cross."""

    def __init__(self):
        self.warn_ids: list[np.ndarray] = []
        self.warn_at: list[np.ndarray] = []  # epoch microseconds
        self.due_ids: list[np.ndarray] = []
        self.due_at: list[np.ndarray] = []

    def add(self, warn_ids, warn_at, due_ids, due_at):
        self.warn_ids.append(np.asarray(warn_ids, dtype=np.int64))
        self.warn_at.append(np.asarray(warn_at, dtype=np.int64))
        self.due_ids.append(np.asarray(due_ids, dtype=np.int64))
        self.due_at.append(np.asarray(due_at, dtype=np.int64))

    def between(self, lo_us: int | None, hi_us: int) -> tuple[np.ndarray, np.ndarray]:
        """Unmarked clocks with warn_at (due_at) in (lo, hi]: what a sweep at hi marks after one at lo."""
        wi, wa = np.concatenate(self.warn_ids), np.concatenate(self.warn_at)
        di, da = np.concatenate(self.due_ids), np.concatenate(self.due_at)
        lo = -(2 ** 62) if lo_us is None else lo_us
        return wi[(wa > lo) & (wa <= hi_us)], di[(da > lo) & (da <= hi_us)]


def _us(dt: datetime) -> int:
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def _ts(us: np.ndarray) -> np.ndarray:
    """Epoch microseconds -> 'YYYY-MM-DDTHH:MM:SS.ffffff' (the COPY session runs in UTC)."""
    return np.datetime_as_string(us.astype("datetime64[us]"), unit="us")


def _nullable(values: np.ndarray, mask_null: np.ndarray) -> np.ndarray:
    out = values.astype(object)
    out[mask_null] = "\\N"
    return out


def _tracking_codes(start: int, n: int) -> np.ndarray:
    alphabet = np.frombuffer(b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ", dtype=np.uint8)
    v = np.arange(start, start + n, dtype=np.int64)
    digits = np.stack([(v >> (5 * d)) & 31 for d in range(9, -1, -1)], axis=1)
    return np.ascontiguousarray(alphabet[digits]).view("S10").ravel().astype("U10")


def _ewkb_points(lons: np.ndarray, lats: np.ndarray) -> list[str]:
    raw = np.column_stack([lons, lats]).astype("<f8").tobytes().hex()
    prefix = "0101000020E6100000"  # little endian, Point with SRID, 4326
    return [prefix + raw[i:i + 32] for i in range(0, len(raw), 32)]


def _copy_rows(conn: psycopg.Connection, sql: str, columns: list, n: int, chunk: int = 20000) -> None:
    cols = [c.tolist() if isinstance(c, np.ndarray) else c for c in columns]
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            copy.write("\n".join("\t".join(row) for row in zip(*(c[lo:hi] for c in cols), strict=True)) + "\n")


def reference_data(conn: psycopg.Connection) -> dict:
    grids = conn.execute(
        "SELECT id, code, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM grids"
        " WHERE level = 'grid' AND valid_to IS NULL ORDER BY id").fetchall()
    rules = conn.execute(
        "SELECT r.category_code, c.name_zh, r.department_id, d.name FROM responsibilities r"
        " JOIN categories c ON c.code = r.category_code JOIN departments d ON d.id = r.department_id"
        " WHERE r.grid_code = '*' AND d.kind IN ('functional', 'street_office') ORDER BY 1").fetchall()
    workers = conn.execute(
        "SELECT s.id, s.name, s.phone FROM staff s JOIN staff_roles r ON r.staff_id = s.id"
        " WHERE r.role = 'grid_worker' ORDER BY s.id").fetchall()
    limits = {stage: (amount, unit) for stage, amount, unit in conn.execute(
        "SELECT stage, amount, unit FROM time_limits WHERE category_code = '*'")}
    conn.commit()
    return {"grids": grids, "rules": rules, "workers": workers, "limits": limits}


def _same_indexes(indexes: dict) -> dict:
    """Index definitions up to PostgreSQL's deparsing: a partial index's ``state IN (...)``
    created from its own definition text comes back with the casts written another way
    (``ARRAY['a'::varchar, ...]::text[]`` vs ``ARRAY[('a'::varchar)::text, ...]``)."""
    def normal(ddl: str) -> str:
        return re.sub(r"::(text|character varying)(\[\])?|[()\s]", "", ddl)
    return {name: normal(ddl) for name, ddl in indexes.items()}


def secondary_indexes(conn: psycopg.Connection) -> dict[str, str]:
    """Indexes of cases and stage_clocks that back no constraint (dropped for the COPY)."""
    rows = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public'"
        " AND i.tablename IN ('cases', 'stage_clocks')"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)").fetchall()
    conn.commit()
    return dict(rows)


def all_indexes(conn: psycopg.Connection) -> dict[str, str]:
    rows = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
                        " AND tablename IN ('cases', 'stage_clocks')").fetchall()
    conn.commit()
    return dict(rows)


def bulk_load(conn: psycopg.Connection, n: int, t0: datetime, interval: int, windows: int,
              rng: np.random.Generator, truth: Truth) -> dict:
    """COPY `n` open cases, each with one running stage clock, plus ended trap clocks."""
    times: dict[str, float] = {}
    start = time.perf_counter()
    ref = reference_data(conn)
    base_case = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM cases").fetchone()[0]
    base_clock = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM stage_clocks").fetchone()[0]
    conn.commit()

    scale = n / 1_000_000
    n_bw, n_bd = max(10, round(BACKLOG_WARN * scale)), max(5, round(BACKLOG_DUE * scale))
    n_ww, n_wd = max(3, round(WINDOW_WARN * scale)), max(1, round(WINDOW_DUE * scale))
    n_traps = max(10, round(ENDED_TRAPS * scale))
    n_yellow, n_red = round(YELLOW_SHARE * n), round(RED_SHARE * n)
    planted = n_bw + n_bd + windows * (n_ww + n_wd)
    n_green = n - n_yellow - n_red - planted
    if n_green < n // 2:
        raise BenchError(f"--open-cases {n} is too small for the planted crossings ({planted})")

    # Classes: 0 green, 1 yellow (warned), 2 red (notified), 3 backlog warn, 4 backlog due,
    # 5 window warn, 6 window due; shuffled over the rows so they are spread over the heap.
    kind = np.concatenate([np.full(n_green, 0), np.full(n_yellow, 1), np.full(n_red, 2), np.full(n_bw, 3),
                           np.full(n_bd, 4), np.full(windows * n_ww, 5), np.full(windows * n_wd, 6)]).astype(np.int8)
    window = np.concatenate([np.zeros(n - windows * (n_ww + n_wd), dtype=np.int64),
                             np.repeat(np.arange(1, windows + 1), n_ww), np.repeat(np.arange(1, windows + 1), n_wd)])
    order = rng.permutation(n)
    kind, window = kind[order], window[order]

    stages = np.array(list(STAGE_SHARE))
    stage_idx = rng.choice(len(stages), n, p=np.array(list(STAGE_SHARE.values())))
    # yellow: long (handle) limits only; planted crossings: sign or handle (long enough that
    # the other threshold stays clear of every sweep window).
    handle, sign = int(np.where(stages == "handle")[0][0]), int(np.where(stages == "sign")[0][0])
    stage_idx[kind == 1] = handle
    planted_mask = kind >= 3
    stage_idx[planted_mask] = np.where(rng.random(planted_mask.sum()) < 0.3, sign, handle)
    stage = stages[stage_idx]
    lo = np.array([STAGE_SPAN[s][0] for s in stages], dtype=np.float64)[stage_idx]
    hi = np.array([STAGE_SPAN[s][1] for s in stages], dtype=np.float64)[stage_idx]
    span = (lo + rng.random(n) * (hi - lo)) * 1e6  # µs

    T0 = _us(t0)
    I_us = interval * 1_000_000
    margin = max(600, (windows + 1) * interval) * 1_000_000
    u = rng.random(n)
    started = np.zeros(n, dtype=np.int64)
    # green: warn_at > T0 + margin
    m = kind == 0
    started[m] = T0 - (u[m] * (0.8 * span[m] - margin)).astype(np.int64)
    # yellow: warn_at < T0 - margin < T0 + margin < due_at
    m = kind == 1
    e = 0.8 * span[m] + margin + u[m] * (0.2 * span[m] - 2 * margin)
    started[m] = T0 - e.astype(np.int64)
    # red: due_at < T0 - margin
    m = kind == 2
    started[m] = T0 - (span[m] + margin + u[m] * 2 * 86400e6).astype(np.int64)
    warn = started + (0.8 * span).astype(np.int64)
    due = started + span.astype(np.int64)
    # backlog: warn_at (due_at) in (T0 - I, T0]; window k: in (T0 + (k-1) I, T0 + k I]
    off = (u * I_us).astype(np.int64)
    for k, target in ((3, "warn"), (4, "due"), (5, "warn"), (6, "due")):
        m = kind == k
        at = (T0 + window[m] * I_us) - off[m]
        if target == "warn":
            warn[m] = at
            started[m] = at - (0.8 * span[m]).astype(np.int64)
            due[m] = started[m] + span[m].astype(np.int64)
        else:
            due[m] = at
            started[m] = at - span[m].astype(np.int64)
            warn[m] = started[m] + (0.8 * span[m]).astype(np.int64)
    warned_null = ~np.isin(kind, (1, 2, 4, 6))
    overdue_null = kind != 2
    warned_at = warn + (rng.random(n) * 60e6).astype(np.int64)
    overdue_at = due + (rng.random(n) * 60e6).astype(np.int64)
    if not ((warned_at[~warned_null] < T0).all() and (overdue_at[~overdue_null] < T0).all()):
        raise BenchError("generated a notification in the future (bug in the generator)")

    clock_ids = np.arange(base_clock, base_clock + n, dtype=np.int64)
    truth.add(clock_ids[warned_null], warn[warned_null], clock_ids[overdue_null], due[overdue_null])

    # --- cases
    case_ids = np.arange(base_case, base_case + n, dtype=np.int64)
    grids = ref["grids"]
    g = rng.integers(0, len(grids), n)
    gx0 = np.array([r[2] for r in grids])[g]
    gy0 = np.array([r[3] for r in grids])[g]
    gx1 = np.array([r[4] for r in grids])[g]
    gy1 = np.array([r[5] for r in grids])[g]
    lons = np.round(gx0 + rng.random(n) * (gx1 - gx0), 6)
    lats = np.round(gy0 + rng.random(n) * (gy1 - gy0), 6)
    rules = ref["rules"]
    c = rng.integers(0, len(rules), n)
    cat_code = np.array([r[0] for r in rules])[c]
    dept_id = np.array([r[2] for r in rules])[c]
    description = np.array([f"{r[1]}，请尽快处置" for r in rules], dtype=object)[c]
    reason = np.array([f"责任矩阵：{r[1]}（全区）→ {r[3]}" for r in rules], dtype=object)[c]
    workers = ref["workers"]
    w = rng.integers(0, len(workers), n)
    channel = rng.choice(np.array(["grid_worker", "hotline", "web", "citizen"]), n, p=[0.6, 0.25, 0.1, 0.05])
    by_worker = channel == "grid_worker"
    worker_id = np.array([r[0] for r in workers])[w]
    reporter_name = np.where(by_worker, np.array([r[1] for r in workers])[w], "市民")
    citizen_phone = np.char.add("139", np.char.zfill(rng.integers(0, 10 ** 8, n).astype(str), 8))
    reporter_phone = np.where(by_worker, np.array([r[2] for r in workers])[w], citizen_phone)
    state = np.array([STAGE_STATE[s] for s in stages])[stage_idx]
    no_dept = np.isin(state, ("accepted", "opened"))
    assigned = np.isin(state, ("checking", "check_passed"))
    reported = started - (600e6 + rng.random(n) * 6 * 3600e6).astype(np.int64)
    version = np.array([STATE_VERSION[STAGE_STATE[s]] for s in stages])[stage_idx]
    numbers = np.char.add(f"310101{t0.year}", np.char.zfill((case_ids - base_case + 1).astype(str), 7))
    addresses = np.char.add(np.char.add("示范路", (rng.integers(1, 1000, n)).astype(str)), "号")
    lon_s, lat_s = lons.astype(str), lats.astype(str)
    dept_s = dept_id.astype(str)
    grid_ids = np.array([str(r[0]) for r in grids])[g]
    grid_codes = np.array([r[1] for r in grids])[g]
    case_cols = [
        case_ids.astype(str), numbers, _tracking_codes(base_case * 7919, n), channel,
        _nullable(worker_id.astype(str), ~by_worker), reporter_name, reporter_phone, description, addresses,
        _ewkb_points(lons, lats), lon_s, lat_s, lon_s, lat_s, ["wgs84"] * n, grid_ids, grid_codes, cat_code,
        _nullable(dept_s, no_dept), dept_s, reason, state, _nullable(worker_id.astype(str), ~assigned),
        np.where(rng.random(n) < 0.01, "t", "f"), _ts(reported), _ts(started), version.astype(str),
    ]
    case_sql = ("COPY cases (id, number, tracking_code, channel, reporter_staff_id, reporter_name,"
                " reporter_phone, description, address, location, lon, lat, original_lon, original_lat,"
                " original_crs, grid_id, grid_code, category_code, department_id, suggested_department_id,"
                " suggestion_reason, state, assignee_id, supervised, reported_at, updated_at, version) FROM STDIN")

    # --- clocks: one running clock per case, then the ended traps
    limits = ref["limits"]
    amount = np.array([str(limits[s][0]) for s in stages])[stage_idx]
    unit = np.array([limits[s][1] for s in stages])[stage_idx]
    started_s = _ts(started)
    clock_cols = [
        clock_ids.astype(str), case_ids.astype(str), stage, _nullable(dept_s, no_dept), started_s, amount, unit,
        ["0"] * n, started_s, _ts(warn), _ts(due), ["\\N"] * n, ["\\N"] * n,
        _nullable(_ts(warned_at), warned_null), _nullable(_ts(overdue_at), overdue_null), ["0"] * n,
    ]
    clock_sql = ("COPY stage_clocks (id, case_id, stage, department_id, started_at, amount, unit, consumed,"
                 " segment_started_at, warn_at, due_at, ended_at, ended_late, warned_at, overdue_notified_at,"
                 " extended) FROM STDIN")
    t_case = rng.integers(0, n, n_traps)
    t_warn = T0 - (rng.random(n_traps) * I_us).astype(np.int64)
    t_due = np.maximum(t_warn, T0 - (rng.random(n_traps) * I_us).astype(np.int64))
    t_start = t_warn - 3600 * 1_000_000
    t_end = T0 - (rng.random(n_traps) * 600e6).astype(np.int64) - I_us
    trap_cols = [
        np.arange(base_clock + n, base_clock + n + n_traps).astype(str), case_ids[t_case].astype(str),
        ["dispatch"] * n_traps, ["\\N"] * n_traps, _ts(t_start), [str(limits["dispatch"][0])] * n_traps,
        [limits["dispatch"][1]] * n_traps, ["0"] * n_traps, _ts(t_start), _ts(t_warn), _ts(t_due), _ts(t_end),
        ["f"] * n_traps, ["\\N"] * n_traps, ["\\N"] * n_traps, ["0"] * n_traps,
    ]
    times["generate_s"] = time.perf_counter() - start

    # --- load: secondary indexes off, FK triggers off (session_replication_role, as
    # pg_restore does), COPY, indexes back with their exact definitions.
    before = all_indexes(conn)
    secondary = secondary_indexes(conn)
    start = time.perf_counter()
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute("SET maintenance_work_mem = '256MB'")
    conn.execute("SET session_replication_role = replica")
    for name in secondary:
        conn.execute(f'DROP INDEX "{name}"')
    conn.commit()
    times["drop_indexes_s"] = time.perf_counter() - start

    start = time.perf_counter()
    _copy_rows(conn, case_sql, case_cols, n)
    conn.commit()
    times["copy_cases_s"] = time.perf_counter() - start
    del case_cols

    start = time.perf_counter()
    _copy_rows(conn, clock_sql, clock_cols, n)
    _copy_rows(conn, clock_sql, trap_cols, n_traps)
    conn.commit()
    times["copy_clocks_s"] = time.perf_counter() - start
    del clock_cols

    start = time.perf_counter()
    for ddl in secondary.values():
        conn.execute(ddl)
    conn.execute("SET session_replication_role = DEFAULT")
    conn.execute("SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))")
    conn.execute("SELECT setval(pg_get_serial_sequence('stage_clocks', 'id'), (SELECT max(id) FROM stage_clocks))")
    conn.commit()
    times["create_indexes_s"] = time.perf_counter() - start
    after = all_indexes(conn)
    if _same_indexes(before) != _same_indexes(after):
        raise BenchError(f"indexes differ after the load: {sorted(set(before.items()) ^ set(after.items()))}")

    start = time.perf_counter()
    conn.autocommit = True
    try:
        conn.execute("VACUUM ANALYZE cases")
        conn.execute("VACUUM ANALYZE stage_clocks")
    finally:
        conn.autocommit = False
    times["vacuum_analyze_s"] = time.perf_counter() - start
    times["cases"], times["running_clocks"], times["ended_traps"] = n, n, n_traps
    times["planted"] = {"backlog_warn": n_bw, "backlog_due": n_bd, "window_warn": n_ww, "window_due": n_wd,
                        "yellow_warned": n_yellow, "red_notified": n_red, "green": n_green}
    times["indexes"] = sorted(after)
    times["rebuilt_indexes"] = sorted(secondary)
    return times


# ----------------------------------------------------------------------------- sweep


class SqlCounter:
    """Counts statements and time inside cursor.execute for one engine."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.statements = 0
        self.sql_s = 0.0
        self.captured: list[tuple[str, object]] = []
        self.capture = False
        self._t = threading.local()
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def reset(self):
        self.statements, self.sql_s = 0, 0.0

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._t.start = time.perf_counter()
        if self.capture and "FOR UPDATE" in statement and "stage_clocks" in statement:
            self.captured.append((statement, parameters))

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.statements += 1
        self.sql_s += time.perf_counter() - self._t.start


def run_sweeps(app, conninfo: str, t0: datetime, interval: int, windows: int, truth: Truth) -> dict:
    from dispatch.clocks.deadlines import sweep
    from wangge.extensions import db

    out = {"sweeps": [], "errors": [], "plans": {}}
    check = psycopg.connect(conninfo)

    def outbox_count() -> int:
        n = check.execute("SELECT count(*) FROM outbox WHERE topic = 'deadline'").fetchone()[0]
        check.commit()
        return n

    with app.app_context():
        counter = SqlCounter(db.engine)
        schedule = [("cold", t0, None), ("same now again", t0, t0)]
        prev = t0
        for k in range(1, windows + 1):
            now = t0 + timedelta(seconds=k * interval)
            schedule.append((f"warm +{k * interval} s", now, prev))
            prev = now
        marked_before = outbox_count()
        for i, (label, now, after) in enumerate(schedule):
            if label == "same now again":
                want_w, want_d = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
            else:
                want_w, want_d = truth.between(None if after is None else _us(after), _us(now))
            db.session.remove()  # a fresh session per sweep, as the periodic job has
            counter.reset()
            counter.capture = i == 0
            gc.collect()
            start = time.perf_counter()
            result = sweep(db.session, now=now)
            swept = time.perf_counter()
            db.session.commit()
            done = time.perf_counter()
            counter.capture = False
            statements, sql_s = counter.statements, counter.sql_s
            db.session.remove()

            # check against the generated data, by clock id
            got_w = check.execute("SELECT id FROM stage_clocks WHERE warned_at = %s", (now,)).fetchall()
            got_d = check.execute("SELECT id FROM stage_clocks WHERE overdue_notified_at = %s", (now,)).fetchall()
            outbox = outbox_count()
            got_w = np.array(sorted(r[0] for r in got_w), dtype=np.int64)
            got_d = np.array(sorted(r[0] for r in got_d), dtype=np.int64)
            new_outbox = outbox - marked_before
            marked_before = outbox
            # at "same now again" the rows marked by the cold sweep carry the same timestamp
            ok = (result == {"warnings": len(want_w), "overdue": len(want_d)}
                  and new_outbox == len(want_w) + len(want_d))
            if label != "same now again":
                ok = ok and np.array_equal(got_w, np.sort(want_w)) and np.array_equal(got_d, np.sort(want_d))
            if not ok:
                out["errors"].append(
                    f"sweep {label} at {now.isoformat()}: returned {result}, expected warnings={len(want_w)}"
                    f" overdue={len(want_d)}; rows marked warned={len(got_w)} overdue={len(got_d)};"
                    f" new outbox rows={new_outbox}")
            out["sweeps"].append({
                "label": label, "now": now.isoformat(), "warnings": result["warnings"],
                "overdue": result["overdue"], "expected": {"warnings": len(want_w), "overdue": len(want_d)},
                "outbox_rows": new_outbox, "ok": bool(ok), "sweep_s": swept - start, "commit_s": done - swept,
                "total_s": done - start, "statements": statements, "sql_s": sql_s})

        # plans of the two row-locking queries the sweep ran, with its own parameters
        with db.engine.connect() as conn:
            for statement, params in counter.captured:
                plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, params))
                key = "warn" if "warned_at IS NULL" in statement and "warn_at <=" in statement else "overdue"
                out["plans"][key] = plan
            conn.rollback()
        db.session.remove()
        db.engine.dispose()
    check.close()
    out["plan_nodes"] = {k: " -> ".join(
        re.sub(r"\s+\(cost=.*$", "", line).strip().removeprefix("->").strip() for line in v.splitlines()
        if "cost=" in line) for k, v in out["plans"].items()}
    out["plan_ok"] = {"warn": "ix_stage_clocks_warn_due" in out["plans"].get("warn", ""),
                      "overdue": "ix_stage_clocks_overdue_due" in out["plans"].get("overdue", "")}
    return out


# ----------------------------------------------------------------------------- facts and checks


def server_facts(conninfo: str) -> dict:
    with psycopg.connect(conninfo) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        full = conn.execute("SELECT postgis_full_version()").fetchone()[0]
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit',"
            " 'fsync', 'max_connections')").fetchall())
    m = re.search(r'POSTGIS="([^"\s]+)', full)
    return {"postgresql": pg.split()[0], "postgis": m.group(1) if m else full[:40], "settings": settings}


def check_http_cases(conninfo: str, numbers: list[str]) -> list[str]:
    """Every case the client took through the chain is reported back in the database
    (``handled``), in the matrix's department, with one event per step and no running clock
    (the check stage starts with ``request_check``)."""
    errors = []
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("""
            SELECT c.number, c.state, c.department_id = c.suggested_department_id,
                   (SELECT array_agg(e.verb ORDER BY e.id) FROM case_events e WHERE e.case_id = c.id),
                   (SELECT array_agg(k.stage) FROM stage_clocks k WHERE k.case_id = c.id AND k.ended_at IS NULL)
            FROM cases c WHERE c.number = ANY(%s)""", (numbers,)).fetchall()
    if len(rows) != len(numbers):
        errors.append(f"{len(numbers)} cases reported back over HTTP, {len(rows)} found in the database")
    for number, state, same_dept, verbs, running in rows:
        if state != STEP_STATE[STEPS[-1]] or not same_dept or verbs != list(STEPS) or running is not None:
            errors.append(f"case {number}: state={state} department=suggested:{same_dept} events={verbs} "
                          f"running clocks={running}")
            if len(errors) > 5:
                break
    return errors


def pre_existing_clocks(conninfo: str, truth: Truth) -> int:
    """Running clocks of the HTTP cases: the sweep must mark them too if they cross."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT id, warn_at, due_at, warned_at IS NULL, overdue_notified_at IS NULL FROM stage_clocks"
            " WHERE ended_at IS NULL AND segment_started_at IS NOT NULL").fetchall()
    w = [(r[0], _us(r[1])) for r in rows if r[3]]
    d = [(r[0], _us(r[2])) for r in rows if r[4]]
    truth.add([x[0] for x in w], [x[1] for x in w], [x[0] for x in d], [x[1] for x in d])
    return len(rows)


def verb_table(p, rounds: list[dict]) -> dict:
    """Each verb against the minimal app (one client, phases of one verb): per round the ratio
    of p50 latencies and of server CPU per request, the median over rounds; one goal line per
    verb and measure (issue 10: within 3x)."""
    from bench import goals

    p(f"per request against the minimal app (Flask + SQLAlchemy: token lookup, one INSERT, commit; same gunicorn "
      f"settings), one client, {len(rounds)} rounds, medians; CPU = the server process's utime + stime")
    p(f"  {'request':<14}{'p50 ms':>8}{'x minimal':>11}{'CPU ms':>9}{'x minimal':>11}   CPU ratio per round")
    out = {}
    for name in ("minimal", *STEPS):
        per = [r[name] for r in rounds if name in r]
        if not per:
            continue
        p50 = _median([x["p50_ms"] for x in per])
        cpu = _median([x["cpu_ms"] for x in per])
        lat_ratio = _median([_ratio(x["p50_ms"], r["minimal"]["p50_ms"]) for x, r in zip(per, rounds, strict=False)])
        cpu_rounds = [_ratio(x["cpu_ms"], r["minimal"]["cpu_ms"]) for x, r in zip(per, rounds, strict=False)]
        cpu_ratio = _median(cpu_rounds)
        out[name] = {"p50_ms": p50, "cpu_ms": cpu, "p50_ratio": lat_ratio, "cpu_ratio": cpu_ratio,
                     "cpu_ratio_rounds": cpu_rounds}
        p(f"  {name:<14}{p50:>8.2f}{lat_ratio:>10.2f}x{cpu:>9.2f}{cpu_ratio:>10.2f}x   "
          f"[{', '.join(f'{x:.2f}' for x in cpu_rounds)}]")
    for verb in VERB_GOALS:
        if verb not in out:
            continue
        v = out[verb]
        goals.report(NAME, f"verb {verb}: server CPU per request vs minimal app",
                     f"{v['cpu_ms']:.2f} ms vs {out['minimal']['cpu_ms']:.2f} ms", ratio=v["cpu_ratio"],
                     target=f"<= {TARGET_VERB_RATIO:g}x", passed=v["cpu_ratio"] <= TARGET_VERB_RATIO)
        goals.report(NAME, f"verb {verb}: p50 latency vs minimal app",
                     f"{v['p50_ms']:.2f} ms vs {out['minimal']['p50_ms']:.2f} ms", ratio=v["p50_ratio"],
                     target=f"<= {TARGET_VERB_RATIO:g}x", passed=v["p50_ratio"] <= TARGET_VERB_RATIO)
    return out


# ----------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench.bench_dispatch", description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=150,
                    help=f"cases per throughput run ({len(STEPS)} requests each)")
    ap.add_argument("--minimal-requests", type=int, default=250,
                    help="requests to the minimal app per round (rounds x this + 50 stay under its max_requests)")
    ap.add_argument("--db-tag", default="", help="put this in the scratch database's name (who made it)")
    ap.add_argument("--clients", type=int, default=2, help="concurrent clients of the second run (1 = skip it)")
    ap.add_argument("--repeat", type=int, default=3, help="throughput rounds; the median is reported")
    ap.add_argument("--inserts", type=int, default=1000, help="rows of the psycopg INSERT loop per round")
    ap.add_argument("--pgbench-seconds", type=int, default=3, help="duration of each pgbench run")
    ap.add_argument("--open-cases", type=int, default=1_000_000, help="open cases loaded for the sweep")
    ap.add_argument("--warm-sweeps", type=int, default=5, help="sweeps after the cold one and its repeat")
    ap.add_argument("--sweep-interval", type=int, default=60, help="simulated seconds between warm sweeps")
    ap.add_argument("--skip-http", action="store_true", help="only the sweep")
    ap.add_argument("--skip-sweep", action="store_true", help="only the throughput")
    ap.add_argument("--redis", default=os.environ.get("WANGGE_BENCH_REDIS_URL", DEFAULT_REDIS), metavar="URL",
                    help="the production shape (issue 10 measures PostGIS + Redis): jobs through this Redis (a "
                         "queue of its own) and a `wangge worker` delivering them; default %(default)s "
                         "($WANGGE_BENCH_REDIS_URL); an empty URL: the embedded shape, notifications delivered inline")
    add_database_options(ap, RESULTS)
    args = ap.parse_args(argv)
    if min(args.cases, args.minimal_requests, args.clients, args.repeat, args.inserts, args.pgbench_seconds, args.open_cases,
           args.warm_sweeps, args.sweep_interval) < 1:
        ap.error("all counts must be positive")
    if args.warm_sweeps * args.sweep_interval > 1200:
        ap.error("--warm-sweeps x --sweep-interval must stay within 1200 s (the generator's margins)")

    p = print
    rng = np.random.default_rng(SEED)
    dbname = f"wangge_bench_{args.db_tag + '_' if args.db_tag else ''}{secrets.token_hex(4)}"
    conninfo = make_conninfo(args.pg_admin_url, dbname=dbname)
    db_url = _sqlalchemy_url(args.pg_admin_url, dbname)
    admin_db = conninfo_to_dict(args.pg_admin_url).get("dbname", "?")
    pgbench = shutil.which("pgbench")
    tmp = Path(tempfile.mkdtemp(prefix="wangge-bench-"))
    errors: list[str] = []
    setup: dict = {}
    http_res: dict = {}
    sweep_res: dict = {}
    load: dict = {}
    server = baseline = worker = None
    app = None
    facts: dict = {}
    demo: dict = {}

    create_database(args.pg_admin_url, dbname)
    try:
        start = time.perf_counter()
        app = make_app(db_url)
        demo = setup_city(app)
        setup["migrate_and_demo_s"] = time.perf_counter() - start
        facts = server_facts(conninfo)
        with psycopg.connect(conninfo) as conn:
            expected_dept = dict(conn.execute(
                "SELECT r.category_code, d.code FROM responsibilities r JOIN departments d ON d.id = r.department_id"
                " WHERE r.grid_code = '*' AND r.category_code = ANY(%s)", (list(HTTP_CATEGORIES),)).fetchall())
            street = conn.execute("SELECT count(*) FROM responsibilities WHERE grid_code <> '*'"
                                  " AND category_code = ANY(%s)", (list(HTTP_CATEGORIES),)).fetchone()[0]
            auto = conn.execute("SELECT count(*) FROM categories WHERE auto_dispatch AND code = ANY(%s)",
                                (list(HTTP_CATEGORIES),)).fetchone()[0]
        if len(expected_dept) != len(HTTP_CATEGORIES) or street or auto:
            raise BenchError(f"the demo matrix no longer routes {HTTP_CATEGORIES} by a '*' rule only, "
                             "without auto-dispatch; pick other categories")

        # ------------------------------------------------------------- throughput
        if not args.skip_http:
            with psycopg.connect(conninfo) as conn:
                conn.execute(INSERT_TABLE)
            minimal_app.setup(conninfo)
            script = tmp / "insert.sql"
            script.write_text(PGBENCH_SCRIPT)

            start = time.perf_counter()
            # No worker recycling while measuring: a replaced worker starts cold (imports, app,
            # caches) and its CPU would land in one verb's phase. The minimal app keeps the
            # default and stays below it (--minimal-requests x rounds + warm-up < 1000).
            shape = {"WANGGE_WEB_MAX_REQUESTS": "0"}
            if args.redis:
                import redis

                try:
                    redis.Redis.from_url(args.redis, socket_connect_timeout=2).ping()
                except redis.RedisError as exc:
                    raise BenchError(f"Redis at {args.redis} does not answer ({exc}); start it "
                                     "(`make setup`) or measure the embedded shape with --redis ''") from None
                shape.update({"WANGGE_REDIS_URL": args.redis, "WANGGE_JOBS_INLINE": "0",
                              "WANGGE_QUEUE_NAME": f"bench-{secrets.token_hex(4)}"})
            server = Server(db_url, tmp / "server.log", workers=1, env=shape)
            if args.redis:
                worker = start_worker(db_url, shape, tmp / "worker.log")
            setup["server_start_s"] = time.perf_counter() - start
            start = time.perf_counter()
            baseline = Server.minimal(db_url, tmp / "minimal.log")
            setup["minimal_start_s"] = time.perf_counter() - start
            from grid.demo import DEMO_PASSWORD
            workers = [f"wgy{i:03d}" for i in range(1, 13)]
            handlers = sorted({f"cz-{code.lower()}" for code in expected_dept.values()})
            start = time.perf_counter()
            tokens = {u: login(server.port, u, DEMO_PASSWORD)
                      for u in ("shouli", "zhiban", "paiqian", *handlers, *workers)}
            setup["login_s"] = time.perf_counter() - start

            # warm-up (not timed): server caches, grid index, statement caches
            warm_specs = case_specs(rng, 10, "warmup", workers)
            warm = run_http(server.port, tokens, warm_specs, 1, expected_dept)
            errors += warm["errors"]
            run_minimal(baseline, 50)
            all_numbers = list(warm["numbers"])
            # idempotent retry of the first report: same case, 200
            c = Client(server.port)
            spec = warm_specs[0]
            status, j, _ = c.post("/api/v1/cases", {"description": "上水井盖破损，存在安全隐患",
                                                    "category_code": spec["category"], "lon": spec["lon"],
                                                    "lat": spec["lat"], "address": "示范区巡查点"},
                                  {"Authorization": f"Bearer {tokens[spec['worker']]}",
                                   "Idempotency-Key": spec["key"]})
            c.close()
            idempotent_ok = status == 200 and bool(warm["numbers"]) and j.get("number") == warm["numbers"][0]
            if not idempotent_ok:
                errors.append(f"idempotent retry: HTTP {status}, number {j.get('number')}, "
                              f"first answer {warm['numbers'][:1]}")

            runs = {"insert_loop": [], "pgbench_1": [], "pgbench_n": [], "http_1": [], "http_n": []}
            lat1 = {s: [] for s in STEPS}
            latn = {s: [] for s in STEPS}
            # per round: minimal app's p50 and CPU per request, each verb's p50 and CPU per request
            verb_rounds: list[dict] = []
            requests = closed = 0
            for r in range(args.repeat):
                runs["insert_loop"].append(insert_loop(conninfo, args.inserts))
                if pgbench:
                    runs["pgbench_1"].append(run_pgbench(pgbench, args.pg_admin_url, dbname, script, 1,
                                                         args.pgbench_seconds)["tps"])
                # the baseline brackets the verbs (half before, half after): the machine's speed
                # drifts within a round, and a baseline taken only before them read its drift as
                # the verbs' own (the minimal app's CPU per request moved 3.0-4.6 ms between runs)
                before = run_minimal(baseline, args.minimal_requests - args.minimal_requests // 2)
                res = run_verbs(server, tokens, case_specs(rng, args.cases, f"r{r}c1", workers), expected_dept)
                base = merge_minimal(before, run_minimal(baseline, args.minimal_requests // 2))
                errors += res["errors"]
                all_numbers += res["numbers"]
                phase_s = sum(sum(v) for v in res["latency_s"].values())
                runs["http_1"].append(len(res["numbers"]) / phase_s if phase_s > 0 else 0.0)
                requests += sum(res["requests"].values())
                for s in STEPS:
                    lat1[s] += res["latency_s"].get(s, [])
                verb_rounds.append({
                    "minimal": {"p50_ms": _ms(_pct(base["latency_s"], 50)),
                                "cpu_ms": _ms(base["cpu_s"] / base["requests"]), "requests": base["requests"]},
                    **{s: {"p50_ms": _ms(_pct(res["latency_s"][s], 50)),
                           "cpu_ms": _ms(res["cpu_s"][s] / res["requests"][s]), "requests": res["requests"][s]}
                       for s in STEPS if res["requests"].get(s)}})
                if args.clients > 1:
                    if pgbench:
                        runs["pgbench_n"].append(run_pgbench(pgbench, args.pg_admin_url, dbname, script,
                                                             args.clients, args.pgbench_seconds)["tps"])
                    res = run_http(server.port, tokens, case_specs(rng, args.cases, f"r{r}c{args.clients}", workers),
                                   args.clients, expected_dept)
                    errors += res["errors"]
                    all_numbers += res["numbers"]
                    runs["http_n"].append(res["cases_per_s"])
                    requests, closed = requests + res["requests"], closed + res["closed_by_server"]
                    for s in STEPS:
                        latn[s] += res["latency_s"][s]
                if errors:
                    break
            server.stop()
            baseline.stop()
            if worker is not None:
                stop_worker(worker)
                worker = None
            server_log = server.log_tail(5)
            server = baseline = None
            with psycopg.connect(conninfo) as conn:
                conn.execute("DROP TABLE bench_raw_inserts")
            db_errors = check_http_cases(conninfo, all_numbers)
            errors += db_errors
            http_res = {"runs": runs, "median": {k: _median(v) for k, v in runs.items()},
                        "latency_s": {"1": lat1, **({str(args.clients): latn} if args.clients > 1 else {})},
                        "idempotent_retry_ok": idempotent_ok,
                        "cases_checked": len(all_numbers), "db_errors": db_errors, "requests": requests,
                        "closed_by_server": closed, "server_log_tail": server_log, "verb_rounds": verb_rounds}

        # ------------------------------------------------------------- sweep
        if not args.skip_sweep and not errors:
            truth = Truth()
            preexisting = pre_existing_clocks(conninfo, truth)
            t0 = datetime.now(UTC).replace(microsecond=0)
            with psycopg.connect(conninfo) as conn:
                load = bulk_load(conn, args.open_cases, t0, args.sweep_interval, args.warm_sweeps, rng, truth)
            load["preexisting_running_clocks"] = preexisting
            sweep_res = run_sweeps(app, conninfo, t0, args.sweep_interval, args.warm_sweeps, truth)
            sweep_res["t0"] = t0.isoformat()
            errors += sweep_res["errors"]
    except BenchError as exc:
        errors.append(str(exc))
    finally:
        if server is not None:
            errors_tail = server.log_tail()
            server.stop()
            if errors:
                print(f"server log (tail):\n{errors_tail}", file=sys.stderr)
        if baseline is not None:
            baseline.stop()
        if worker is not None:
            stop_worker(worker)
        if app is not None:
            from wangge.extensions import db

            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        if not args.keep_db:
            drop_database(args.pg_admin_url, dbname)
        shutil.rmtree(tmp, ignore_errors=True)

    # ----------------------------------------------------------------- report
    from importlib.metadata import version

    machine = {"cpu_count": os.cpu_count(), "python": platform.python_version(),
               "platform": platform.platform(terse=True), "psycopg": f"{psycopg.__version__} ({psycopg.pq.__impl__})",
               "sqlalchemy": version("sqlalchemy"), "flask": version("flask"),
               "werkzeug": version("werkzeug"), "pgbench": pgbench or "absent",
               **{k: facts[k] for k in ("postgresql", "postgis") if k in facts}}
    p(f"dispatch benchmark: demo city ({demo.get('grids', '?')} grids), "
      f"{args.cases} cases per throughput run x {args.repeat} rounds, sweep over {args.open_cases:,} open cases")
    p(f"machine: {machine['cpu_count']} CPUs, Python {machine['python']}, Flask {machine['flask']}, "
      f"Werkzeug {machine['werkzeug']}, SQLAlchemy {machine['sqlalchemy']}, psycopg {machine['psycopg']}, "
      f"PostgreSQL {machine.get('postgresql', '?')}, PostGIS {machine.get('postgis', '?')}"
      + (f" (synchronous_commit={facts['settings'].get('synchronous_commit')}, "
         f"shared_buffers={int(facts['settings'].get('shared_buffers', 0)) * 8 // 1024} MB)"
         if facts else ""))
    p(f"database: {dbname} (via {admin_db}; {'kept' if args.keep_db else 'dropped'})")
    p("")
    p("setup")
    p(f"  migrate + demo city        {setup.get('migrate_and_demo_s', float('nan')):7.2f} s")

    verdict_tp = {}
    if http_res:
        med = http_res["median"]
        n = args.clients
        p(f"  wangge serve start         {setup['server_start_s']:7.2f} s")
        p("")
        p(f"  minimal app start          {setup['minimal_start_s']:7.2f} s")
        p("")
        p(f"report -> reported back over HTTP: {len(STEPS)} requests per case ({', '.join(STEPS)}), "
          f"{args.cases} cases per run")
        p("  notifications: " + (f"through Redis ({args.redis}) to a `wangge worker` (its CPU is not the server's)"
                                 if args.redis else "delivered inline by the server (the embedded shape, no Redis)"))
        p(f"  server: `python -m wangge serve --workers 1` (gunicorn gthread, keep-alive) in a subprocess on "
          f"127.0.0.1, client: http.client; {http_res['closed_by_server']} of {http_res['requests']} answers "
          "closed the connection")
        p(f"  {'measurement':<40}{'per second':>12}   runs")

        def row(label, key, unit=""):
            if runs_ := http_res["runs"][key]:
                rs = ", ".join(f"{x:.1f}" for x in runs_)
                p(f"  {label:<40}{med[key]:>12.1f}   [{rs}]{unit}")

        row("raw INSERT, psycopg loop, 1 connection", "insert_loop")
        row("raw INSERT, pgbench -c 1", "pgbench_1")
        if n > 1:
            row(f"raw INSERT, pgbench -c {n}", "pgbench_n")
        row("cases, 1 client (one verb at a time)", "http_1")
        if n > 1:
            row(f"cases, {n} clients (one case at a time)", "http_n")
        p("")
        p("ratios (raw single-row INSERTs per second / cases per second = inserts one case costs;")
        p("        each round's own ratio, median over rounds)")
        runs = http_res["runs"]

        def ratio_line(label, base_key, cases_key, tail):
            per_round = [_ratio(a, b) for a, b in zip(runs[base_key], runs[cases_key], strict=False)]
            if not per_round:
                return None
            rs = ", ".join(f"{x:.1f}" for x in per_round)
            p(f"  {label:<36}{_median(per_round):8.1f}x   [{rs}]{tail}")
            return {"median": _median(per_round), "rounds": per_round}

        base1 = "pgbench_1" if runs["pgbench_1"] else "insert_loop"
        verdict_tp = {
            f"{base1}_over_cases_1_client": ratio_line(
                f"{'pgbench -c 1' if runs['pgbench_1'] else 'psycopg loop'} / cases, 1 client", base1, "http_1",
                f"   ({med['http_1'] * 4:.1f} requests/s, {1000 / med['http_1']:.1f} ms per case)"),
        }
        if runs["pgbench_1"]:
            verdict_tp["insert_loop_over_cases_1_client"] = ratio_line(
                "psycopg loop / cases, 1 client", "insert_loop", "http_1", "")
        if n > 1 and runs["http_n"]:
            basen = "pgbench_n" if runs["pgbench_n"] else "insert_loop"
            verdict_tp[f"{basen}_over_cases_{n}_clients"] = ratio_line(
                f"{f'pgbench -c {n}' if runs['pgbench_n'] else 'psycopg loop'} / cases, {n} clients", basen,
                "http_n", f"   ({med['http_n'] * 4:.1f} requests/s; {n} clients vs 1: "
                f"{_ratio(med['http_n'], med['http_1']):.2f}x the cases/s)")
        p("")
        p(f"  request latency (ms)   {'p50':>7}{'p90':>7}{'p99':>7}{'max':>7}   n")
        for clients_key, lat in http_res["latency_s"].items():
            for s in STEPS:
                v = lat.get(s) or []
                if v:
                    head = f"{clients_key} client{'s' if clients_key != '1' else ''}" if s == STEPS[0] else ""
                    p(f"  {head:<10} {s:<11}{_ms(_pct(v, 50)):>7.1f}{_ms(_pct(v, 90)):>7.1f}"
                      f"{_ms(_pct(v, 99)):>7.1f}{_ms(max(v)):>7.1f}   {len(v)}")
        p("")
        verb_res = verb_table(p, http_res["verb_rounds"])
        http_res["verbs"] = verb_res
        p("")
        p(f"  correctness: {http_res['cases_checked']} cases (incl. 10 warm-up) dispatched to the matrix's "
          f"department, signed and reported back, in the database with events {'/'.join(STEPS)} and no running "
          f"clock; idempotent retry returned the same case: {'yes' if http_res['idempotent_retry_ok'] else 'NO'} -> "
          f"{'OK' if not http_res['db_errors'] and http_res['idempotent_retry_ok'] else 'FAIL'}")

    sweep_verdict = None
    warm_median = None
    if sweep_res:
        p("")
        p(f"sweep over {load['cases']:,} open cases ({load['running_clocks']:,} running clocks + "
          f"{load['ended_traps']:,} ended ones inside the window; {load['preexisting_running_clocks']} clocks of "
          "the HTTP cases)")
        pl = load["planted"]
        p(f"  data: {pl['green']:,} green, {pl['yellow_warned']:,} already warned, {pl['red_notified']:,} already "
          f"overdue-notified; {pl['backlog_warn']:,} warn + {pl['backlog_due']:,} due crossed since the last sweep; "
          f"{pl['window_warn']} warn + {pl['window_due']} due crossing per {args.sweep_interval} s after")
        total_load = sum(load[k] for k in ("generate_s", "drop_indexes_s", "copy_cases_s", "copy_clocks_s",
                                           "create_indexes_s", "vacuum_analyze_s"))
        p(f"  load: generate {load['generate_s']:.1f} s, COPY cases {load['copy_cases_s']:.1f} s, COPY clocks "
          f"{load['copy_clocks_s']:.1f} s, rebuild {len(load['rebuilt_indexes'])} indexes "
          f"{load['create_indexes_s']:.1f} s, VACUUM ANALYZE {load['vacuum_analyze_s']:.1f} s "
          f"(total {total_load:.1f} s)")
        po = sweep_res["plan_ok"]
        p("  plans (EXPLAIN of the sweep's own two row-locking queries, with its parameters):")
        for key, index in (("warn", "ix_stage_clocks_warn_due"), ("overdue", "ix_stage_clocks_overdue_due")):
            p(f"    {key:<8} {sweep_res['plan_nodes'].get(key, '?')}   uses {index}: {'yes' if po[key] else 'NO'}")
        p("")
        p(f"  {'sweep':<18}{'now':<10}{'warned':>8}{'overdue':>9}{'expected':>14}{'seconds':>9}"
          f"{'of which SQL':>14}{'commit':>8}{'statements':>12}")
        for s in sweep_res["sweeps"]:
            exp = f"{s['expected']['warnings']}/{s['expected']['overdue']}"
            now = "T0" if s["now"] == sweep_res["t0"] else \
                f"T0+{int((datetime.fromisoformat(s['now']) - datetime.fromisoformat(sweep_res['t0'])).total_seconds())}s"
            p(f"  {s['label']:<18}{now:<10}{s['warnings']:>8}{s['overdue']:>9}{exp:>11} {'ok' if s['ok'] else 'XX'}"
              f"{s['total_s']:>9.3f}{s['sql_s']:>14.3f}{s['commit_s']:>8.3f}{s['statements']:>12}")
        warm = [s for s in sweep_res["sweeps"] if s["label"].startswith("warm")]
        warm_median = _median([s["total_s"] for s in warm])
        marked = sum(s["warnings"] + s["overdue"] for s in warm)
        per_clock = _ratio(sum(s["total_s"] for s in warm), marked) * 1000 if marked else float("nan")
        stmts = _ratio(sum(s["statements"] for s in warm), marked) if marked else float("nan")
        sweep_verdict = "PASS" if warm_median < TARGET_SWEEP_S else "BELOW TARGET"
        p("")
        cold = sweep_res["sweeps"][0]
        p(f"  warm sweep median {warm_median:.3f} s (max {max(s['total_s'] for s in warm):.3f} s)   "
          f"target < {TARGET_SWEEP_S:g} s once warm: {sweep_verdict}")
        p(f"  cold sweep {cold['total_s']:.3f} s for {cold['warnings'] + cold['overdue']:,} clocks; warm: "
          f"{per_clock:.2f} ms and {stmts:.1f} SQL statements per marked clock")
        sweep_ok = not sweep_res["errors"] and all(po.values())
        p(f"  correctness: every sweep marked exactly the generated clocks (by id) and wrote one outbox row each; "
          f"the repeat at the same now marked nothing -> {'OK' if sweep_ok else 'FAIL'}")
        if not all(po.values()):
            errors.append("the sweep's queries do not use the partial indexes:\n"
                          + "\n".join(f"--- {k}\n{v}" for k, v in sweep_res["plans"].items()))

    for e in errors[:10]:
        print(f"error: {e}", file=sys.stderr)

    result = {
        "benchmark": NAME,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                   if k not in ("pg_admin_url",)},
        "machine": {**machine, **({"pg_settings": facts["settings"]} if facts else {})},
        "setup_s": setup,
        "throughput": {k: v for k, v in http_res.items() if k != "latency_s"} | {
            "latency_ms": {c: {s: {"p50": _ms(_pct(v, 50)), "p90": _ms(_pct(v, 90)), "p99": _ms(_pct(v, 99)),
                                   "max": _ms(max(v)), "n": len(v)} for s, v in lat.items() if v}
                           for c, lat in http_res.get("latency_s", {}).items()},
            "ratios": verdict_tp} if http_res else None,
        "sweep": {"load": load, **{k: v for k, v in sweep_res.items() if k != "errors"},
                  "warm_median_s": warm_median, "target_s": TARGET_SWEEP_S, "verdict": sweep_verdict}
        if sweep_res else None,
        "errors": errors,
    }
    write_json(args.output, result)
    try:
        shown = args.output.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        shown = args.output
    p(f"results written to {shown}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
