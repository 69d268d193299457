"""Phone report intake over real HTTP against the database's raw single-row INSERT rate.

One scratch PostGIS database, migrated with the app's own migrations and holding the demo
city (``bench.bench_dispatch.setup_city``); ``wangge serve`` in a subprocess on 127.0.0.1
(``bench.common.Server``). In each round:

* **Baseline:** single-row INSERT + COMMIT into a scratch table: a psycopg loop over one
  connection (prepared), and ``pgbench`` with a custom script at 1 and ``--clients`` clients.
* **Single report:** ``POST /api/m/v1/reports`` with an ``Idempotency-Key``, a grid worker
  per request, a point in the demo city: 1 client, then ``--clients`` concurrent clients.
* **Batch:** ``POST /api/m/v1/sync/push`` with ``--batch`` report items per request, 1 client.

Every answer is checked (201 and a number; every push item ``created``), a retry of one report
answers the same case (200) and the same key with another body is 409; at the end every case
the clients saw is in the database once. Ratios (raw inserts/s per report/s) are what mean
something between runs; timings are printed, never asserted.

Run:  python -m bench.bench_mobile_report [--reports N] [--clients N] [--batch N] [--repeat N]
"""
from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/bench_mobile_report.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

from bench.bench_dispatch import CITY, HTTP_CATEGORIES, server_facts, setup_city
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
    dispose_app,
    drop_database,
    insert_loop,
    login,
    make_app,
    run_pgbench,
    run_threads,
    write_json,
)

NAME = "mobile_report"
RESULTS = Path(__file__).resolve().parent / "results" / "mobile_report.json"
SEED = 20261126
REPORT = "/api/m/v1/reports"
PUSH = "/api/m/v1/sync/push"
WORKERS = [f"wgy{i:03d}" for i in range(1, 13)]


def report_bodies(rng: np.random.Generator, n: int, tag: str) -> list[dict]:
    lons = rng.uniform(CITY[0], CITY[2], n)
    lats = rng.uniform(CITY[1], CITY[3], n)
    cats = rng.integers(0, len(HTTP_CATEGORIES), n)
    who = rng.integers(0, len(WORKERS), n)
    return [{"key": f"m-{tag}-{i:05d}-{secrets.token_hex(3)}", "worker": WORKERS[who[i]],
             "body": {"description": "人行道地砖破损，行人易绊倒", "category_code": HTTP_CATEGORIES[cats[i]],
                      "lon": round(float(lons[i]), 6), "lat": round(float(lats[i]), 6), "address": "示范区巡查点"}}
            for i in range(n)]


def run_reports(port: int, tokens: dict, specs: list[dict], clients: int) -> dict:
    chunks = [specs[i::clients] for i in range(clients)]
    lat: list[list[float]] = [[] for _ in range(clients)]
    errs: list[list[str]] = [[] for _ in range(clients)]
    numbers: list[list[str]] = [[] for _ in range(clients)]
    conns = [Client(port) for _ in range(clients)]

    def work(i):
        for spec in chunks[i]:
            status, j, dt = conns[i].post(REPORT, spec["body"], {"Authorization": f"Bearer {tokens[spec['worker']]}",
                                                                 "Idempotency-Key": spec["key"]})
            lat[i].append(dt)
            if status != 201 or not j.get("number"):
                errs[i].append(f"report {spec['key']}: HTTP {status} {str(j)[:200]}")
                if len(errs[i]) >= 5:
                    break
            else:
                numbers[i].append(j["number"])

    elapsed = run_threads(clients, work)
    for c in conns:
        c.close()
    done = sum(len(n) for n in numbers)
    return {"seconds": elapsed, "reports": done, "per_s": done / elapsed if elapsed > 0 else 0.0,
            "latency_s": [x for part in lat for x in part], "errors": [e for part in errs for e in part],
            "numbers": [x for part in numbers for x in part]}


