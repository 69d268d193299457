"""Scale beyond one process: report intake through 1, 2 and 4 gunicorn web processes, and
notification delivery drained by 1 and 2 rq workers, with the CPU each side used.

One scratch PostGIS database (``wangge_bench_scale_<random>``) migrated by the app, holding the
demo city (``bench.bench_dispatch.setup_city``) and the minimal baseline app's two tables
(``bench.minimal_app.setup``). Redis db 6 by default (``--redis-url``) with a queue name of
its own; only that queue's keys are deleted at the end.

* **Web.** For each N in 1, 2, 4: ``wangge serve --workers N`` (gunicorn, gthread, the default
  threads; ``WANGGE_REDIS_URL`` set and jobs not inline, as in production) and the minimal
  Flask + SQLAlchemy app under the same gunicorn settings (``Server.minimal``). A client of
  ``--client-processes`` processes holding ``--connections`` keep-alive connections in all
  (``bench.common.http_load``) POSTs reports for ``--seconds``: grid workers'
  ``POST /api/v1/cases`` with a fresh ``Idempotency-Key`` each, and the minimal app's
  ``POST /reports``. Wangge and the minimal app alternate, ``--repeat`` rounds each, medians.
  During each window the CPU of the gunicorn processes (arbiter + workers), of the
  database's backends (``pg_stat_activity`` pids), of the client processes (all from
  ``/proc/<pid>/stat``) and of the whole machine (``/proc/stat``) is read, and
  ``pg_stat_activity`` is sampled for backends waiting on a lock.
* **rq.** ``--jobs`` outbox rows written by the app's own ``notify.add_many`` (a dispatch
  notice to a department's handlers), relayed to rq by ``outbox.relay_pending`` while 1, then
  2 ``wangge worker`` processes (already started and registered) deliver them
  (``deliver_job``, the log channel); jobs/s from the relay's start until every row is
  delivered, and the workers' CPU including their forked work horses.

Every 201 must be a new case (or minimal row) in the database and every outbox row delivered
once; anything else fails the run. Goals (``bench.goals``): throughput at 2 web processes
>= 1.3x of 1 *or* the machine's cores saturated with no lock waits; the same for 2 rq workers.
A 2-core machine that also runs the database and the client cannot show more than that.

Run:  python -m bench.bench_scale [--seconds S] [--repeat N] [--connections N] [--jobs N]
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/bench_scale.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

from bench import goals, minimal_app
from bench.bench_dispatch import CITY, HTTP_CATEGORIES, server_facts, setup_city
from bench.common import (
    ROOT,
    BenchError,
    Server,
    _ms,
    _pct,
    _sqlalchemy_url,
    add_database_options,
    backend_pids,
    child_pids,
    cpu_by_pid,
    cpu_delta,
    cpu_seconds,
    create_database,
    dispose_app,
    drop_database,
    http_load,
    login,
    machine_cpu,
    make_app,
    write_json,
)

NAME = "scale"
RESULTS = Path(__file__).resolve().parent / "results" / f"{NAME}.json"
SEED = 20261127
WEB_PROCESSES = (1, 2, 4)
RQ_WORKERS = (1, 2)
GROWTH_TARGET = 1.3   # 2 processes (or workers) against 1
SATURATED = 0.90      # share of all cores busy that counts as "the CPU is the limit"...
OWN_WEB = 0.75        # ...when this bench's web processes, backends and client used this share of them
OWN_RQ = 0.60         # ...or its rq workers this share (their short-lived backends are not counted)
LOCKED = 0.10         # share of active backends waiting on a lock that counts as "a lock is the limit"
GRID_WORKERS = [f"wgy{i:03d}" for i in range(1, 13)]
CASES = "/api/v1/cases"


def intake_bodies(rng: np.random.Generator, n: int) -> list[bytes]:
    lons = rng.uniform(CITY[0], CITY[2], n)
    lats = rng.uniform(CITY[1], CITY[3], n)
    cats = rng.integers(0, len(HTTP_CATEGORIES), n)
    return [json.dumps({"description": "上水井盖破损，存在安全隐患", "category_code": HTTP_CATEGORIES[cats[i]],
                        "lon": round(float(lons[i]), 6), "lat": round(float(lats[i]), 6),
                        "address": "示范区巡查点"}).encode() for i in range(n)]


def minimal_bodies(rng: np.random.Generator, n: int) -> list[bytes]:
    lons = rng.uniform(CITY[0], CITY[2], n)
    lats = rng.uniform(CITY[1], CITY[3], n)
    return [json.dumps({"description": "上水井盖破损，存在安全隐患", "lon": round(float(lons[i]), 6),
                        "lat": round(float(lats[i]), 6)}).encode() for i in range(n)]


def count_rows(conninfo: str, table: str) -> int:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def web_cpu(master: int) -> float:
    """CPU of a gunicorn arbiter and its workers, including workers that were recycled
    (``max_requests``) and waited for: their CPU moved into the arbiter's children's time."""
    return cpu_seconds([master], children=True) + cpu_seconds(child_pids(master))


class Watch:
    """What one load window cost: CPU of the server's processes, the database's backends, the
    client and the machine, and how often active backends waited on a lock."""

    def __init__(self, server: Server, conninfo: str, dbname: str):
        self.server, self.conninfo, self.dbname = server, conninfo, dbname

    def __call__(self, start_at: float, stop_at: float, clients: list[int]) -> dict:
        master = self.server.proc.pid
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            while time.time() < start_at:
                time.sleep(0.005)
            backends = backend_pids(self.conninfo, self.dbname)
            w0, d0, c0, (m0, t0) = web_cpu(master), cpu_by_pid(backends), cpu_seconds(clients), machine_cpu()
            active = locked = samples = 0
            while time.time() < stop_at - 0.3:
                time.sleep(0.25)
                a, lk = conn.execute("SELECT count(*) FILTER (WHERE state = 'active'), "
                                     "count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock') "
                                     "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                                     (self.dbname,)).fetchone()
                active, locked, samples = active + a, locked + lk, samples + 1
            while time.time() < stop_at:
                time.sleep(0.005)
            w1, c1, (m1, t1) = web_cpu(master), cpu_seconds(clients), machine_cpu()
            web = child_pids(master)
            # backends opened during the window count whole (their start is in it)
            backends = sorted(set(backends) | set(backend_pids(self.conninfo, self.dbname)) - {conn.info.backend_pid})
            d1 = cpu_by_pid(backends)
        return {"web_cpu_s": w1 - w0, "db_cpu_s": cpu_delta(d0, d1), "client_cpu_s": c1 - c0, "machine_busy_s": m1 - m0,
                "machine_total_s": t1 - t0, "web_processes": len(web), "backends": len(backends),
                "active_samples": active, "locked_samples": locked, "samples": samples}


def web_run(server: Server, spec: dict, conninfo: str, dbname: str, args, table: str) -> dict:
    before = count_rows(conninfo, table)
    res = http_load(server.port, spec, seconds=args.seconds, processes=args.client_processes,
                    connections=args.connections, during=Watch(server, conninfo, dbname))
    created = res["status"].get(201, 0)
    after = count_rows(conninfo, table)
    if after - before != created:
        res["errors"].append(f"{created} answers 201 but {after - before} new rows in {table}")
    if created == 0:
        res["errors"].append(f"no 201 answer from {spec['path']}: {res['status']}")
    bad = {k: v for k, v in res["status"].items() if k != 201}
    if bad:
        res["errors"].append(f"answers other than 201: {bad}")
    w = res.pop("during")
    ok = max(res["ok"], 1)
    cores = w["machine_total_s"] / args.seconds if args.seconds else 0
    out = {"per_s": res["per_s"], "ok": res["ok"], "late": res["late"],
           "p50_ms": _ms(_pct(res["latency_s"], 50)), "p99_ms": _ms(_pct(res["latency_s"], 99)),
           "web_cpu_ms": w["web_cpu_s"] / ok * 1000, "db_cpu_ms": w["db_cpu_s"] / ok * 1000,
           "client_cpu_ms": w["client_cpu_s"] / ok * 1000,
           "web_cores": w["web_cpu_s"] / args.seconds, "db_cores": w["db_cpu_s"] / args.seconds,
           "client_cores": w["client_cpu_s"] / args.seconds,
           "machine_busy": w["machine_busy_s"] / w["machine_total_s"] if w["machine_total_s"] else float("nan"),
           "machine_cores": cores,
           "own_share": (w["web_cpu_s"] + w["db_cpu_s"] + w["client_cpu_s"]) / w["machine_total_s"]
           if w["machine_total_s"] else float("nan"),
           "lock_share": w["locked_samples"] / w["active_samples"] if w["active_samples"] else 0.0,
           "active_backends": w["active_samples"] / w["samples"] if w["samples"] else 0.0,
           "web_processes": w["web_processes"], "errors": res["errors"]}
    return out


def web_part(args, conninfo: str, db_url: str, dbname: str, redis_url: str, queue_name: str, tmp: Path) -> dict:
    rng = np.random.default_rng(SEED)
    wbodies = intake_bodies(rng, 4000)
    mbodies = minimal_bodies(rng, 4000)
    env = {"WANGGE_REDIS_URL": redis_url, "WANGGE_JOBS_INLINE": "0", "WANGGE_QUEUE_NAME": queue_name,
           "WANGGE_SWEEP_INTERVAL_SECONDS": "0"}
    tokens: list[str] = []
    runs: dict = {}
    for n in WEB_PROCESSES:
        wangge = minimal = None
        try:
            wangge = Server(db_url, tmp / f"wangge-{n}.log", workers=n, env=env)
            minimal = Server.minimal(db_url, tmp / f"minimal-{n}.log", workers=n)
            if not tokens:
                from grid.demo import DEMO_PASSWORD
                tokens = [login(wangge.port, u, DEMO_PASSWORD) for u in GRID_WORKERS]
            wspec = {"path": CASES, "bodies": wbodies, "tokens": tokens, "expect": 201}
            mspec = {"path": "/reports", "bodies": mbodies, "tokens": [minimal_app.TOKEN], "expect": 201}
            warm = argparse.Namespace(**{**vars(args), "seconds": args.warmup})
            # warm-up (not kept): every worker builds its app, grid index, caches and pool
            for srv, spec, table in ((wangge, {**wspec, "keys": f"warm-{n}-{secrets.token_hex(3)}"}, "cases"),
                                     (minimal, mspec, "minimal_reports")):
                res = web_run(srv, spec, conninfo, dbname, warm, table)
                if res["errors"]:
                    raise BenchError(f"warm-up, {n} process(es), {spec['path']}: {res['errors'][:3]}")
            for r in range(args.repeat):
                res = web_run(wangge, {**wspec, "keys": f"s{n}-{r}-{secrets.token_hex(3)}"}, conninfo, dbname,
                              args, "cases")
                runs.setdefault(f"wangge_{n}", []).append(res)
                res2 = web_run(minimal, mspec, conninfo, dbname, args, "minimal_reports")
                runs.setdefault(f"minimal_{n}", []).append(res2)
                if res["errors"] or res2["errors"]:
                    raise BenchError(f"{n} process(es): {(res['errors'] + res2['errors'])[:5]}")
        finally:
            for srv in (wangge, minimal):
                if srv is not None:
                    srv.stop()
    return runs


# ----------------------------------------------------------------------------- rq workers


def make_jobs(app, prefix: str, n: int) -> list[int]:
    """``n`` outbox rows as a dispatch writes them (``notify.add_many``): a notice to the
    handlers of one department, in one transaction."""
    from sqlalchemy import select

    from dispatch.notifications import notify
    from grid import roles as R
    from grid.models import Staff, StaffRole
    from wangge.extensions import db

    with app.app_context():
        dept = db.session.scalar(select(Staff.department_id).join(StaffRole)
                                 .where(StaffRole.role == R.DEPARTMENT_HANDLER).order_by(Staff.id).limit(1))
        recipients = notify.with_role(db.session, R.DEPARTMENT_HANDLER, dept)
        rows = [(f"{prefix}-{i}", "case_event",
                 {"template": "dispatch", "case": f"BENCH{i:06d}", "case_id": None,
                  "text_zh": f"【BENCH{i:06d}】案件已派遣，请签收", "text_en": f"[BENCH{i:06d}] dispatched: please sign",
                  "recipients": recipients}) for i in range(n)]
        ids = notify.add_many(db.session, rows)
        db.session.commit()
        db.session.remove()
    if len(ids) != n:
        raise BenchError(f"{len(ids)} outbox rows written for {n}")
    return ids


def rq_run(app, k: int, prefix: str, args, db_url: str, conninfo: str, redis_url: str, queue_name: str,
           tmp: Path) -> dict:
    from rq import Queue, Worker

    from dispatch.notifications.outbox import relay_pending
    from wangge.extensions import db
    from wangge.jobs import redis_connection

    ids = make_jobs(app, prefix, args.jobs)
    env = {k_: v for k_, v in os.environ.items() if not k_.startswith("WANGGE_")}
    env.update({"WANGGE_DATABASE_URL": db_url, "WANGGE_REDIS_URL": redis_url, "WANGGE_JOBS_INLINE": "0",
                "WANGGE_QUEUE_NAME": queue_name, "WANGGE_LOAD_DEMO": "0", "WANGGE_SWEEP_INTERVAL_SECONDS": "0",
                "WANGGE_INDEX_CHECK_SECONDS": "60",
                # the bench relays the rows itself, once, and times the draining from there: the
                # workers' own relay thread (production's) would enqueue them as they start
                "WANGGE_RELAY_INTERVAL_SECONDS": "0"})
    conn = redis_connection(redis_url)
    q = Queue(queue_name, connection=conn)
    procs, logs = [], []
    try:
        for w in range(k):
            log = open(tmp / f"worker-{prefix}-{w}.log", "wb")  # noqa: SIM115 - closed below
            logs.append(log)
            procs.append(subprocess.Popen([sys.executable, "-m", "wangge", "worker"], cwd=ROOT, env=env,
                                          stdout=log, stderr=subprocess.STDOUT))
        pids = {p.pid for p in procs}
        deadline = time.monotonic() + 90
        while len({w.pid for w in Worker.all(queue=q)} & pids) < k:
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                raise BenchError(f"{k} rq worker(s) did not start:\n"
                                 + (tmp / f"worker-{prefix}-0.log").read_text(errors="replace")[-2000:])
            time.sleep(0.1)
        time.sleep(0.5)  # idle in their dequeue loop
        c0, (m0, t0) = cpu_seconds(pids, children=True), machine_cpu()
        start = time.perf_counter()
        with app.app_context():
            counts = relay_pending(db.session, limit=args.jobs + 10)
            db.session.remove()
        relayed = time.perf_counter() - start
        if counts.get("enqueued") != args.jobs:
            raise BenchError(f"relay enqueued {counts} for {args.jobs} rows")
        with psycopg.connect(conninfo, autocommit=True) as pg:
            limit = time.monotonic() + 120 + 2 * args.jobs
            while True:
                done = pg.execute("SELECT count(*) FROM outbox WHERE id = ANY(%s) AND delivered_at IS NOT NULL",
                                  (ids,)).fetchone()[0]
                if done == len(ids):
                    break
                if time.monotonic() > limit or any(p.poll() is not None for p in procs):
                    raise BenchError(f"{done} of {len(ids)} outbox rows delivered by {k} worker(s)")
                time.sleep(0.02)
            elapsed = time.perf_counter() - start
            c1, (m1, t1) = cpu_seconds(pids, children=True), machine_cpu()
            receipts, notices = pg.execute(
                "SELECT (SELECT count(*) FROM deliveries WHERE outbox_id = ANY(%s)), "
                "(SELECT count(*) FROM personal_notices WHERE outbox_id = ANY(%s))", (ids, ids)).fetchone()
        if receipts != notices or receipts < len(ids):  # one log receipt per staff recipient, once
            raise BenchError(f"{receipts} delivery receipts for {notices} staff notices of {len(ids)} rows")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        for log in logs:
            log.close()
    return {"jobs": len(ids), "seconds": elapsed, "per_s": len(ids) / elapsed, "relay_s": relayed,
            "worker_cpu_ms": (c1 - c0) / len(ids) * 1000, "worker_cores": (c1 - c0) / elapsed,
            "machine_busy": (m1 - m0) / (t1 - t0) if t1 > t0 else float("nan"),
            "own_share": (c1 - c0) / (t1 - t0) if t1 > t0 else float("nan"), "receipts": receipts}


def rq_part(args, db_url: str, conninfo: str, redis_url: str, queue_name: str, tmp: Path) -> dict:
    from wangge import create_app
    from wangge.config import Settings

    app = create_app(Settings(database_url=db_url, redis_url=redis_url, jobs_inline=False, queue_name=queue_name,
                              load_demo=False, index_check_seconds=60, sweep_interval_seconds=0))
    runs: dict = {}
    try:
        for r in range(args.repeat):
            for k in RQ_WORKERS:
                runs.setdefault(f"rq_{k}", []).append(
                    rq_run(app, k, f"scale-{k}-{r}-{secrets.token_hex(3)}", args, db_url, conninfo, redis_url,
                           queue_name, tmp))
    finally:
        dispose_app(app)
    return runs


def clean_redis(redis_url: str, queue_name: str) -> int:
    """Delete this run's keys (its queue, jobs and registries) and nothing else."""
    from redis import Redis

    conn = Redis.from_url(redis_url)
    keys = list(conn.scan_iter(match=f"*{queue_name}*", count=1000))
    for i in range(0, len(keys), 500):
        conn.delete(*keys[i:i + 500])
    return len(keys)


