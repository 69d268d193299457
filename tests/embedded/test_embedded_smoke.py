"""The embedded default end to end: no database URL, no Redis; a SQLite file under the data
directory, the in-process index, jobs inline. Runs the real ``wangge serve`` and talks HTTP."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def embedded_env(data_dir: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANGGE_")}
    env.update({"WANGGE_DATA_DIR": str(data_dir), "WANGGE_INDEX_CHECK_SECONDS": "0", **extra})
    return env


def wangge(env, *args, check=True):
    proc = subprocess.run([sys.executable, "-m", "wangge", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"wangge {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, path, *, body=None, token=None, method=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method or ("POST" if data else "GET"))
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if resp.headers.get_content_type() == "application/json" else raw)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@contextlib.contextmanager
def running_server(data_dir: Path):
    """``wangge serve`` on the embedded default in ``data_dir``; yields (base URL, env)."""
    port = free_port()
    env = embedded_env(data_dir, WANGGE_PORT=str(port))
    proc = subprocess.Popen([sys.executable, "-m", "wangge", "serve"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError("serve exited early:\n" + proc.stdout.read())
            try:
                if call(base, "/healthz")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        else:
            raise AssertionError("serve did not come up")
        yield base, env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def server(tmp_path):
    with running_server(tmp_path / "var") as (base, env):
        yield base, env, tmp_path / "var"


def test_serve_loads_demo_and_answers_http(server):
    base, env, data_dir = server
    assert (data_dir / "wangge.sqlite3").exists()
    status, body = call(base, "/api/v1/auth/login", body={"username": "admin", "password": "wangge-demo"})
    assert status == 200, body
    token = body["token"]
    status, body = call(base, "/api/v1/geo/locate?lon=121.4751&lat=31.2112", token=token)
    assert status == 200 and body["level"] == "grid" and len(body["chain"]) == 4
    status, body = call(base, "/api/v1/geo/locate?lon=100&lat=10", token=token)
    assert status == 404 and body["code"] == "point_outside"
    status, body = call(base, "/api/v1/matrix/explain?category=E0102&grid=" + "31010100200104", token=token)
    assert status == 200 and body["department"]["code"] == "JD002"
    status, page = call(base, "/api/docs")
    assert status == 200 and b"swagger-ui" in page

    # dispatch on the embedded default: a grid worker reports, the desk accepts and opens, the
    # category is auto-dispatched to the street office; notifications are delivered inline
    worker = call(base, "/api/v1/auth/login", body={"username": "wgy001", "password": "wangge-demo"})[1]["token"]
    status, case = call(base, "/api/v1/cases", token=worker, body={
        "description": "路边有暴露垃圾", "category_code": "E0102", "lon": 121.4751, "lat": 31.2112,
        "idempotency_key": "embedded-smoke-0001"})
    assert status == 201, case
    n = case["number"]
    assert n.startswith("3101012") and case["suggested_department"]["code"] == "JD002"
    assert call(base, "/api/v1/cases", token=worker, body={
        "description": "路边有暴露垃圾", "category_code": "E0102", "lon": 121.4751, "lat": 31.2112,
        "idempotency_key": "embedded-smoke-0001"})[0] == 200
    for user, verb in (("shouli", "accept"), ("zhiban", "open")):
        t = call(base, "/api/v1/auth/login", body={"username": user, "password": "wangge-demo"})[1]["token"]
        status, case = call(base, f"/api/v1/cases/{n}/actions/{verb}", token=t, body={})
        assert status == 200, case
    assert case["state"] == "dispatched" and case["department"]["code"] == "JD002"
    assert case["clock"]["stage"] == "sign" and case["clock"]["light"] == "green"
    status, tracked = call(base, f"/api/v1/public/reports/{case['tracking_code']}")
    assert status == 200 and tracked["state"] == "in_progress" and tracked["state_name"] == "处理中"

    # a grid imported by another process (the CLI) is found by the running server without restart
    layer = data_dir.parent / "extra.geojson"
    layer.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"code": "X1", "name": "新网格", "level": "grid"},
        "geometry": {"type": "Polygon", "coordinates": [[[100, 10], [100.1, 10], [100.1, 10.1], [100, 10.1],
                                                         [100, 10]]]}}]}))
    wangge(env, "grid", "import", str(layer))
    status, body = call(base, "/api/v1/geo/locate?lon=100.05&lat=10.05", token=token)
    assert status == 200 and body["code"] == "X1"


def test_cli_on_the_embedded_default(tmp_path):
    env = embedded_env(tmp_path / "var")
    wangge(env, "init")
    out = wangge(env, "demo", "load")
    assert "'grids': 317" in out.stdout
    assert wangge(env, "demo", "load").stdout.strip() == "demo already loaded"
    out = wangge(env, "grid", "locate", "121.4751", "31.2112")
    assert "南京东路街道" in out.stdout and "workers:" in out.stdout
    assert wangge(env, "grid", "locate", "0", "0", check=False).returncode == 1
    check = wangge(env, "grid", "check")
    assert "0 overlaps, 0 gaps, 0 escapes" in check.stdout
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
                   '{"code": "B"}, "geometry": {"type": "Point", "coordinates": [1, 2]}}]}')
    proc = wangge(env, "grid", "import", str(bad), "--level", "grid", check=False)
    assert proc.returncode == 2 and "#0 code=B" in proc.stderr
