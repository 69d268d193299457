"""Outage tests: a private redis-server and a private PostgreSQL cluster that the tests stop
and start, a webhook receiver counting deliveries, ``wangge`` subprocesses. Every wait is
bounded; everything started here is stopped in ``finally``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.markers import mark_by_fixtures
from tests.servers import PrivatePostgres, PrivateRedis, free_port, wait_until  # noqa: F401 - used by the outage tests

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    mark_by_fixtures(__file__, items)  # markers from the fixtures used (tests/markers.py)


@pytest.fixture
def private_redis():
    r = PrivateRedis()
    r.start()
    try:
        yield r
    finally:
        r.kill()


class Receiver:
    """A webhook endpoint on 127.0.0.1 recording each ``X-Wangge-Delivery`` key it accepted.
    ``hold()`` makes the next requests wait (at most ``hold_seconds``) until ``release()``."""

    def __init__(self, hold_seconds: float = 8.0):
        self.accepted: list[str] = []
        self.entered = threading.Event()
        self._gate = threading.Event()
        self._gate.set()
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.entered.set()
                receiver._gate.wait(hold_seconds)
                with lock:
                    receiver.accepted.append(self.headers["X-Wangge-Delivery"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold(self):
        self.entered.clear()
        self._gate.clear()

    def release(self):
        self._gate.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def private_pg():
    pg = PrivatePostgres()
    try:
        pg.init()
        pg.start()
        pg.create_database()
        yield pg
    finally:
        pg.cleanup()


def wangge_env(**values) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANGGE_")}
    env.update({"WANGGE_INDEX_CHECK_SECONDS": "0", "WANGGE_LOAD_DEMO": "0"})
    env.update({f"WANGGE_{k.upper()}": str(v) for k, v in values.items()})
    return env


def start_wangge(env: dict, *args: str, log_path: Path) -> subprocess.Popen:
    out = open(log_path, "w")  # noqa: SIM115 - closed with the process by stop_process
    proc = subprocess.Popen([sys.executable, "-m", "wangge", *args], env=env, cwd=ROOT, stdout=out,
                            stderr=subprocess.STDOUT, text=True)
    proc.log_file = out
    return proc


def stop_process(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    log_file = getattr(proc, "log_file", None)
    if log_file is not None:
        log_file.close()