# ----------------------------------------------------------------------------- report


def med(runs: list[dict], key: str) -> float:
    values = [r[key] for r in runs if r.get(key) == r.get(key)]
    return statistics.median(values) if values else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench.bench_scale", description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each measured load window")
    ap.add_argument("--warmup", type=float, default=1.5, help="seconds of load before measuring, per server")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    ap.add_argument("--connections", type=int, default=16, help="keep-alive client connections in all")
    ap.add_argument("--client-processes", type=int, default=2, help="client processes sharing the connections")
    ap.add_argument("--jobs", type=int, default=40, help="outbox rows drained per rq run")
    ap.add_argument("--redis-url", default=os.environ.get("WANGGE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
                    help="Redis for the queue (only this run's keys are deleted at the end)")
    ap.add_argument("--skip-web", action="store_true")
    ap.add_argument("--skip-rq", action="store_true")
    add_database_options(ap, RESULTS)
    args = ap.parse_args(argv)
    if args.seconds <= 0 or args.warmup <= 0 or min(args.repeat, args.connections, args.client_processes,
                                                     args.jobs) < 1:
        ap.error("durations and counts must be positive")

    tag = secrets.token_hex(4)
    dbname = f"wangge_bench_scale_{tag}"
    queue_name = f"wangge-bench-scale-{tag}"
    conninfo = make_conninfo(args.pg_admin_url, dbname=dbname)
    db_url = _sqlalchemy_url(args.pg_admin_url, dbname)
    tmp = Path(tempfile.mkdtemp(prefix="wangge-bench-scale-"))
    web: dict = {}
    rq: dict = {}
    facts: dict = {}
    errors: list[str] = []
    app = None
    create_database(args.pg_admin_url, dbname)
    try:
        app = make_app(db_url)
        setup_city(app)
        dispose_app(app)
        app = None
        minimal_app.setup(conninfo)
        facts = server_facts(conninfo)
        if not args.skip_web:
            web = web_part(args, conninfo, db_url, dbname, args.redis_url, queue_name, tmp)
        if not args.skip_rq:
            rq = rq_part(args, db_url, conninfo, args.redis_url, queue_name, tmp)
    except BenchError as exc:
        errors.append(str(exc))
    finally:
        if app is not None:
            dispose_app(app)
        try:
            clean_redis(args.redis_url, queue_name)
        except Exception as exc:  # noqa: BLE001 - Redis away: nothing of ours to clean
            print(f"(could not clean Redis keys of {queue_name}: {exc})")
        if not args.keep_db:
            drop_database(args.pg_admin_url, dbname)
        if not errors:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs kept in {tmp}")

    p = print
    p(f"PostgreSQL {facts.get('postgresql', '?')}, {os.cpu_count()} CPUs shared by servers, database, client "
      f"and whatever else runs; {args.repeat} round(s) of {args.seconds:g} s, medians; client: "
      f"{args.client_processes} processes, {args.connections} keep-alive connections")
    summary: dict = {"web": {}, "rq": {}}
    if web:
        p(f"{'server':<24}{'req/s':>9}{'xN=1':>7}{'p50 ms':>8}{'p99 ms':>8}{'web ms':>8}{'db ms':>7}"
          f"{'cli ms':>8}{'web cores':>10}{'db cores':>9}{'busy':>6}{'own':>5}{'locks':>7}")
        for kind in ("wangge", "minimal"):
            base = med(web.get(f"{kind}_1", []), "per_s")
            for n in WEB_PROCESSES:
                runs = web.get(f"{kind}_{n}", [])
                if not runs:
                    continue
                row = {key: med(runs, key) for key in ("per_s", "p50_ms", "p99_ms", "web_cpu_ms", "db_cpu_ms",
                                                        "client_cpu_ms", "web_cores", "db_cores", "client_cores",
                                                        "machine_busy", "own_share", "lock_share",
                                                        "active_backends")}
                row["growth"] = row["per_s"] / base if base else float("nan")
                row["rounds"] = [r["per_s"] for r in runs]
                summary["web"][f"{kind}_{n}"] = row
                label = f"{'Wangge' if kind == 'wangge' else 'minimal app'}, {n} process{'es' if n > 1 else ''}"
                p(f"{label:<24}{row['per_s']:>9.1f}{row['growth']:>7.2f}{row['p50_ms']:>8.1f}{row['p99_ms']:>8.1f}"
                  f"{row['web_cpu_ms']:>8.2f}{row['db_cpu_ms']:>7.2f}{row['client_cpu_ms']:>8.2f}"
                  f"{row['web_cores']:>10.2f}{row['db_cores']:>9.2f}{row['machine_busy']:>6.0%}{row['own_share']:>5.0%}"
                  f"{row['lock_share']:>7.0%}")
        p("web/db/cli ms: CPU per good answer of the gunicorn processes, the database backends and the client; "
          "cores: CPU seconds per second; busy: all cores of the machine, own: the share of all cores this bench's "
          "processes used (the rest: other work on the machine); locks: active backends waiting on a lock")
        for n in WEB_PROCESSES:
            w, m = summary["web"].get(f"wangge_{n}"), summary["web"].get(f"minimal_{n}")
            if w and m:
                p(f"  {n} process(es): Wangge {w['per_s'] / m['per_s']:.1%} of the minimal app's rate; server CPU "
                  f"per report (web + db) {w['web_cpu_ms'] + w['db_cpu_ms']:.2f} ms vs "
                  f"{m['web_cpu_ms'] + m['db_cpu_ms']:.2f} ms ({(w['web_cpu_ms'] + w['db_cpu_ms']) / (m['web_cpu_ms'] + m['db_cpu_ms']):.1f}x)")
    if rq:
        p(f"{'rq workers':<24}{'jobs/s':>9}{'xk=1':>7}{'cpu ms/job':>11}{'cores':>7}{'busy':>6}{'own':>5}")
        base = med(rq.get("rq_1", []), "per_s")
        for k in RQ_WORKERS:
            runs = rq.get(f"rq_{k}", [])
            if not runs:
                continue
            row = {key: med(runs, key) for key in ("per_s", "worker_cpu_ms", "worker_cores", "machine_busy",
                                                    "own_share", "relay_s")}
            row["growth"] = row["per_s"] / base if base else float("nan")
            row["rounds"] = [r["per_s"] for r in runs]
            summary["rq"][f"rq_{k}"] = row
            p(f"{f'{k} wangge worker':<24}{row['per_s']:>9.1f}{row['growth']:>7.2f}{row['worker_cpu_ms']:>11.2f}"
              f"{row['worker_cores']:>7.2f}{row['machine_busy']:>6.0%}{row['own_share']:>5.0%}")
        p(f"rq: {args.jobs} notification deliveries (outbox -> rq -> log channel) per run, from the relay's start "
          "until all are delivered; cpu ms/job: the worker processes and their forked work horses")
    for e in errors[:10]:
        p(f"ERROR: {e}")

    if not errors:
        report_goals(summary)
    write_json(args.output, {"name": NAME, "args": {k: str(v) for k, v in vars(args).items()}, "facts": facts,
                             "cpus": os.cpu_count(), "web_runs": web, "rq_runs": rq, "summary": summary,
                             "errors": errors})
    return 1 if errors else 0


def report_goals(summary: dict) -> None:
    w1, w2, w4 = (summary["web"].get(f"wangge_{n}") for n in WEB_PROCESSES)
    if w1 and w2:
        growth = w2["per_s"] / w1["per_s"]
        saturated = w2["machine_busy"] >= SATURATED and w2["own_share"] >= OWN_WEB and w2["lock_share"] < LOCKED
        why = ("grows" if growth >= GROWTH_TARGET else
               "CPU-bound: the cores are full" if saturated else
               "lock-bound" if w2["lock_share"] >= LOCKED else
               "other work held the cores" if w2["machine_busy"] >= SATURATED else
               "neither grows nor fills the cores")
        four = f", 4: {w4['per_s']:.0f}" if w4 else ""
        goals.report(NAME, "intake throughput grows with web processes",
                     f"1: {w1['per_s']:.0f}, 2: {w2['per_s']:.0f}{four} req/s; at 2: cores {w2['machine_busy']:.0%} "
                     f"busy, {w2['own_share']:.0%} by this bench, lock waits {w2['lock_share']:.0%} ({why})",
                     passed=growth >= GROWTH_TARGET or saturated, ratio=growth,
                     target=f">= {GROWTH_TARGET}x at 2, or cores >= {SATURATED:.0%} busy ({OWN_WEB:.0%} by the "
                            "bench) without lock waits")
    r1, r2 = summary["rq"].get("rq_1"), summary["rq"].get("rq_2")
    if r1 and r2:
        growth = r2["per_s"] / r1["per_s"]
        saturated = r2["machine_busy"] >= SATURATED and r2["own_share"] >= OWN_RQ
        goals.report(NAME, "background jobs drain faster with rq workers",
                     f"1: {r1['per_s']:.1f}, 2: {r2['per_s']:.1f} jobs/s; at 2: cores {r2['machine_busy']:.0%} busy, "
                     f"{r2['own_share']:.0%} by the workers",
                     passed=growth >= GROWTH_TARGET or saturated, ratio=growth,
                     target=f">= {GROWTH_TARGET}x at 2, or cores >= {SATURATED:.0%} busy ({OWN_RQ:.0%} by the "
                            "workers)")

if __name__ == "__main__":
    sys.exit(main())