def run_batches(port: int, tokens: dict, specs: list[dict], batch: int) -> dict:
    conn = Client(port)
    lat, errors, numbers = [], [], []
    worker = WORKERS[0]
    start = time.perf_counter()
    for i in range(0, len(specs), batch):
        items = [{"client_id": s["key"], "type": "report", "report": s["body"]} for s in specs[i:i + batch]]
        status, j, dt = conn.post(PUSH, {"items": items}, {"Authorization": f"Bearer {tokens[worker]}"})
        lat.append(dt)
        outcomes = [it.get("outcome") for it in j.get("items", [])] if status == 200 else []
        if status != 200 or outcomes != ["created"] * len(items):
            errors.append(f"push at {i}: HTTP {status} {str(j)[:200]}")
            break
        numbers += [it["case"]["number"] for it in j["items"]]
    elapsed = time.perf_counter() - start
    conn.close()
    return {"seconds": elapsed, "reports": len(numbers), "per_s": len(numbers) / elapsed if elapsed > 0 else 0.0,
            "requests_per_s": len(lat) / elapsed if elapsed > 0 else 0.0, "latency_s": lat, "errors": errors,
            "numbers": numbers}


def check_promises(port: int, tokens: dict, spec: dict, number: str) -> list[str]:
    """A retry is the same case (200); the same key with another body is 409."""
    c = Client(port)
    auth = {"Authorization": f"Bearer {tokens[spec['worker']]}", "Idempotency-Key": spec["key"]}
    try:
        s1, j1, _ = c.post(REPORT, spec["body"], auth)
        s2, j2, _ = c.post(REPORT, {**spec["body"], "description": "另一件事"}, auth)
    finally:
        c.close()
    errors = []
    if s1 != 200 or j1.get("number") != number:
        errors.append(f"retry: HTTP {s1} {str(j1)[:200]} (first answer {number})")
    if s2 != 409 or j2.get("code") != "idempotency_key_reused":
        errors.append(f"reused key: HTTP {s2} {str(j2)[:200]}")
    return errors


def check_db(conninfo: str, numbers: list[str]) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        found = conn.execute("SELECT count(*), count(DISTINCT number) FROM cases WHERE number = ANY(%s)"
                             " AND state = 'reported' AND channel = 'grid_worker'", (numbers,)).fetchone()
    if len(set(numbers)) != len(numbers) or found != (len(numbers), len(numbers)):
        return [f"database: {found} reported grid-worker cases for {len(numbers)} answers "
                f"({len(set(numbers))} distinct)"]
    return []


