"""``wangge serve`` runs the migrations before serving; they must not silence the app's
loggers: a 500 logs its traceback. Real subprocess, embedded default (SQLite, jobs inline)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.outage.conftest import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
    except (urllib.error.URLError, ConnectionError):
        return 0, {}


def test_a_500_under_serve_logs_its_traceback(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANGGE_")}
    # WANGGE_TESTING exposes the test-only crash route (absent in production configurations)
    env.update({"WANGGE_DATA_DIR": str(tmp_path / "var"), "WANGGE_INDEX_CHECK_SECONDS": "0",
                "WANGGE_PORT": str(port), "WANGGE_TESTING": "1"})
    log_path = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "wangge", "serve", "--no-demo"], env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            wait_until(lambda: proc.poll() is not None or get(base + "/healthz")[0] == 200, 120, "serve to start")
            assert proc.poll() is None, log_path.read_text()
            status, body = get(base + "/__testing__/crash")
            assert status == 500 and body["code"] == "internal_error"
            wait_until(lambda: "deliberate crash for the logging test" in log_path.read_text(), 10,
                       "the traceback in the server log")
            text = log_path.read_text()
            assert "Traceback (most recent call last)" in text
            assert "ERROR wangge.errors: unhandled error" in text
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def test_the_crash_route_only_exists_when_testing(pg_url):
    from tests.conftest import make_settings
    from wangge import create_app

    assert create_app(make_settings(pg_url, testing=False)).test_client().get("/__testing__/crash").status_code == 404
