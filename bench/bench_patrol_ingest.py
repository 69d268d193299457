"""Patrol track ingest: GPS points accepted through HTTP in batches of 100 against PostgreSQL
``COPY`` of the same rows into the same partitioned table, in one run, 3 rounds (medians).

On a scratch PostGIS database migrated with the app's migrations and holding the demo city:

* **HTTP.** ``wangge serve --dev`` runs in a subprocess: werkzeug's threaded development
  server (production serves with gunicorn: measuring it is issue 10's), one process, which answers every
  request with ``Connection: close`` (each batch opens a new TCP connection and the server a
  new thread; the bench counts the closes and prints them). Demo grid workers sign in and
  start a patrol each; every client thread posts its worker's track in batches of 100 points
  (``POST /api/m/v1/patrols/<id>/points``), points 10 ms apart walking inside the worker's
  grid, so every point must be accepted (checked). 1, 2 and 4 phones at once. The request
  bodies are encoded before the clock starts (a phone makes its own JSON, on its own CPU;
  here the clients share the two cores with the server and the database).
* **COPY.** The same number of rows (same columns, same days, other patrols) COPYed into
  ``patrol_points`` over one connection, in one transaction (``copy_bulk``, the ceiling), and
  as one COPY of 100 rows per transaction (``copy_per_100``: what a batch of 100 could cost
  at best, a commit each).
* **INSERT.** The service's own statement (``grid.patrol.service.INSERT_PG``: one ``unnest``
  INSERT .. ON CONFLICT DO NOTHING RETURNING of 100 rows per transaction) from one
  connection: the database's share of a batch without the web.

CPU time: utime + stime from ``/proc/<pid>/stat`` of the web process and of every
PostgreSQL backend of the scratch database (``pg_stat_activity``), read before and after
each HTTP run; per point = CPU seconds / points accepted in the run with the most phones.

Printed: points/s of each (median of the rounds), the ratios HTTP / COPY per 100-row
transaction (the goal's baseline, reported through ``bench.goals``: PASS at >= 25%) and HTTP / bulk COPY (printed too), the
best HTTP run being the one with the most points/s; and for 10,000 points/s (300,000
workers, a point every 30 s) how many web processes and database cores that takes, from the
CPU per point measured (a web process is one core at most: Python's GIL). Timings are
printed, never asserted; wrong answers fail the benchmark.

Run:  python -m bench.bench_patrol_ingest [--batches N] [--rounds N] [--keep-db]
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import secrets
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # `python bench/bench_patrol_ingest.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench import goals
from bench.bench_dispatch import setup_city
from bench.common import (
    BenchError,
    Client,
    Server,
    _sqlalchemy_url,
    backend_pids,
    cpu_seconds,
    create_database,
    drop_database,
    login,
    make_app,
)

NAME = "patrol_ingest"
RESULTS = Path(__file__).resolve().parent / "results" / f"{NAME}.json"
BATCH = 100
TARGET_RATIO = 0.25
PROVINCE_POINTS_PER_S = 10_000  # 300,000 workers, one point every 30 s
COLUMNS = ("patrol_id", "t", "lon", "lat", "accuracy", "speed")
PHONES = (1, 2, 4)


def track(start: datetime, lon: float, lat: float, n: int, offset: int = 0) -> list[dict]:
    """``n`` points 10 ms apart, 2 cm each (2 m/s), near (lon, lat)."""
    return [{"time": (start + timedelta(milliseconds=10 * (offset + i))).isoformat(),
             "lon": lon + 2e-7 * (offset + i), "lat": lat, "accuracy": 5.0, "speed": 1.2}
            for i in range(n)]


def post_raw(conn: http.client.HTTPConnection, path: str, data: bytes, headers: dict) -> tuple[int, dict, bool]:
    """POST an already encoded body (a phone encodes its own JSON, on its own CPU: the load
    generator shares this machine's two cores with the server and the database, so it does
    as little as it can while the clock runs). Returns status, answer, closed by the server."""
    conn.request("POST", path, body=data, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = {"_raw": raw[:200].decode(errors="replace")}
    return resp.status, answer, resp.will_close


def http_run(port: int, workers: list[dict], batches: int, start: datetime, offset: int) -> dict:
    errors: list = []
    accepted = [0] * len(workers)
    closes = [0] * len(workers)
    bodies = [[json.dumps({"points": track(start, w["lon"], w["lat"], BATCH, offset + b * BATCH)}).encode()
               for b in range(batches)] for w in workers]

    def work(k: int) -> None:
        w = workers[k]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Authorization": f"Bearer {w['token']}", "Content-Type": "application/json",
                   "Accept": "application/json"}
        path = f"/api/m/v1/patrols/{w['patrol']}/points"
        try:
            for data in bodies[k]:
                status, answer, closed = post_raw(conn, path, data, headers)
                closes[k] += closed
                if status != 200 or answer.get("accepted") != BATCH:
                    errors.append((status, answer))
                    return
                accepted[k] += answer["accepted"]
        finally:
            conn.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(workers))]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise BenchError(f"HTTP upload refused or filtered points: {errors[:3]}")
    return {"points": sum(accepted), "seconds": elapsed, "points_per_s": sum(accepted) / elapsed,
            "requests": len(workers) * batches, "closed_by_server": sum(closes)}


def copy_rows(conninfo: str, patrol_ids: list[int], n: int, start: datetime, per_transaction: int | None) -> dict:
    rows = []
    for k, pid in enumerate(patrol_ids):
        for i in range(n // len(patrol_ids)):
            rows.append((pid, start + timedelta(milliseconds=10 * i), 121.48 + 2e-7 * i, 31.22 + k * 1e-4,
                         5.0, 1.2))
    sql = f"COPY patrol_points ({', '.join(COLUMNS)}) FROM STDIN"
    with psycopg.connect(conninfo) as conn:
        began = time.perf_counter()
        chunk = per_transaction or len(rows)
        for lo in range(0, len(rows), chunk):
            with conn.cursor() as cur, cur.copy(sql) as copy:
                for row in rows[lo:lo + chunk]:
                    copy.write_row(row)
            conn.commit()
        elapsed = time.perf_counter() - began
    return {"points": len(rows), "seconds": elapsed, "points_per_s": len(rows) / elapsed}


def insert_rows(conninfo: str, patrol_ids: list[int], n: int, start: datetime) -> dict:
    """The service's statement (``INSERT_PG``), 100 rows per transaction, from one connection."""
    from grid.patrol.service import INSERT_PG

    sql = INSERT_PG.text.replace(":patrol_id", "%(patrol_id)s")
    for name in ("t", "lon", "lat", "accuracy", "speed", "flag"):
        sql = sql.replace(f"CAST(:{name} ", f"CAST(%({name})s ")
    per = n // len(patrol_ids)
    with psycopg.connect(conninfo) as conn:
        began = time.perf_counter()
        count = 0
        for k, pid in enumerate(patrol_ids):
            for lo in range(0, per - per % BATCH, BATCH):
                rng = range(lo, lo + BATCH)
                params = {"patrol_id": pid, "t": [start + timedelta(milliseconds=10 * i) for i in rng],
                          "lon": [121.48 + 2e-7 * i for i in rng], "lat": [31.22 + k * 1e-4] * BATCH,
                          "accuracy": [5.0] * BATCH, "speed": [1.2] * BATCH, "flag": [None] * BATCH}
                count += len(conn.execute(sql, params).fetchall())
                conn.commit()
        elapsed = time.perf_counter() - began
    return {"points": count, "seconds": elapsed, "points_per_s": count / elapsed}