def _lat(values) -> dict:
    return {"p50_ms": _ms(_pct(values, 50)), "p99_ms": _ms(_pct(values, 99)), "n": len(values)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench.bench_mobile_report", description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=200, help="reports per HTTP run")
    ap.add_argument("--clients", type=int, default=2, help="concurrent clients of the second run (1 = skip it)")
    ap.add_argument("--batch", type=int, default=25, help="report items per push request")
    ap.add_argument("--repeat", type=int, default=2, help="rounds; the median is reported")
    ap.add_argument("--inserts", type=int, default=1000, help="rows of the psycopg INSERT loop per round")
    ap.add_argument("--pgbench-seconds", type=int, default=3, help="duration of each pgbench run")
    add_database_options(ap, RESULTS)
    args = ap.parse_args(argv)
    if min(args.reports, args.clients, args.batch, args.repeat, args.inserts, args.pgbench_seconds) < 1:
        ap.error("all counts must be positive")
    if args.batch > 100:
        ap.error("--batch is at most 100 (the push limit)")

    p = print
    rng = np.random.default_rng(SEED)
    dbname = f"wangge_bench_{secrets.token_hex(4)}"
    conninfo = make_conninfo(args.pg_admin_url, dbname=dbname)
    db_url = _sqlalchemy_url(args.pg_admin_url, dbname)
    pgbench = shutil.which("pgbench")
    tmp = Path(tempfile.mkdtemp(prefix="wangge-bench-"))
    errors: list[str] = []
    runs = {"insert_loop": [], "pgbench_1": [], "pgbench_n": [], "report_1": [], "report_n": [], "push_1": []}
    latency = {"report_1": [], "report_n": [], "push_1": []}
    numbers: list[str] = []
    facts: dict = {}
    server = None
    app = None

    create_database(args.pg_admin_url, dbname)
    try:
        app = make_app(db_url)
        setup_city(app)
        facts = server_facts(conninfo)
        with psycopg.connect(conninfo) as conn:
            conn.execute(INSERT_TABLE)
        script = tmp / "insert.sql"
        script.write_text(PGBENCH_SCRIPT)
        server = Server(db_url, tmp / "server.log")
        from grid.demo import DEMO_PASSWORD
        tokens = {u: login(server.port, u, DEMO_PASSWORD) for u in WORKERS}

        warm_specs = report_bodies(rng, 10, "warm")  # not timed: caches, grid index, statements
        warm = run_reports(server.port, tokens, warm_specs, 1)
        errors += warm["errors"]
        numbers += warm["numbers"]
        if warm["numbers"]:
            errors += check_promises(server.port, tokens, warm_specs[0], warm["numbers"][0])

        for r in range(args.repeat):
            if errors:
                break
            runs["insert_loop"].append(insert_loop(conninfo, args.inserts))
            if pgbench:
                runs["pgbench_1"].append(run_pgbench(pgbench, args.pg_admin_url, dbname, script, 1,
                                                     args.pgbench_seconds)["tps"])
            res = run_reports(server.port, tokens, report_bodies(rng, args.reports, f"r{r}c1"), 1)
            runs["report_1"].append(res["per_s"])
            latency["report_1"] += res["latency_s"]
            errors += res["errors"]
            numbers += res["numbers"]
            if args.clients > 1:
                if pgbench:
                    runs["pgbench_n"].append(run_pgbench(pgbench, args.pg_admin_url, dbname, script,
                                                         args.clients, args.pgbench_seconds)["tps"])
                res = run_reports(server.port, tokens, report_bodies(rng, args.reports, f"r{r}c{args.clients}"),
                                  args.clients)
                runs["report_n"].append(res["per_s"])
                latency["report_n"] += res["latency_s"]
                errors += res["errors"]
                numbers += res["numbers"]
            res = run_batches(server.port, tokens, report_bodies(rng, args.reports, f"r{r}b"), args.batch)
            runs["push_1"].append(res["per_s"])
            latency["push_1"] += res["latency_s"]
            errors += res["errors"]
            numbers += res["numbers"]
        server.stop()
        server = None
        errors += check_db(conninfo, numbers)
    except BenchError as exc:
        errors.append(str(exc))
    finally:
        if server is not None:
            server.stop()
        if app is not None:
            dispose_app(app)
        if not args.keep_db:
            drop_database(args.pg_admin_url, dbname)
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: _median(v) for k, v in runs.items()}
    n = args.clients
    p(f"PostgreSQL {facts.get('postgresql', '?')}, PostGIS {facts.get('postgis', '?')}, "
      f"synchronous_commit={facts.get('settings', {}).get('synchronous_commit', '?')}; "
      f"{args.repeat} round(s), median")
    p(f"{'measure':44} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'raw/this':>9}")
    raw1 = med["insert_loop"]
    rows = [("raw INSERT+COMMIT, psycopg loop, 1 conn", med["insert_loop"], None, None),
            ("raw INSERT+COMMIT, pgbench, 1 client", med["pgbench_1"], None, None),
            (f"raw INSERT+COMMIT, pgbench, {n} clients", med["pgbench_n"], None, None),
            ("POST /api/m/v1/reports, 1 client", med["report_1"], latency["report_1"], raw1),
            (f"POST /api/m/v1/reports, {n} clients", med["report_n"], latency["report_n"],
             med["pgbench_n"] if runs["pgbench_n"] else raw1),
            (f"POST /api/m/v1/sync/push x{args.batch} reports", med["push_1"], latency["push_1"], raw1)]
    ratios = {}
    for label, rate, lats, base in rows:
        if rate != rate:  # NaN: not measured
            continue
        l50 = f"{_ms(_pct(lats, 50)):8.1f}" if lats else f"{'':8}"
        l99 = f"{_ms(_pct(lats, 99)):8.1f}" if lats else f"{'':8}"
        ratio = _ratio(base, rate) if base else None
        if ratio is not None:
            ratios[label] = ratio
        p(f"{label:44} {rate:9.1f} {l50} {l99} {'' if ratio is None else f'{ratio:9.1f}'}")
    p("raw/this: raw single-row commits per second divided by reports per second (1 client vs psycopg loop, "
      f"{n} clients vs pgbench at {n}); push latency is per request of {args.batch} items")
    for e in errors[:10]:
        p(f"ERROR: {e}")

    result = {"name": NAME, "args": {k: str(v) for k, v in vars(args).items()}, "facts": facts, "runs": runs,
              "median": med, "latency": {k: _lat(v) for k, v in latency.items()}, "ratios": ratios,
              "cases_checked": len(numbers), "errors": errors}
    write_json(args.output, result)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
