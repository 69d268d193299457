"""Liveness (``/healthz``) and readiness (``/readyz``), and, in test configurations only, a
route that fails (to see how a 500 is logged)."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy import text

from .auth import public
from .config import current_settings
from .errors import RETRY_AFTER_SECONDS, ApiError
from .extensions import db
from .jobs import redis_connection

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    @app.route("/healthz")
    @public
    def healthz():
        """Liveness: the process answers. It never touches the database or Redis."""
        return jsonify({"status": "ok"})

    @app.route("/readyz")
    @public
    def readyz():
        return readiness()

    if app.config["WANGGE"].testing:
        @app.route("/__testing__/crash")
        @public
        def crash():
            raise RuntimeError("deliberate crash for the logging test")


def readiness():
    """Readiness: the database must answer (else 503). Redis down while jobs go through it is
    ``degraded`` (200): requests still succeed and their notifications wait in the outbox."""
    checks = {"database": check_database(), "redis": check_redis()}
    if checks["database"] != "ok":
        err = ApiError("not_ready", status=503, details=checks, what="database")
        return jsonify(err.to_dict()), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    status = "ready" if checks["redis"] in ("ok", "inline") else "degraded"
    return jsonify({"status": status, **checks})


def check_database() -> str:
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        log.warning("readiness: database down: %s", str(exc).splitlines()[0])
        return "down"


def check_redis() -> str:
    if current_settings().run_jobs_inline:
        return "inline"
    try:
        redis_connection(socket_connect_timeout=2, socket_timeout=2).ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001
        log.warning("readiness: Redis down: %s", exc)
        return "down"
