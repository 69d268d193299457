"""Report intake (issue 10): ``POST /api/v1/cases`` and the phone's ``POST /api/m/v1/reports``
against the minimal Flask + SQLAlchemy app and pgbench's single-row INSERT, in one run.

A scratch PostGIS database (``wangge_bench_<--db-tag>_*``) holding the demo city
(``bench.bench_dispatch.setup_city``) and the minimal app's tables (``bench.minimal_app``).
Each round (median of ``--rounds``):

* **pgbench**: single-row INSERT + COMMIT, ``--clients`` clients (``bench.common.run_pgbench``).
* **Throughput**: ``--reports`` reports from ``--clients`` keep-alive clients as fast as they
  go, to ``wangge serve --workers 1`` (gunicorn) and to ``Server.minimal`` (same settings;
  half its reports before Wangge's runs and half after, so a drift of the machine's speed
  within the round weighs on both).
* **CPU per report**: utime + stime (``/proc/<pid>/stat``) of the server's processes (the
  gunicorn master and its workers) over the throughput run, divided by the reports.
* **p99 at half load**: paced clients sending at half the goal rate (10% of pgbench / 2),
  each request at its scheduled time; latency of each.
* **p99 at half of what it sustained** (shown, not the issue's goal): paced at half of the
  round's own intake throughput; the issue's half-load rate is above what one process on 2
  cores can serve, so its p99 is queueing, this one is the latency a report sees under load.
* **Phone report**: the same for ``POST /api/m/v1/reports`` (CPU per report vs minimal).

Round trips per report are counted in-process: a Flask test client of the app on the same
database, a SQLAlchemy listener counting each statement plus each BEGIN and COMMIT (psycopg
sends BEGIN as a command of its own); the pool has no pre-ping. Every answer is checked
(201 and a number); at the end every number answered is in the database once.

Run:  python -m bench.bench_intake [--reports N] [--clients N] [--rounds N] [--keep-db]
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/bench_intake.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

from bench import goals, minimal_app
from bench.bench_dispatch import CITY, HTTP_CATEGORIES, setup_city
from bench.common import (
    INSERT_TABLE,
    PGBENCH_SCRIPT,
    TICK,
    BenchError,
    Client,
    Server,
    _median,
    _ms,
    _pct,
    _sqlalchemy_url,
    add_database_options,
    cpu_seconds,
    create_database,
    dispose_app,
    drop_database,
    login,
    make_app,
    run_pgbench,
    run_threads,
    write_json,
)

NAME = "intake"
RESULTS = Path(__file__).resolve().parent / "results" / f"{NAME}.json"
WORKERS = [f"wgy{i:03d}" for i in range(1, 13)]
CASES, PHONE, MINIMAL = "/api/v1/cases", "/api/m/v1/reports", "/reports"
SEED = 20261210


def server_pids(pid: int) -> list[int]:
    """The process and its descendants (gunicorn master and workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return out


def server_cpu(pid: int) -> tuple[float, frozenset[int]]:
    """CPU seconds of the server so far: its live processes' own time plus what the master
    collected from workers that exited (gunicorn replaces a worker after ``max_requests``:
    the replaced one's time moves to the master's cutime/cstime, the new one starts at 0)."""
    pids = server_pids(pid)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        reaped = (int(fields[13]) + int(fields[14])) / TICK  # cutime, cstime
    except (OSError, IndexError, ValueError):
        reaped = 0.0
    return cpu_seconds(pids) + reaped, frozenset(pids)


def bodies(rng, n: int) -> list[dict]:
    lons, lats = rng.uniform(CITY[0], CITY[2], n), rng.uniform(CITY[1], CITY[3], n)
    cats = rng.integers(0, len(HTTP_CATEGORIES), n)
    return [{"description": "人行道地砖破损，行人易绊倒", "category_code": HTTP_CATEGORIES[cats[i]],
             "lon": round(float(lons[i]), 6), "lat": round(float(lats[i]), 6), "address": "示范区巡查点"}
            for i in range(n)]


def run(server: Server, path: str, tokens: list[str], specs: list[dict], clients: int,
        rate: float | None = None) -> dict:
    """``specs`` from ``clients`` keep-alive clients; ``rate`` (per second, all clients): paced."""
    chunks = [specs[i::clients] for i in range(clients)]
    lat: list[list[float]] = [[] for _ in range(clients)]
    numbers: list[list[str]] = [[] for _ in range(clients)]
    errors: list[str] = []
    conns = [Client(server.port) for _ in range(clients)]
    start_at = [0.0]

    def work(i):
        start = time.perf_counter()
        for n, spec in enumerate(chunks[i]):
            if rate:
                due = start + (n * clients + i) / rate
                if (wait := due - time.perf_counter()) > 0:
                    time.sleep(wait)
                status, j, _ = conns[i].post(path, spec, {"Authorization": f"Bearer {tokens[(n + i) % len(tokens)]}",
                                                          "Idempotency-Key": f"bi-{secrets.token_hex(8)}"})
                # from the moment it was due, not when a late client got to send it: a server
                # slower than the pace must show as latency (no coordinated omission)
                lat[i].append(time.perf_counter() - due)
            else:
                status, j, dt = conns[i].post(path, spec, {"Authorization": f"Bearer {tokens[(n + i) % len(tokens)]}",
                                                           "Idempotency-Key": f"bi-{secrets.token_hex(8)}"})
                lat[i].append(dt)
            if status != 201 or (path != MINIMAL and not j.get("number")):
                errors.append(f"{path}: HTTP {status} {str(j)[:200]}")
                return
            numbers[i].append(j.get("number") or j.get("id"))

    cpu0, pids0 = server_cpu(server.proc.pid)
    start_at[0] = time.perf_counter()
    elapsed = run_threads(clients, work)
    cpu1, pids1 = server_cpu(server.proc.pid)
    cpu = cpu1 - cpu0
    for c in conns:
        c.close()
    done = sum(len(n) for n in numbers)
    return {"per_s": done / elapsed if elapsed else 0.0, "cpu_ms": _ms(cpu / done) if done else float("nan"),
            "latency": [x for part in lat for x in part], "errors": errors, "restarts": len(pids1 - pids0),
            "numbers": [x for part in numbers for x in part if path != MINIMAL],
            "done": done, "elapsed": elapsed, "cpu_s": cpu}


def merged(*parts: dict) -> dict:
    """Several unpaced ``run`` results of one server as one run: rate and CPU per report over
    all of them."""
    done, elapsed, cpu = (sum(part[k] for part in parts) for k in ("done", "elapsed", "cpu_s"))
    return {"per_s": done / elapsed if elapsed else 0.0, "cpu_ms": _ms(cpu / done) if done else float("nan"),
            "latency": [x for part in parts for x in part["latency"]], "errors": [e for p in parts for e in p["errors"]],
            "restarts": sum(part["restarts"] for part in parts), "numbers": [x for p in parts for x in p["numbers"]],
            "done": done, "elapsed": elapsed, "cpu_s": cpu}


def round_trips(db_url: str, specs: list[dict]) -> dict:
    """Statements + BEGIN + COMMIT per report, counted in-process on the same database."""
    from sqlalchemy import event

    from grid.demo import DEMO_PASSWORD
    from wangge.extensions import db

    app = make_app(db_url)
    counts: dict[str, list[int]] = {}
    try:
        with app.app_context():
            engine = db.engine
        trips = [0]

        def bump(*_a, **_k):
            trips[0] += 1

        client = app.test_client()
        token = client.post("/api/v1/auth/login", json={"username": WORKERS[0], "password": DEMO_PASSWORD}).json["token"]
        for path in (CASES, PHONE):
            client.post(path, json=specs[0], headers={"Authorization": f"Bearer {token}",
                                                      "Idempotency-Key": f"rt-warm-{secrets.token_hex(6)}"})
            for name in ("before_cursor_execute", "begin", "commit", "rollback"):
                event.listen(engine, name, bump)
            for spec in specs[1:]:
                trips[0] = 0
                r = client.post(path, json=spec, headers={"Authorization": f"Bearer {token}",
                                                          "Idempotency-Key": f"rt-{secrets.token_hex(6)}"})
                if r.status_code != 201:
                    raise BenchError(f"round trips {path}: HTTP {r.status_code} {r.json}")
                counts.setdefault(path, []).append(trips[0])
            for name in ("before_cursor_execute", "begin", "commit", "rollback"):
                event.remove(engine, name, bump)
    finally:
        dispose_app(app)
    return {path: max(v) for path, v in counts.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench.bench_intake", description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=600, help="reports per throughput run")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--paced-seconds", type=float, default=5.0, help="length of the half-load run")
    ap.add_argument("--pgbench-seconds", type=int, default=5)
    ap.add_argument("--db-tag", default="intake", help="scratch database name: wangge_bench_<tag>_<random>")
    add_database_options(ap, RESULTS)
    args = ap.parse_args(argv)
    if min(args.reports, args.clients, args.rounds, args.pgbench_seconds) < 1:
        ap.error("all counts must be positive")
    rng = np.random.default_rng(SEED)
    dbname = f"wangge_bench_{args.db_tag}_{secrets.token_hex(3)}"
    conninfo = make_conninfo(args.pg_admin_url, dbname=dbname)
    db_url = _sqlalchemy_url(args.pg_admin_url, dbname)
    pgbench = shutil.which("pgbench")
    if not pgbench:
        print("pgbench not found", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="wangge-bench-intake-"))
    runs: dict[str, list] = {k: [] for k in ("pgbench", "intake_rps", "intake_cpu", "minimal_rps", "minimal_cpu",
                                             "phone_rps", "phone_cpu", "p99_ms", "paced_rate",
                                             "minimal_restarts", "intake_restarts", "phone_restarts")}
    errors: list[str] = []
    numbers: list[str] = []
    trips: dict = {}
    servers: list[Server] = []
    create_database(args.pg_admin_url, dbname)
    try:
        app = make_app(db_url)
        setup_city(app)
        dispose_app(app)
        minimal_app.setup(conninfo)
        with psycopg.connect(conninfo) as conn:
            conn.execute(INSERT_TABLE)
        script = tmp / "insert.sql"
        script.write_text(PGBENCH_SCRIPT)
        trips = round_trips(db_url, bodies(rng, 21))
        server = Server(db_url, tmp / "server.log", workers=1)
        servers.append(server)
        minimal = Server.minimal(db_url, tmp / "minimal.log")
        servers.append(minimal)
        from grid.demo import DEMO_PASSWORD
        tokens = [login(server.port, u, DEMO_PASSWORD) for u in WORKERS]
        for path in (CASES, PHONE):  # warm: caches, grid index, prepared statements
            errors += run(server, path, tokens, bodies(rng, 20), 2)["errors"]
        errors += run(minimal, MINIMAL, [minimal_app.TOKEN], bodies(rng, 20), 2)["errors"]
        for _ in range(args.rounds):
            if errors:
                break
            runs["pgbench"].append(run_pgbench(pgbench, args.pg_admin_url, dbname, script, args.clients,
                                               args.pgbench_seconds)["tps"])
            # the minimal app's baseline brackets the two measured runs (half before, half after):
            # the machine's speed drifts within a round (bench_dispatch, same reason)
            first_half = run(minimal, MINIMAL, [minimal_app.TOKEN], bodies(rng, args.reports - args.reports // 2),
                             args.clients)
            measured = {key: run(server, path, tokens, bodies(rng, args.reports), args.clients)
                        for key, path in (("intake", CASES), ("phone", PHONE))}
            measured["minimal"] = merged(first_half, run(minimal, MINIMAL, [minimal_app.TOKEN],
                                                         bodies(rng, args.reports // 2), args.clients))
            for key, res in measured.items():
                runs[f"{key}_rps"].append(res["per_s"])
                runs[f"{key}_cpu"].append(res["cpu_ms"])
                runs[f"{key}_restarts"].append(res["restarts"])
                errors += res["errors"]
                numbers += res["numbers"]
            rate = 0.10 * runs["pgbench"][-1] / 2
            n = max(args.clients, int(rate * args.paced_seconds))
            res = run(server, CASES, tokens, bodies(rng, n), args.clients, rate=rate)
            runs["p99_ms"].append(_ms(_pct(res["latency"], 99)))
            runs["paced_rate"].append(rate)
            runs.setdefault("paced_achieved", []).append(res["per_s"])
            errors += res["errors"]
            numbers += res["numbers"]
            # shown beside it: the latency at half of what this server sustained in the round
            own = runs["intake_rps"][-1] / 2
            res = run(server, CASES, tokens, bodies(rng, max(args.clients, int(own * args.paced_seconds))),
                      args.clients, rate=own)
            runs.setdefault("p99_own_ms", []).append(_ms(_pct(res["latency"], 99)))
            runs.setdefault("p50_own_ms", []).append(_ms(_pct(res["latency"], 50)))
            runs.setdefault("own_rate", []).append(own)
            errors += res["errors"]
            numbers += res["numbers"]
        for srv in servers:
            srv.stop()
        servers = []
        with psycopg.connect(conninfo) as conn:
            found = conn.execute("SELECT count(*), count(DISTINCT number) FROM cases WHERE number = ANY(%s)",
                                 (numbers,)).fetchone()
        if found != (len(numbers), len(set(numbers))) or len(set(numbers)) != len(numbers):
            errors.append(f"database: {found} cases for {len(numbers)} answers")
    except BenchError as exc:
        errors.append(str(exc))
    finally:
        for srv in servers:
            srv.stop()
        if not args.keep_db:
            drop_database(args.pg_admin_url, dbname)
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: _median(v) for k, v in runs.items()}
    p = print
    p(f"{args.rounds} round(s), median; {args.clients} clients, {args.reports} reports per run; gunicorn 1 worker")
    p(f"pgbench single-row INSERT, {args.clients} clients: {med['pgbench']:.0f} tps")
    for key, label in (("minimal", "minimal app POST /reports"), ("intake", f"POST {CASES}"),
                       ("phone", f"POST {PHONE}")):
        p(f"{label:34} {med[f'{key}_rps']:8.1f} req/s  server CPU {med[f'{key}_cpu']:6.2f} ms/report"
          f"  (per round: {', '.join(f'{x:.2f}' for x in runs[f'{key}_cpu'])}; worker restarts in the runs:"
          f" {sum(runs[f'{key}_restarts'])}, their start-up CPU included)")
    p(f"round trips per report (statements + BEGIN + COMMIT): {trips}")
    p(f"paced at {med['paced_rate']:.0f} req/s (achieved {med['paced_achieved']:.0f}): p99 {med['p99_ms']:.1f} ms "
      "from each request's due time")
    if runs.get("own_rate"):
        p(f"paced at half of what this server sustained, {med['own_rate']:.0f} req/s: p50 {med['p50_own_ms']:.1f} ms, "
          f"p99 {med['p99_own_ms']:.1f} ms (per round: {', '.join(f'{x:.1f}' for x in runs['p99_own_ms'])})")
        p(f"throughput vs the minimal app: {med['intake_rps'] / med['minimal_rps']:.0%}; the minimal app vs pgbench: "
          f"{med['minimal_rps'] / med['pgbench']:.1%}")
    for e in errors[:10]:
        p(f"ERROR: {e}")
    if not errors:
        cpu_ratio = med["intake_cpu"] / med["minimal_cpu"]
        goals.report(NAME, "server CPU per report vs minimal app", f"{med['intake_cpu']:.2f} ms vs "
                     f"{med['minimal_cpu']:.2f} ms", passed=cpu_ratio <= 2.0, target="<= 2x", ratio=cpu_ratio)
        worst = max(trips.values())
        goals.report(NAME, "database round trips per report", f"{trips}", passed=worst <= 6, target="<= 6")
        share = med["intake_rps"] / med["pgbench"]
        goals.report(NAME, f"throughput, {args.clients} clients, vs pgbench INSERT",
                     f"{med['intake_rps']:.0f} req/s vs {med['pgbench']:.0f} tps", passed=share >= 0.10,
                     target=">= 10%", ratio=share)
        goals.report(NAME, "p99 at half the goal rate", f"{med['p99_ms']:.1f} ms at {med['paced_rate']:.0f} req/s",
                     passed=med["p99_ms"] < 50, target="< 50 ms")
        goals.report(NAME, "p99 at half of what one process sustained (shown, not the issue's goal)",
                     f"{med['p99_own_ms']:.1f} ms at {med['own_rate']:.0f} req/s", passed=med["p99_own_ms"] < 50,
                     target="< 50 ms")
        phone_ratio = med["phone_cpu"] / med["minimal_cpu"]
        goals.report(NAME, "phone report CPU vs minimal app", f"{med['phone_cpu']:.2f} ms vs {med['minimal_cpu']:.2f} ms",
                     passed=phone_ratio <= 3.0, target="<= 3x", ratio=phone_ratio)
    write_json(args.output, {"name": NAME, "args": {k: str(v) for k, v in vars(args).items()}, "runs": runs,
                             "median": med, "round_trips": trips, "errors": errors})
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
