"""Patrol track ingest: GPS points accepted through HTTP in batches of 100 against PostgreSQL
``COPY`` of the same rows into the same partitioned table, in one run.

On a scratch PostGIS database migrated with the app's migrations and holding the demo city:

* **HTTP.** ``wangge serve`` (werkzeug, threaded, one process) runs in a subprocess. Demo grid
  workers sign in and start a patrol each; every client thread posts its worker's track in
  batches of 100 points (``POST /api/m/v1/patrols/<id>/points``), points 10 ms apart walking
  inside the worker's grid, so every point must be accepted (checked). Once with 1 client,
  once with ``--clients`` concurrent clients. CPU seconds of the web process and of the
  PostgreSQL backends are read from /proc around each run.
* **COPY.** The same number of rows (same columns, same days, other patrols) COPYed into
  ``patrol_points`` over one connection, in one transaction (the ceiling), and as one COPY
  of 100 rows per transaction (what a batch could cost at best).
* **INSERT.** The service's own statement (one multi-row ``INSERT .. ON CONFLICT DO
  NOTHING RETURNING`` of 100 rows per transaction) from one connection: the database's share
  of a batch, used to size the database.

Printed: points/s of each, the ratio HTTP / COPY (target >= 25%), and for 10,000 points/s
(300,000 workers, a point every 30 s) how many such web processes and database cores it
takes. Timings are printed, never asserted; wrong answers fail the benchmark.

Run:  python -m bench.bench_patrol_ingest [--batches N] [--clients N] [--keep-db]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # `python bench/bench_patrol_ingest.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.bench_dispatch import (
    BenchError,
    Client,
    Server,
    _sqlalchemy_url,
    login,
    make_app,
    setup_city,
)
from bench.bench_locate import create_database, drop_database

NAME = "patrol_ingest"
RESULTS = Path(__file__).resolve().parent / "results" / f"{NAME}.json"
BATCH = 100
TARGET_RATIO = 0.25
PROVINCE_POINTS_PER_S = 10_000  # 300,000 workers, one point every 30 s
TICK = os.sysconf("SC_CLK_TCK")
COLUMNS = ("patrol_id", "t", "lon", "lat", "accuracy", "speed")


def cpu_seconds(pids) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def backend_pids(conninfo: str, dbname: str) -> list[int]:
    with psycopg.connect(conninfo) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s "
                                           "AND pid <> pg_backend_pid()", (dbname,))]


def track(start: datetime, lon: float, lat: float, n: int, offset: int = 0) -> list[dict]:
    """``n`` points 10 ms apart, 2 cm each (2 m/s), near (lon, lat)."""
    return [{"time": (start + timedelta(milliseconds=10 * (offset + i))).isoformat(),
             "lon": lon + 2e-7 * (offset + i), "lat": lat, "accuracy": 5.0, "speed": 1.2}
            for i in range(n)]


def http_run(port: int, workers: list[dict], batches: int, start: datetime, offset: int) -> dict:
    errors: list = []
    accepted = [0] * len(workers)

    def work(k: int) -> None:
        w = workers[k]
        client = Client(port)
        headers = {"Authorization": f"Bearer {w['token']}"}
        try:
            for b in range(batches):
                points = track(start, w["lon"], w["lat"], BATCH, offset + b * BATCH)
                status, body, _ = client.post(f"/api/m/v1/patrols/{w['patrol']}/points", {"points": points}, headers)
                if status != 200 or body.get("accepted") != BATCH:
                    errors.append((status, body))
                    return
                accepted[k] += body["accepted"]
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(workers))]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise BenchError(f"HTTP upload refused or filtered points: {errors[:3]}")
    return {"points": sum(accepted), "seconds": elapsed, "points_per_s": sum(accepted) / elapsed}


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
    """The service's statement, 100 rows per transaction, from one connection."""
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, NULL)"] * BATCH)
    sql = (f"INSERT INTO patrol_points ({', '.join(COLUMNS)}, flag) VALUES {values} "
           "ON CONFLICT (patrol_id, t) DO NOTHING RETURNING t, flag")
    per = n // len(patrol_ids)
    with psycopg.connect(conninfo) as conn:
        began = time.perf_counter()
        count = 0
        for k, pid in enumerate(patrol_ids):
            for lo in range(0, per - per % BATCH, BATCH):
                params = []
                for i in range(lo, lo + BATCH):
                    params += [pid, start + timedelta(milliseconds=10 * i), 121.48 + 2e-7 * i,
                               31.22 + k * 1e-4, 5.0, 1.2]
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench_patrol_ingest", description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=60, help="batches of 100 per client and run")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients of the second HTTP run")
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

        n_workers = max(args.clients, 1)
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
        http_run(server.port, workers[:1], 5, start, 0)  # warm up (index, caches, connections)

        pids = [server.proc.pid]
        results: dict = {"batch": BATCH, "machine": platform.node(), "cpus": os.cpu_count()}
        offset = 5 * BATCH
        for label, clients in (("http_1_client", 1), (f"http_{n_workers}_clients", n_workers)):
            backends = backend_pids(conninfo, dbname)
            web0, db0 = cpu_seconds(pids), cpu_seconds(backends)
            run = http_run(server.port, workers[:clients], args.batches, start, offset)
            backends = sorted(set(backends) | set(backend_pids(conninfo, dbname)))
            run["web_cpu_s"], run["db_cpu_s"] = cpu_seconds(pids) - web0, cpu_seconds(backends) - db0
            results[label] = run
            offset += args.batches * BATCH
        http = results[f"http_{n_workers}_clients"]
        best_http = max(results["http_1_client"]["points_per_s"], http["points_per_s"])
        total = http["points"]

        copy_start = start + timedelta(days=0)
        results["copy_bulk"] = copy_rows(conninfo, new_patrols(conninfo, staff_ids), total, copy_start, None)
        results["copy_per_100"] = copy_rows(conninfo, new_patrols(conninfo, staff_ids), total, copy_start, BATCH)
        results["insert_per_100"] = insert_rows(conninfo, new_patrols(conninfo, staff_ids), total, copy_start)
        with psycopg.connect(conninfo) as conn:
            stored = conn.execute("SELECT count(*) FROM patrol_points").fetchone()[0]
        expected = 5 * BATCH + results["http_1_client"]["points"] + total + 3 * total
        if stored != expected:
            raise BenchError(f"{stored} rows in patrol_points, expected {expected}")

        ratio = best_http / results["copy_bulk"]["points_per_s"]
        web_cpu_per_point = http["web_cpu_s"] / http["points"]
        db_cpu_per_point = http["db_cpu_s"] / http["points"]
        web_processes = PROVINCE_POINTS_PER_S / best_http
        web_processes_cpu = PROVINCE_POINTS_PER_S * web_cpu_per_point
        db_cores = PROVINCE_POINTS_PER_S * db_cpu_per_point
        db_cores_insert = PROVINCE_POINTS_PER_S / results["insert_per_100"]["points_per_s"]
        results.update({
            "ratio_http_to_copy": ratio, "target_ratio": TARGET_RATIO,
            "ratio_http_to_copy_per_100": best_http / results["copy_per_100"]["points_per_s"],
            "web_cpu_ms_per_point": web_cpu_per_point * 1000, "db_cpu_ms_per_point": db_cpu_per_point * 1000,
            "province_points_per_s": PROVINCE_POINTS_PER_S,
            "web_processes_by_throughput": web_processes, "web_processes_by_cpu": web_processes_cpu,
            "db_cores_by_backend_cpu": db_cores, "db_cores_by_insert_rate": db_cores_insert,
        })
        print(f"patrol ingest, batches of {BATCH} points, {total} points per run ({os.cpu_count()} CPUs)")
        print(f"{'run':<24}{'points/s':>12}{'seconds':>10}")
        for label in ("http_1_client", f"http_{n_workers}_clients", "copy_bulk", "copy_per_100", "insert_per_100"):
            r = results[label]
            print(f"{label:<24}{r['points_per_s']:>12,.0f}{r['seconds']:>10.2f}")
        flag = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
        print(f"HTTP / COPY (bulk): {ratio:.1%} (target >= {TARGET_RATIO:.0%}: {flag}); "
              f"HTTP / COPY (100 rows per transaction): {results['ratio_http_to_copy_per_100']:.1%}")
        print(f"CPU per point: web {web_cpu_per_point * 1000:.3f} ms, database {db_cpu_per_point * 1000:.3f} ms")
        print(f"{PROVINCE_POINTS_PER_S:,} points/s (300,000 workers, a point every 30 s): "
              f"~{web_processes:.0f} web processes like this one ({web_processes_cpu:.0f} by CPU), "
              f"~{db_cores:.1f} database cores by backend CPU ({db_cores_insert:.1f} by the INSERT rate)")
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
