"""Where a case's requests spend their CPU, in-process: a scratch PostGIS database with the
demo city, the app with Redis as in production (jobs enqueued, not run inline), and the
app, called as a WSGI server calls it (environs built before the timed loop), taking ``--cases`` cases through report, accept, open, dispatch, sign and
report back, one verb at a time. Prints the process CPU and the statements per request of
each step; ``--profile STEP`` writes a cProfile (CPU clock) of that step to
``/tmp/profile_<step>.pstats`` for ``python -m pstats``.

Not a goal of ``make bench`` (bench/bench_dispatch.py measures the verbs over HTTP against the
minimal app); a developer's tool to see what a change did to the CPU of a request, without
gunicorn or the network in the way. Compare two commits by running it in each checkout,
interleaved, a few times: the machine's noise is ±10%.

Run:  python -m bench.profile_verbs [--cases N] [--redis URL] [--profile STEP]
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import json
import secrets
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/profile_verbs.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy import event
from werkzeug.test import EnvironBuilder

from bench.bench_dispatch import (
    HTTP_CATEGORIES,
    STEP_BODY,
    STEPS,
    case_specs,
    setup_city,
    step_actor,
)
from bench.common import (
    _sqlalchemy_url,
    add_database_options,
    create_database,
    dispose_app,
    drop_database,
)

RESULTS = Path(__file__).resolve().parent / "results" / "profile_verbs.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench.profile_verbs", description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/9", help="'' runs jobs inline (the embedded shape)")
    ap.add_argument("--profile", choices=STEPS, help="write /tmp/profile_<step>.pstats for this step")
    ap.add_argument("--calls", action="store_true",
                    help="also count Python function calls per request of every step (under cProfile, so the CPU"
                         " column grows): a figure that, unlike the CPU, does not move with the machine's noise")
    add_database_options(ap, RESULTS)
    args = ap.parse_args(argv)
    if args.cases < 1:
        ap.error("--cases must be positive")
    from grid.demo import DEMO_PASSWORD
    from wangge import create_app
    from wangge.config import Settings
    from wangge.extensions import db

    dbname = f"wangge_bench_profile_{secrets.token_hex(3)}"
    create_database(args.pg_admin_url, dbname)
    app = None
    try:
        app = create_app(Settings(database_url=_sqlalchemy_url(args.pg_admin_url, dbname), redis_url=args.redis,
                                  jobs_inline=not args.redis, load_demo=False, index_check_seconds=60))
        setup_city(app)
        with psycopg.connect(make_conninfo(args.pg_admin_url, dbname=dbname)) as conn:
            dept = dict(conn.execute(
                "SELECT r.category_code, d.code FROM responsibilities r JOIN departments d ON d.id = r.department_id"
                " WHERE r.grid_code = '*' AND r.category_code = ANY(%s)", (list(HTTP_CATEGORIES),)).fetchall())
        client = app.test_client()
        workers = [f"wgy{i:03d}" for i in range(1, 13)]
        users = ("shouli", "zhiban", "paiqian", *sorted({f"cz-{d.lower()}" for d in dept.values()}), *workers)
        tokens = {u: client.post("/api/v1/auth/login", json={"username": u, "password": DEMO_PASSWORD}).json["token"]
                  for u in users}
        with app.app_context():
            engine = db.engine
        statements = [0]
        event.listen(engine, "before_cursor_execute", lambda *a, **k: statements.__setitem__(0, statements[0] + 1))

        def environ(step: str, spec: dict, number: str | None) -> dict:
            """The request's WSGI environ, built before the timed loop (as a server would hand it)."""
            headers = {"Authorization": f"Bearer {tokens[step_actor(step, spec, dept)]}"}
            if step == "submit":
                builder = EnvironBuilder("/api/v1/cases", method="POST",
                                         headers={**headers, "Idempotency-Key": spec["key"]},
                                         json={"description": "上水井盖破损", "category_code": spec["category"],
                                               "lon": spec["lon"], "lat": spec["lat"], "address": "示范区巡查点"})
            else:
                builder = EnvironBuilder(f"/api/v1/cases/{number}/actions/{step}", method="POST",
                                         json=STEP_BODY.get(step, {}), headers=headers)
            try:
                return builder.get_environ()
            finally:
                builder.close()

        def call(env: dict) -> tuple[str, bytes]:
            """The app called as gunicorn calls it: no test client in the measured CPU."""
            status = []
            answer = app(env, lambda s, h, exc_info=None: status.append(s))
            try:
                body = b"".join(answer)
            finally:
                answer.close()  # as a WSGI server does
            return status[0], body

        def number_of(step: str, status: str, body: bytes) -> str:
            assert status.startswith("201" if step == "submit" else "200"), (status, body[:300])
            return json.loads(body)["number"]

        rng = np.random.default_rng(1)
        print(f"{'step':<12} {'CPU ms':>7} {'statements':>11}" + (f" {'calls':>9}" if args.calls else ""))
        for tag, n in (("warm", 10), ("run", args.cases)):
            specs = case_specs(rng, n, f"{tag}-{secrets.token_hex(2)}", workers)
            numbers: list[str | None] = [None] * n
            for step in STEPS:
                profiled = tag == "run" and (step == args.profile or args.calls)
                profiler = cProfile.Profile(time.process_time) if profiled else None
                environs = [environ(step, spec, numbers[i]) for i, spec in enumerate(specs)]
                gc.collect()
                statements[0] = 0
                answers = []
                start = time.process_time()
                if profiler:
                    profiler.enable()
                for env in environs:
                    answers.append(call(env))
                calls = None
                if profiler:
                    profiler.disable()
                    if step == args.profile:
                        profiler.dump_stats(f"/tmp/profile_{step}.pstats")
                    profiler.create_stats()
                    calls = sum(stat[1] for stat in profiler.stats.values())
                spent = time.process_time() - start
                numbers = [number_of(step, status, body) for status, body in answers]
                if tag == "run":
                    print(f"{step:<12} {spent / n * 1000:>7.2f} {statements[0] / n:>11.1f}"
                          + (f" {calls / n:>9.0f}" if args.calls else ""))
    finally:
        if app is not None:
            dispose_app(app)
        if not args.keep_db:
            drop_database(args.pg_admin_url, dbname)
    return 0


if __name__ == "__main__":
    sys.exit(main())
