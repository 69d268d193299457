"""What the benchmarks share: a scratch database (create, drop, the app's URL for it, the
command-line options naming it), the app on it (made, migrated, disposed), ``wangge serve`` in
a subprocess and an HTTP client, the raw single-row INSERT baseline (psycopg loop, pgbench),
threads released together, statistics, and the results file."""
from __future__ import annotations

import gc
import http.client
import json
import logging
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]

INSERT_TABLE = """
CREATE TABLE bench_raw_inserts (
    id bigserial PRIMARY KEY,
    k integer NOT NULL,
    payload text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT_SQL = "INSERT INTO bench_raw_inserts (k, payload) VALUES (%s, %s)"
PGBENCH_SCRIPT = ("\\set k random(1, 1000000000)\n"
                  "INSERT INTO bench_raw_inserts (k, payload) VALUES (:k, 'pgbench single-row insert');\n")


# ----------------------------------------------------------------------------- helpers


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _pct(values, q) -> float:
    return float(np.percentile(np.asarray(values), q)) if len(values) else float("nan")


def _median(values) -> float:
    return statistics.median(values) if values else float("nan")


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sqlalchemy_url(admin_url: str, dbname: str) -> str:
    d = conninfo_to_dict(admin_url)
    user = d.get("user", "postgres")
    auth = user + (f":{d['password']}" if d.get("password") else "")
    return f"postgresql://{auth}@{d.get('host', '127.0.0.1')}:{d.get('port', 5432)}/{dbname}"


class BenchError(Exception):
    """A wrong answer or a broken setup: the benchmark fails."""


def write_json(path: Path, result: dict) -> None:
    """The results file: indented, UTF-8 text as is, a newline at the end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")


def run_threads(n: int, work, collect: bool = False) -> float:
    """Start ``work(i)`` in ``n`` threads that each wait on a barrier first; release them
    together (after a ``gc.collect()`` when ``collect``) and answer the seconds until all end."""
    barrier = threading.Barrier(n + 1)

    def run(i):
        barrier.wait()
        work(i)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    if collect:
        gc.collect()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- database