def new_patrols(conninfo: str, staff_ids: list[int]) -> list[int]:
    with psycopg.connect(conninfo) as conn:
        ids = [conn.execute(
            "INSERT INTO patrols (staff_id, started_at, ended_at, distance_m, accepted, rejected_speed, "
            "rejected_accuracy, rejected_outside, rejected_duplicate, rejected_time) "
            "VALUES (%s, now(), now(), 0, 0, 0, 0, 0, 0, 0) RETURNING id", (sid,)).fetchone()[0] for sid in staff_ids]
        conn.commit()
    return ids


def median_of(rounds: list[dict], label: str, key: str = "points_per_s") -> float:
    return statistics.median(r[label][key] for r in rounds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench_patrol_ingest", description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=60, help="batches of 100 per phone and HTTP run")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument("--admin-url", default=os.environ.get("WANGGE_BENCH_PG_ADMIN_URL",
                                                          "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = ap.parse_args(argv)
    dbname = f"wangge_bench_patrol_{secrets.token_hex(3)}"
    try:
        create_database(args.admin_url, dbname)
    except psycopg.OperationalError as exc:
        print(f"no PostgreSQL at {args.admin_url}: {exc}", file=sys.stderr)
        return 1
    url = _sqlalchemy_url(args.admin_url, dbname)
    conninfo = url
    server = None
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        app = make_app(url)
        setup_city(app)
        from grid.models import Staff
        from grid.patrol import partitions, service
        from wangge.extensions import db

        n_workers = max(PHONES)
        with app.app_context():
            partitions.ensure_ahead(db.session, 2)
            db.session.commit()
            staff = [db.session.query(Staff).filter_by(username=f"wgy{i + 1:03d}").one() for i in range(n_workers)]
            spots = [service.my_grids(db.session, s.id)[0].geom.representative_point() for s in staff]
            staff_ids = [s.id for s in staff]
            db.session.remove()
        server = Server(url, Path(f"/tmp/{dbname}-serve.log"))
        workers = []
        for s_id, spot, i in zip(staff_ids, spots, range(n_workers), strict=True):
            token = login(server.port, f"wgy{i + 1:03d}", "wangge-demo")
            c = Client(server.port)
            status, body, _ = c.post("/api/m/v1/patrols", {}, {"Authorization": f"Bearer {token}"})
            c.close()
            if status != 201:
                raise BenchError(f"start patrol: {status} {body}")
            workers.append({"token": token, "patrol": body["id"], "lon": spot.x, "lat": spot.y, "staff": s_id})
        start = datetime.now(UTC) - timedelta(minutes=4)  # points in the patrol's window (5 min skew)
        warm = http_run(server.port, workers, 5, start, 0)  # warm up (index, caches, connections)

        pids = [server.proc.pid]
        expected = warm["points"]
        offset = 5 * BATCH
        rounds: list[dict] = []
        for _ in range(args.rounds):
            r: dict = {}
            for phones in PHONES:
                backends = backend_pids(conninfo, dbname)
                web0, db0 = cpu_seconds(pids), cpu_seconds(backends)
                run = http_run(server.port, workers[:phones], args.batches, start, offset)
                backends = sorted(set(backends) | set(backend_pids(conninfo, dbname)))
                run["web_cpu_s"], run["db_cpu_s"] = cpu_seconds(pids) - web0, cpu_seconds(backends) - db0
                r[f"http_{phones}"] = run
                offset += args.batches * BATCH
                expected += run["points"]
            total = r[f"http_{max(PHONES)}"]["points"]
            r["copy_bulk"] = copy_rows(conninfo, new_patrols(conninfo, staff_ids), total, start, None)
            r["copy_per_100"] = copy_rows(conninfo, new_patrols(conninfo, staff_ids), total, start, BATCH)
            r["insert_per_100"] = insert_rows(conninfo, new_patrols(conninfo, staff_ids), total, start)
            expected += 3 * total
            best = max(r[f"http_{p}"]["points_per_s"] for p in PHONES)
            r["best_http"] = best
            r["ratio_per_100"] = best / r["copy_per_100"]["points_per_s"]
            r["ratio_bulk"] = best / r["copy_bulk"]["points_per_s"]
            most = r[f"http_{max(PHONES)}"]
            r["web_cpu_ms_per_point"] = most["web_cpu_s"] / most["points"] * 1000
            r["db_cpu_ms_per_point"] = most["db_cpu_s"] / most["points"] * 1000
            rounds.append(r)
        with psycopg.connect(conninfo) as conn:
            stored = conn.execute("SELECT count(*) FROM patrol_points").fetchone()[0]
        if stored != expected:
            raise BenchError(f"{stored} rows in patrol_points, expected {expected}")

        labels = [f"http_{p}" for p in PHONES] + ["copy_bulk", "copy_per_100", "insert_per_100"]
        med = {label: median_of(rounds, label) for label in labels}
        ratio_per_100 = statistics.median(r["ratio_per_100"] for r in rounds)
        ratio_bulk = statistics.median(r["ratio_bulk"] for r in rounds)
        web_ms = statistics.median(r["web_cpu_ms_per_point"] for r in rounds)
        db_ms = statistics.median(r["db_cpu_ms_per_point"] for r in rounds)
        best_http = statistics.median(r["best_http"] for r in rounds)
        web_processes_cpu = PROVINCE_POINTS_PER_S * web_ms / 1000  # each process: one core at most (GIL)
        web_processes_rate = PROVINCE_POINTS_PER_S / best_http
        db_cores = PROVINCE_POINTS_PER_S * db_ms / 1000
        db_cores_insert = PROVINCE_POINTS_PER_S / med["insert_per_100"]
        verdict = "PASS" if ratio_per_100 >= TARGET_RATIO else "FAIL"
        closes = sum(r[f"http_{p}"]["closed_by_server"] for r in rounds for p in PHONES)
        requests = sum(r[f"http_{p}"]["requests"] for r in rounds for p in PHONES)
        results = {
            "batch": BATCH, "machine": platform.node(), "cpus": os.cpu_count(), "rounds": rounds,
            "server": "wangge serve (werkzeug threaded development server, 1 process, Connection: close)",
            "closed_by_server": closes, "requests": requests,
            "median_points_per_s": med, "best_http_points_per_s": best_http,
            "ratio_http_to_copy_per_100": ratio_per_100, "ratio_http_to_copy_bulk": ratio_bulk,
            "target_ratio": TARGET_RATIO, "target_baseline": "copy_per_100", "verdict": verdict,
            "web_cpu_ms_per_point": web_ms, "db_cpu_ms_per_point": db_ms,
            "province_points_per_s": PROVINCE_POINTS_PER_S,
            "web_processes_by_cpu": web_processes_cpu, "web_processes_by_throughput": web_processes_rate,
            "db_cores_by_backend_cpu": db_cores, "db_cores_by_insert_rate": db_cores_insert,
        }
        print(f"patrol ingest, batches of {BATCH} points, {args.batches * BATCH} points per phone and run, "
              f"{args.rounds} rounds, medians ({os.cpu_count()} CPUs shared by server, database and clients)")
        print("server: wangge serve = werkzeug's threaded development server (`wangge serve --dev`; production "
              f"serves with gunicorn): every answer closes the connection ({closes} of {requests} requests)")
        print(f"{'run':<24}{'median/s':>12}" + "".join(f"{f'round {k + 1}':>12}" for k in range(len(rounds))))
        for label in labels:
            print(f"{label:<24}{med[label]:>12,.0f}" + "".join(f"{r[label]['points_per_s']:>12,.0f}" for r in rounds))
        one = statistics.median(r["http_1"]["points_per_s"] / r["copy_per_100"]["points_per_s"] for r in rounds)
        results["ratio_http_1_phone_to_copy_per_100"] = one
        print(f"HTTP (best of {', '.join(map(str, PHONES))} phones, {best_http:,.0f}/s) / COPY of 100 rows per "
              f"transaction: {ratio_per_100:.1%}; / bulk COPY in one transaction: {ratio_bulk:.1%}; one phone "
              f"(serial, like the COPY loop) / COPY per 100: {one:.1%}")
        goals.report(NAME, "patrol points over HTTP vs COPY in 100-row transactions",
                     f"{best_http:,.0f} vs {med['copy_per_100']:,.0f} points/s (bulk COPY {ratio_bulk:.1%})",
                     passed=verdict == "PASS", ratio=ratio_per_100, target=f">= {TARGET_RATIO:.0%}")
        print(f"CPU per point (/proc/<pid>/stat utime+stime, {max(PHONES)} phones): web process {web_ms:.4f} ms, "
              f"database backends {db_ms:.4f} ms")
        print(f"{PROVINCE_POINTS_PER_S:,} points/s (300,000 workers, a point every 30 s): "
              f"{web_processes_cpu:.1f} web process-cores by CPU (a process is one core at most; "
              f"~{math.ceil(web_processes_cpu / 0.7)} processes at 70% busy; {web_processes_rate:.1f} processes "
              f"at this run's rate), {db_cores:.2f} database cores by backend CPU "
              f"({db_cores_insert:.2f} by the INSERT rate of one connection)")
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
        return 0
    except BenchError as exc:
        print(f"patrol ingest bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        if not args.keep_db:
            drop_database(args.admin_url, dbname)


if __name__ == "__main__":
    sys.exit(main())
