"""Servers of a test's own (never the shared ones): a free port, waiting for a condition, a
private redis-server that can be killed and restarted mid-test."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
from redis import Redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")


class PrivateRedis:
    """A redis-server on a free port, without persistence: a restart loses every queued job,
    as a crash of a cache-only Redis does."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--daemonize", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        conn = Redis.from_url(self.url, socket_connect_timeout=1)
        wait_until(lambda: _pings(conn), 10, "redis-server to start", interval=0.02)

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


def _pings(conn) -> bool:
    try:
        return bool(conn.ping())
    except Exception:
        return False