def add_database_options(ap, results: Path) -> None:
    """``--pg-admin-url``, ``--keep-db`` and ``--output`` (default ``results``)."""
    ap.add_argument("--pg-admin-url", default=os.environ.get(
        "WANGGE_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="a database the benchmark can connect to to CREATE/DROP its scratch database")
    ap.add_argument("--keep-db", action="store_true", help="do not drop the scratch database")
    ap.add_argument("--output", type=Path, default=results, help="JSON results file")


def _scratch_conninfo(admin_url: str, dbname: str) -> str:
    return make_conninfo(admin_url, dbname=dbname)


def create_database(admin_url: str, dbname: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')


def drop_database(admin_url: str, dbname: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


# ----------------------------------------------------------------------------- app


def make_app(database_url: str, **settings):
    from wangge import create_app
    from wangge.config import Settings

    app = create_app(Settings(**{"database_url": database_url, "redis_url": "", "jobs_inline": True,
                                 "load_demo": False, "index_check_seconds": 60, **settings}))
    return app


def migrate() -> None:
    """Upgrade the app's database (in its app context) to the newest migration, keeping
    alembic's INFO lines (one per migration) out of the benchmark's table."""
    from wangge.cli import upgrade_database

    logging.disable(logging.INFO)
    try:
        upgrade_database()
    finally:
        logging.disable(logging.NOTSET)


def dispose_app(app) -> None:
    """Drop the app's session and close its connections (so the scratch database can go)."""
    from wangge.extensions import db

    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


# ----------------------------------------------------------------------------- HTTP side


class Server:
    """``python -m wangge serve`` in a subprocess. By default the development server (werkzeug,
    threaded, one process: ``--dev``), which the older recorded figures were measured on; with
    ``workers`` the production server, gunicorn (``wangge serve --workers N --threads T``).
    ``command`` replaces the whole command (the minimal baseline app); ``env`` adds settings."""

    def __init__(self, database_url: str, log_path: Path, *, workers: int | None = None,
                 threads: int | None = None, env: dict | None = None, command: list[str] | None = None):
        self.port = _free_port()
        self.log_path = log_path
        environ = {k: v for k, v in os.environ.items() if not k.startswith("WANGGE_")}
        environ.update({"WANGGE_DATABASE_URL": database_url, "WANGGE_REDIS_URL": "", "WANGGE_JOBS_INLINE": "1",
                        "WANGGE_LOAD_DEMO": "0", "WANGGE_INDEX_CHECK_SECONDS": "60"})
        environ.update(env or {})
        if command is None:
            command = [sys.executable, "-m", "wangge", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                       "--no-demo"]
            if workers:
                command += ["--workers", str(workers)] + (["--threads", str(threads)] if threads else [])
            else:
                command.append("--dev")
        else:
            command = [part.replace("{port}", str(self.port)) for part in command]
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{command[2:4]} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"{command[2:4]} did not answer /healthz:\n{self.log_tail()}")
            time.sleep(0.2)

    @classmethod
    def minimal(cls, database_url: str, log_path: Path, *, workers: int = 1, threads: int | None = None) -> Server:
        """The stack's floor (``bench.minimal_app``) under the same gunicorn settings."""
        command = [sys.executable, "-m", "bench.minimal_app", "--database-url", database_url,
                   "--port", "{port}", "--workers", str(workers)] + (["--threads", str(threads)] if threads else [])
        return cls(database_url, log_path, command=command)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


class Client:
    """One HTTP/1.1 client over http.client. It would keep its connection alive, but the
    werkzeug server answers ``Connection: close``, so http.client reconnects per request."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.requests = 0
        self.closed_by_server = 0

    def post(self, path: str, body: dict, headers: dict) -> tuple[int, dict, float]:
        data = json.dumps(body).encode()
        h = {"Content-Type": "application/json", "Accept": "application/json", **headers}
        start = time.perf_counter()
        self.conn.request("POST", path, body=data, headers=h)
        resp = self.conn.getresponse()
        raw = resp.read()
        elapsed = time.perf_counter() - start
        self.requests += 1
        if resp.will_close:
            self.closed_by_server += 1
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"_raw": raw[:200].decode(errors="replace")}
        return resp.status, payload, elapsed

    def close(self) -> None:
        self.conn.close()


def login(port: int, username: str, password: str) -> str:
    c = Client(port)
    try:
        status, body, _ = c.post("/api/v1/auth/login", {"username": username, "password": password}, {})
    finally:
        c.close()
    if status != 200:
        raise BenchError(f"login {username}: HTTP {status} {body}")
    return body["token"]


# ----------------------------------------------------------------------------- raw INSERT baseline


def insert_loop(conninfo: str, n: int) -> float:
    """Single-row INSERT + COMMIT over one connection, prepared; inserts per second."""
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        for i in range(20):  # warm-up: prepare the statement
            cur.execute(INSERT_SQL, (i, "psycopg single-row insert"), prepare=True)
            conn.commit()
        gc.collect()
        start = time.perf_counter()
        for i in range(n):
            cur.execute(INSERT_SQL, (i, "psycopg single-row insert"), prepare=True)
            conn.commit()
        return n / (time.perf_counter() - start)


def run_pgbench(pgbench: str, admin_url: str, dbname: str, script: Path, clients: int, seconds: int) -> dict:
    d = conninfo_to_dict(admin_url)
    cmd = [pgbench, "-n", "-M", "prepared", "-f", str(script), "-c", str(clients), "-j", str(clients),
           "-T", str(seconds), "-h", str(d.get("host", "127.0.0.1")), "-p", str(d.get("port", 5432)),
           "-U", str(d.get("user", "postgres")), dbname]
    env = dict(os.environ)
    if d.get("password"):
        env["PGPASSWORD"] = d["password"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60)
    if proc.returncode != 0:
        raise BenchError(f"pgbench failed ({proc.returncode}): {proc.stderr.strip()[:400]}")
    tps = re.search(r"tps = ([\d.]+) \((?:without|excluding)", proc.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", proc.stdout)
    if not tps:
        raise BenchError(f"could not read pgbench output:\n{proc.stdout[-400:]}")
    return {"tps": float(tps.group(1)), "latency_ms": float(latency.group(1)) if latency else None}


# ----------------------------------------------------------------------------- CPU (from /proc)

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids, *, children: bool = False) -> float:
    """utime + stime of ``pids`` from ``/proc/<pid>/stat`` (gone processes count 0); with
    ``children`` also the CPU of their children that have exited and been waited for (an rq
    worker's forked work horses)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def cpu_by_pid(pids) -> dict[int, float]:
    """``cpu_seconds`` of each live pid (the gone ones left out)."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            pass
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two ``cpu_by_pid`` readings: processes alive at both count their
    difference, new ones their whole time; ones gone by the second reading are not known
    (their last slice is lost; a database backend closed by a recycled pool)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def child_pids(pid: int) -> list[int]:
    """The live children of ``pid`` (gunicorn's workers under its arbiter)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (``/proc/stat``);
    the difference of two readings over a run tells how full the cores were, whoever used them."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user/nice
    return (total - idle) / TICK, total / TICK


def backend_pids(conninfo: str, dbname: str) -> list[int]:
    """The PostgreSQL backends connected to ``dbname`` (not this query's own)."""
    with psycopg.connect(conninfo) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s "
                                           "AND pid <> pg_backend_pid()", (dbname,))]


# ----------------------------------------------------------------------------- multiprocess HTTP load


def _load_process(port: int, spec: dict, first: int, threads: int, start_at: float, stop_at: float, queue) -> None:
    """One client process: ``threads`` keep-alive connections, each POSTing ``spec``'s
    pre-encoded bodies in turn (a fresh ``Idempotency-Key`` per request when ``spec['keys']``)
    from ``start_at`` until ``stop_at`` (``time.time()``). Puts its counts on ``queue``."""
    lock = threading.Lock()
    out = {"ok": 0, "late": 0, "status": {}, "latency_s": [], "errors": []}

    def work(t: int):
        conn_no = first + t
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        token = spec["tokens"][conn_no % len(spec["tokens"])]
        bodies = spec["bodies"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                   "Accept": "application/json"}
        ok = late = i = 0
        status_counts: dict = {}
        lat = []
        errors = []
        while time.time() < start_at:
            time.sleep(0.001)
        while True:
            now = time.time()
            if now >= stop_at:
                break
            if spec.get("keys"):
                headers["Idempotency-Key"] = f"{spec['keys']}-{conn_no}-{i}"
            t0 = time.perf_counter()
            try:
                conn.request("POST", spec["path"], body=bodies[(conn_no * 7919 + i) % len(bodies)], headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                status = resp.status
            except OSError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                status, raw = 0, b""
            dt = time.perf_counter() - t0
            i += 1
            status_counts[status] = status_counts.get(status, 0) + 1
            if status == spec.get("expect", 201):
                if time.time() <= stop_at:
                    ok += 1
                    lat.append(dt)
                else:
                    late += 1  # finished after the window: done by the server, not counted in the rate
            elif len(errors) < 5:
                errors.append(f"HTTP {status} {raw[:200].decode(errors='replace')}")
        conn.close()
        with lock:
            out["ok"] += ok
            out["late"] += late
            for k, v in status_counts.items():
                out["status"][k] = out["status"].get(k, 0) + v
            out["latency_s"] += lat
            out["errors"] += errors

    pool = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    queue.put(out)


def http_load(port: int, spec: dict, *, seconds: float, processes: int = 2, connections: int = 16,
              during=None) -> dict:
    """Drive ``POST spec['path']`` with ``connections`` keep-alive connections spread over
    ``processes`` client processes (so the client's own GIL does not cap the rate) for
    ``seconds``. ``spec``: ``path``, ``bodies`` (encoded JSON, used in turn), ``tokens`` (one
    per connection, in turn), ``keys`` (a prefix: each request gets a unique Idempotency-Key;
    omit for none), ``expect`` (the good status, 201). ``during(start_at, stop_at, client_pids)`` runs in
    this process while the clients run (reads CPU counters, samples the database) and its
    answer is returned as ``during``. Answers ``ok`` (good answers inside the window), ``per_s``,
    ``status`` counts, ``latency_s``, ``errors`` and ``late`` (good answers that finished after
    the window)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    per = [connections // processes + (1 if k < connections % processes else 0) for k in range(processes)]
    start_at = time.time() + 0.3 + 0.05 * processes
    stop_at = start_at + seconds
    procs, first = [], 0
    for k in range(processes):
        procs.append(ctx.Process(target=_load_process, args=(port, spec, first, per[k], start_at, stop_at, queue),
                                 daemon=True))
        first += per[k]
    for proc in procs:
        proc.start()
    extra = during(start_at, stop_at, [p.pid for p in procs]) if during is not None else None
    parts = [queue.get(timeout=seconds + 180) for _ in procs]
    for proc in procs:
        proc.join(30)
    out = {"ok": 0, "late": 0, "status": {}, "latency_s": [], "errors": []}
    for part in parts:
        out["ok"] += part["ok"]
        out["late"] += part["late"]
        for k, v in part["status"].items():
            out["status"][k] = out["status"].get(k, 0) + v
        out["latency_s"] += part["latency_s"]
        out["errors"] += part["errors"]
    out["seconds"] = seconds
    out["per_s"] = out["ok"] / seconds
    out["during"] = extra
    return out
