"""``wangge serve`` on PostgreSQL runs gunicorn (wangge/serving.py): real subprocesses on a
fresh database, talked to over HTTP. Keep-alive, SIGHUP (new workers, same master), SIGTERM
(exit 0), and the development server kept for the embedded default and ``--dev``."""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL
from tests.outage.conftest import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def call(base: str, path: str, *, body=None, token=None) -> tuple[int, dict, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)
    except (urllib.error.URLError, ConnectionError):
        return 0, {}, {}


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # field 4: ppid
            found.add(int(entry))
    return found


@contextlib.contextmanager
def serving(env: dict, *args: str, log_path: Path):
    port = free_port()
    env = {**env, "WANGGE_PORT": str(port)}
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "wangge", "serve", *args], env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            wait_until(lambda: proc.poll() is not None or call(base, "/healthz")[0] == 200, 120,
                       "serve to start")
            assert proc.poll() is None, log_path.read_text()
            yield proc, base, port
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


def pg_env(database_url: str, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANGGE_")}
    env.update({"WANGGE_DATABASE_URL": database_url, "WANGGE_REDIS_URL": REDIS_URL,
                "WANGGE_INDEX_CHECK_SECONDS": "0", "WANGGE_DATA_DIR": str(tmp_path / "var")})
    return env


def test_gunicorn_on_postgres_keepalive_sighup_sigterm(fresh_pg_url, tmp_path):
    log_path = tmp_path / "serve.log"
    with serving(pg_env(fresh_pg_url, tmp_path), "--workers", "2", "--demo", log_path=log_path) as (proc, base, port):
        text = log_path.read_text()
        # the start-up work ran once, in the master, before the workers
        assert text.count("demo loaded:") == 1, text
        assert "server: gunicorn" in text and "Using worker: gthread" in text, text

        status, body, headers = call(base, "/healthz")
        assert status == 200 and headers["Server"].startswith("gunicorn")
        status, body, _ = call(base, "/api/v1/auth/login", body={"username": "admin", "password": "wangge-demo"})
        assert status == 200, body
        token = body["token"]
        status, body, _ = call(base, "/api/v1/geo/locate?lon=121.4751&lat=31.2112", token=token)
        assert status == 200 and body["level"] == "grid", body
        assert call(base, "/api/v1/geo/locate?lon=121.4751&lat=31.2112")[0] == 401

        # keep-alive: two requests on one connection, the same socket both times
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/healthz")
            first = conn.getresponse()
            assert first.status == 200 and json.loads(first.read()) == {"status": "ok"}
            assert (first.getheader("Connection") or "").lower() != "close" and not first.will_close
            sock = conn.sock
            conn.request("GET", "/api/v1/geo/locate?lon=121.4751&lat=31.2112",
                         headers={"Authorization": f"Bearer {token}"})
            second = conn.getresponse()
            assert second.status == 200 and json.loads(second.read())["level"] == "grid"
            assert conn.sock is sock and not second.will_close  # no reconnect in between
        finally:
            conn.close()

        # SIGHUP: the same master starts new workers and the old ones go
        wait_until(lambda: len(children(proc.pid)) == 2, 30, "two workers")
        old = children(proc.pid)
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: len(children(proc.pid)) == 2 and not (children(proc.pid) & old), 60,
                   "new workers after SIGHUP")
        assert proc.poll() is None
        wait_until(lambda: call(base, "/healthz")[0] == 200, 30, "answers after SIGHUP")
        status, body, _ = call(base, "/api/v1/geo/locate?lon=121.4751&lat=31.2112", token=token)
        assert status == 200 and body["level"] == "grid"
        assert log_path.read_text().count("demo loaded:") == 1  # a reload does not redo start-up

        # SIGTERM: drain and exit 0, workers gone
        workers = children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log_path.read_text()
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
        assert "Shutting down: Master" in log_path.read_text()


def test_dev_flag_keeps_the_development_server_on_postgres(fresh_pg_url, tmp_path):
    log_path = tmp_path / "serve.log"
    with serving(pg_env(fresh_pg_url, tmp_path), "--dev", "--no-demo", log_path=log_path) as (proc, base, _):
        status, _, headers = call(base, "/healthz")
        assert status == 200 and headers["Server"].startswith("Werkzeug")
        assert "server: development server" in log_path.read_text()


def test_embedded_default_uses_the_development_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANGGE_")}
    env.update({"WANGGE_DATA_DIR": str(tmp_path / "var"), "WANGGE_INDEX_CHECK_SECONDS": "0"})
    with serving(env, "--no-demo", log_path=tmp_path / "serve.log") as (proc, base, _):
        status, _, headers = call(base, "/healthz")
        assert status == 200 and headers["Server"].startswith("Werkzeug")
        assert headers.get("Connection", "").lower() == "close"


@pytest.mark.parametrize("args", [["--workers", "2"], ["--threads", "8"]])
def test_workers_are_refused_on_the_embedded_default(tmp_path, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANGGE_")}
    env.update({"WANGGE_DATA_DIR": str(tmp_path / "var"), "WANGGE_INDEX_CHECK_SECONDS": "0"})
    done = subprocess.run([sys.executable, "-m", "wangge", "serve", "--no-demo", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "embedded default" in done.stderr, done.stderr


def test_gunicorn_options_from_settings():
    from wangge.config import Settings
    from wangge.serving import gunicorn_options

    settings = Settings.from_env({"WANGGE_WEB_WORKERS": "3", "WANGGE_WEB_MAX_REQUESTS": "500",
                                  "WANGGE_WEB_KEEPALIVE_SECONDS": "7"})
    opts = gunicorn_options(settings, host="::1", port=8000)
    assert opts["bind"] == ["[::1]:8000"] and opts["workers"] == 3 and opts["threads"] == 4
    assert opts["worker_class"] == "gthread" and opts["keepalive"] == 7
    assert opts["max_requests"] == 500 and opts["max_requests_jitter"] == 1000
    assert opts["preload_app"] is False
    assert gunicorn_options(settings, host="0.0.0.0", port=80, workers=5, threads=2)["workers"] == 5
