"""Wangge (网格): grid-based community governance. ``create_app`` is the app factory."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, send_from_directory

from .config import Settings

__version__ = "0.1.0"


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(settings.flask_config())
    app.config.update(settings.extra)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    from .extensions import api, db, limiter, migrate

    db.init_app(app)
    _sqlite_transactions(app, db)
    limiter.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    _init_api_docs(app)
    api.init_app(app)

    from . import input_guard
    from .errors import register_error_handlers

    input_guard.init_app(app)
    register_error_handlers(app)
    _register_blueprints(app, api)
    _document_error_ranges(api)
    _commit_at_the_edge(app)

    from .cli import register_commands

    register_commands(app)
    return app


def _sqlite_transactions(app: Flask, db) -> None:
    """Let SQLAlchemy, not pysqlite, begin SQLite transactions. pysqlite defers BEGIN until
    the first write, so a SAVEPOINT opened first becomes the outermost transaction and its
    RELEASE commits: a request that failed after ``begin_nested()`` kept its partial work on
    the embedded default (the documented SQLAlchemy recipe for pysqlite)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _explicit_begin(connection):
        connection.exec_driver_sql("BEGIN")


def _document_error_ranges(api) -> None:
    """Errors are 4xx and 5xx answers, not "any other status": flask-smorest documents them as
    ``default``, which would also describe every undocumented success with the error schema.
    An operation that documents its own 4XX/5XX (Open311's error list) keeps them."""
    error = {"$ref": "#/components/responses/DEFAULT_ERROR"}
    for item in api.spec._paths.values():
        for operation in item.values():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if not responses or "default" not in responses:
                continue
            default = responses.pop("default")
            responses.setdefault("4XX", default if default else error)
            responses.setdefault("5XX", default if default else error)


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).parent / "migrations"


def _init_api_docs(app: Flask) -> None:
    import swagger_ui_bundle

    app.config.update({
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        # Served from the installed package, so the docs page works on offline intranets.
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
        "API_SPEC_OPTIONS": {
            "info": {"description": "网格化社会治理：网格、部门、人员、类别、责任矩阵、时限与工作日历。"
                                    " Errors: {status, code, message, fields}."},
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    })

    from .auth import public

    @app.route("/api/docs/assets/<path:filename>")
    @public
    def swagger_assets(filename):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    @app.route("/healthz")
    @public
    def healthz():
        """Liveness: the process answers. It never touches the database or Redis."""
        return jsonify({"status": "ok"})

    @app.route("/readyz")
    @public
    def readyz():
        return _readiness()

    if app.config["WANGGE"].testing:
        # Only in test configurations: a route that fails, to see how a 500 is logged.
        @app.route("/__testing__/crash")
        @public
        def crash():
            raise RuntimeError("deliberate crash for the logging test")


def _readiness():
    """Readiness: the database must answer (else 503). Redis down while jobs go through it is
    ``degraded`` (200): requests still succeed and their notifications wait in the outbox."""
    from .errors import RETRY_AFTER_SECONDS, ApiError

    checks = {"database": _check_database(), "redis": _check_redis()}
    if checks["database"] != "ok":
        err = ApiError("not_ready", status=503, details=checks, what="database")
        return jsonify(err.to_dict()), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    status = "ready" if checks["redis"] in ("ok", "inline") else "degraded"
    return jsonify({"status": status, **checks})


def _check_database() -> str:
    from sqlalchemy import text

    from .extensions import db

    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        logging.getLogger(__name__).warning("readiness: database down: %s", str(exc).splitlines()[0])
        return "down"


def _check_redis() -> str:
    from flask import current_app

    if current_app.config["WANGGE"].run_jobs_inline:
        return "inline"
    from dispatch.outbox import relay_queue

    try:
        relay_queue().connection.ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001
        logging.getLogger(__name__).warning("readiness: Redis down: %s", exc)
        return "down"


def _register_blueprints(app: Flask, api) -> None:
    from dispatch.api import blueprints as dispatch_blueprints
    from grid.api import blueprints as grid_blueprints

    for bp in [*grid_blueprints, *dispatch_blueprints()]:
        api.register_blueprint(bp)


def _commit_at_the_edge(app: Flask) -> None:
    """One commit per request: services flush, the edge commits or rolls back."""
    from sqlalchemy.exc import IntegrityError

    from .errors import (
        ApiError,
        concurrent_update_response,
        database_unavailable_response,
        is_concurrency_conflict,
        is_database_unavailable,
    )
    from .extensions import db

    @app.before_request
    def _fresh_identity():
        from flask import g

        g.pop("token", None)
        g.pop("staff", None)

    from dispatch.outbox import relay_after_commit, take_new_ids

    @app.after_request
    def _finish(response):
        if response.status_code >= 400:
            _rollback_quietly()
            take_new_ids(db.session())
            return response
        try:
            db.session.commit()
        except Exception as exc:
            take_new_ids(db.session())
            if is_database_unavailable(exc):  # nothing was committed: the client should retry
                app.logger.warning("commit failed, database unavailable: %s", exc)
                return app.make_response(database_unavailable_response())
            if is_concurrency_conflict(exc):
                return app.make_response(concurrent_update_response())
            _rollback_quietly()
            if not isinstance(exc, IntegrityError):
                raise
            app.logger.warning("commit failed: %s", exc)
            err = ApiError("conflict", status=409, detail=str(getattr(exc, "orig", exc)).splitlines()[0])
            return app.make_response((jsonify(err.to_dict()), 409))
        # Notifications this request wrote are committed; hand them to the queue now (never
        # fails the request: with Redis down they stay pending for the ticker or `sla relay`).
        relay_after_commit(db.session())
        return response

    def _rollback_quietly():
        try:
            db.session.rollback()
        except Exception:  # a lost connection: the pool replaces it on the next checkout
            app.logger.warning("rollback failed", exc_info=True)
