"""Wangge (网格): grid-based community governance. ``create_app`` is the app factory."""
from __future__ import annotations

import importlib
import logging
from inspect import CO_COROUTINE

from flask import Flask, request, send_from_directory
from flask.sessions import SecureCookieSessionInterface

from .config import Settings

__version__ = "0.1.0"


# The domain packages, in the order they register. Each has ``init_app(app, api)``; the core
# loads them by name so that it imports none of them (see docs/architecture.md). ``console``
# (the web pages) registers last: it sits on top of the others.
DOMAINS = ("grid", "dispatch", "mobile_api", "console")


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = _Wangge(__name__)
    app.json.ensure_ascii = False  # JSON is sent as UTF-8, Chinese as characters, not \uXXXX escapes
    app.config.update(settings.flask_config())
    app.config.update(settings.extra)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    from . import auth, edge, health, hooks, input_guard, replica
    from .cli import register_commands
    from .errors import register_error_handlers
    from .extensions import api, compress, db, limiter, migrate

    hooks.init_app(app)
    app.session_interface = _CookieSessionWhenSent()
    db.init_app(app)
    _sqlite_transactions(app, db)
    replica.init_app(app)  # reads marked @reads_replica, when WANGGE_REPLICA_DATABASE_URL is set
    _one_limiter_per_app(app, limiter)
    _init_compress(app, compress, settings)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    _init_api_docs(app)
    api.init_app(app)
    auth.init_app(app)
    input_guard.init_app(app)
    register_error_handlers(app)
    health.init_app(app)
    register_commands(app)
    for name in DOMAINS:
        importlib.import_module(name).init_app(app, api)
    _document_error_ranges(api)
    edge.init_app(app)
    return app


class _Wangge(Flask):
    def ensure_sync(self, func):
        """Flask asks this of every hook, view and decorator layer on every request (~17 times
        a report), through ``inspect.iscoroutinefunction``. A plain function or method whose
        code is not a coroutine's is returned at once; anything else goes the usual way."""
        code = getattr(func, "__code__", None)
        if code is not None and not code.co_flags & CO_COROUTINE:
            return func
        return super().ensure_sync(func)


class _CookieSessionWhenSent(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened only when the request carries its cookie: no view
    uses it (the console has its own cookie, ``wangge.auth``), and opening it builds a signing
    serializer on every request. Without the cookie the answer is the same empty session."""

    def open_session(self, app, request):
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def _one_limiter_per_app(app: Flask, limiter) -> None:
    """Flask-Limiter keeps its storage on the (process-wide) extension object, so the last app
    created would count every app's requests in its own storage: a second app built in the same
    process (a test's SQLite app, a CLI app inside a server) silently moved the first one's
    limits to memory. Each app remembers the storage its own settings chose and puts it back
    before the limiter's check runs (registered first, so it runs first)."""

    @app.before_request
    def _bind_limiter_storage():
        storage, strategy = app.extensions["wangge_limiter_storage"]
        if limiter._storage is not storage:
            limiter._storage, limiter._limiter = storage, strategy

    limiter.init_app(app)
    app.extensions["wangge_limiter_storage"] = (limiter._storage, limiter._limiter)
    _limiter_check_where_limits_are(app, limiter)


def _limiter_check_where_limits_are(app: Flask, limiter) -> None:
    """Flask-Limiter's before-request check resolves the limits of every request (a few percent
    of a report's CPU), though only sign-in, the citizens' endpoints and Open311 have any. A
    limit set with ``@limiter.limit`` on a view is checked by its decorator whatever this hook
    does; the hook itself adds only application and default limits (none are configured, but
    if some were, it runs everywhere), a blueprint's limits (Open311), limits it learnt from a
    decorated callable's earlier calls (hints), and the in-memory fallback while the storage is
    down. Where none of these can apply, it is skipped."""
    check = limiter._check_request_limit
    funcs = app.before_request_funcs.setdefault(None, [])
    manager = limiter.limit_manager
    by_blueprint: dict[str | None, bool] = {None: False}

    def _check_limits():
        blueprint = request.blueprint
        limited = by_blueprint.get(blueprint)
        if limited is None:  # blueprint limits are set when the blueprint is defined, at import
            limited = by_blueprint[blueprint] = bool(manager.blueprint_limits(app, blueprint))
        if (limited or limiter._storage_dead or manager.has_hints(request.endpoint or "")
                or manager.application_limits or manager.default_limits):
            check()

    funcs[funcs.index(check)] = _check_limits


def _init_compress(app: Flask, compress, settings: Settings) -> None:
    """gzip JSON and GeoJSON answers of at least ``compress_min_bytes`` for clients that send
    ``Accept-Encoding: gzip`` (phones on a bad network). Registered before the edge's commit
    hook, so it runs after it (Flask runs after-request hooks in reverse): only the final
    answer is compressed. Streams (file downloads) are left alone. A strong ETag of a
    compressed answer becomes ``"<etag>:gzip"``; views that answer If-None-Match accept both."""
    app.config.setdefault("COMPRESS_MIMETYPES", ["application/json", "application/geo+json"])
    app.config.setdefault("COMPRESS_ALGORITHM", ["gzip"])
    app.config.setdefault("COMPRESS_MIN_SIZE", settings.compress_min_bytes)
    app.config.setdefault("COMPRESS_STREAMS", False)
    compress.init_app(app)


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


