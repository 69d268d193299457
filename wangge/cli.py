"""The ``wangge`` command: Flask's CLI with the project's command groups."""
from __future__ import annotations

import logging
import signal
import sys
import threading

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade
from rq import SimpleWorker, Worker
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError
from werkzeug.serving import run_simple

from .config import current_settings
from .errors import ApiError, is_database_unavailable
from .extensions import db
from .hooks import hooks
from .jobs import queue, run_jobs_in
from .ticker import Frequent, Ticker, enqueue_tick

log = logging.getLogger(__name__)

WORKER_RETRY_CAP_SECONDS = 10.0


def fail(err: ApiError) -> None:
    """Print an error (with its per-feature, per-row and per-field problems) and exit 2."""
    click.echo(f"error [{err.code}]: {err.message}", err=True)
    details = err.details or []
    for d in details[:200] if isinstance(details, list) else []:
        if "index" in d:
            click.echo(f"  feature #{d['index']} code={d['code']}: {d['reason_text']} ({d['detail']})", err=True)
        elif "line" in d:
            click.echo(f"  line {d['line']} {d['column']}={d['value']!r}: {d['message']}", err=True)
    if isinstance(details, list) and len(details) > 200:
        click.echo(f"  ... and {len(details) - 200} more", err=True)
    for name, msgs in (err.fields or {}).items():
        click.echo(f"  {name}: {'; '.join(map(str, msgs))}", err=True)
    sys.exit(2)


def progress(total: int, label: str):
    """A progress bar on stderr for long commands (imports, exports)."""
    return click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)


def _create_app():
    from . import (
        create_app,  # the package imports this module: a top-level import would be a circle
    )

    return create_app()


def main() -> None:
    cli = FlaskGroup(create_app=_create_app, help="Wangge 网格: grid registry and unified dispatch.")
    try:
        cli.main(prog_name="wangge", standalone_mode=True)
    except DBAPIError as exc:
        line = _database_problem(exc)
        if line is None:
            raise
        click.echo(line, err=True)
        sys.exit(2)


def _database_problem(exc: DBAPIError) -> str | None:
    """One clear line for a command that failed on the database itself: never initialised, or
    unreachable. None for other errors (their traceback is the useful report)."""


    app = _create_app()
    with app.app_context():

        try:
            initialised = inspect(db.engine).has_table("alembic_version")
        except Exception as probe:  # noqa: BLE001 - cannot even connect
            if not (is_database_unavailable(exc) or is_database_unavailable(probe)):
                return None
            detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            return f"error [database_unavailable]: {ApiError('database_unreachable', detail=detail).message}"
        if not initialised:
            return f"error [database_not_initialised]: {ApiError('database_not_initialised').message}"
    return None


def upgrade_database() -> None:
    """Apply migrations (creates the PostGIS extension on PostgreSQL)."""

    upgrade()


def register_commands(app) -> None:
    """The core's commands; each domain adds its own groups in its ``init_app``."""
    @app.cli.command("init")
    @with_appcontext
    def init():
        """Create or upgrade the schema and load the reference data (the category catalog)."""

        upgrade_database()
        lines = [load(db.session) for load in hooks().on_init]
        db.session.commit()
        click.echo("; ".join(["schema up to date", *lines]))

    @app.cli.command("serve")
    @click.option("--host", default=None, help="default WANGGE_HOST or 127.0.0.1")
    @click.option("--port", type=int, default=None, help="default WANGGE_PORT or 8000")
    @click.option("--demo/--no-demo", default=None, help="load the demo city on first start")
    @click.option("--workers", type=click.IntRange(min=1), default=None,
                  help="gunicorn worker processes (PostgreSQL only); default WANGGE_WEB_WORKERS or 2")
    @click.option("--threads", type=click.IntRange(min=1), default=None,
                  help="threads per worker; default WANGGE_WEB_THREADS or 4")
    @click.option("--dev", is_flag=True,
                  help="the development server even on PostgreSQL (the embedded default always uses it)")
    @with_appcontext
    def serve(host, port, demo, workers, threads, dev):
        """Upgrade the schema, load the demo on first start, and serve HTTP: gunicorn on
        PostgreSQL, the development server for the embedded default (or with --dev)."""


        settings = current_settings()
        production = not (settings.embedded or dev)
        if not production and (workers or threads):
            why = "--dev" if dev else "the embedded default (SQLite)"
            raise click.UsageError(f"--workers/--threads run gunicorn on PostgreSQL; {why} uses "
                                   "the single-process development server")
        upgrade_database()
        demo_hooks = hooks().demo
        if (settings.load_demo if demo is None else demo) and demo_hooks is not None and not demo_hooks[0](db.session):
            load_demo = demo_hooks[1]
            summary = load_demo(db.session, echo=click.echo)
            db.session.commit()
            click.echo(f"demo loaded: {summary}")
        # End the start-up transaction: left open, its read lock would block every write on
        # SQLite and sit "idle in transaction" on PostgreSQL for the life of the server.
        db.session.commit()
        db.session.remove()
        host, port = host or settings.host, port or settings.port
        backend = "SQLite (embedded)" if settings.embedded else "PostgreSQL/PostGIS"
        jobs = "inline" if settings.run_jobs_inline else f"rq on {settings.redis_url}"
        server = "gunicorn" if production else "development server"
        click.echo(f"Wangge on http://{host}:{port}  storage: {backend}  jobs: {jobs}  server: {server}  "
                   "docs: /api/docs")
        if production:
            from . import serving  # gunicorn is imported only when it serves

            # Workers build their own app and engine after the fork (serving.py); the master's
            # pool is emptied now, and again in each child, so no connection crosses a fork.
            for engine in db.engines.values():
                engine.dispose()
            engines = list(db.engines.values())
            serving.run(settings, host=host, port=port, workers=workers, threads=threads,
                        after_fork=lambda: [engine.dispose(close=False) for engine in engines])
            return
        # The built-in threaded server: the quick start and small sites on the embedded default.
        run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="exit when the queue is empty")
    @click.option("--fork/--no-fork", default=False, show_default=True,
                  help="run each job in a forked child (isolation, at ~40-80 ms of setup per job)")
    @with_appcontext
    def worker(burst, fork):
        """Start an rq worker with its scheduler and the deadline ticker (run several for more
        throughput: ticks are unique per interval, sweeps and relays skip locked rows)."""


        settings = current_settings()
        q = queue(socket_connect_timeout=5, health_check_interval=30)
        # No connection opened so far may cross into a forked job or the scheduler's process.
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
        ticker = None
        worker_class = Worker if fork else SimpleWorker
        if not fork:
            run_jobs_in(current_app._get_current_object())
        if burst:
            enqueue_tick(q, settings.sweep_interval_seconds)
            worker_class([q], connection=q.connection).work(with_scheduler=True, burst=True)
            return
        if settings.sweep_interval_seconds > 0:
            ticker = Ticker(q, settings.sweep_interval_seconds)
            ticker.start()
        frequent = None
        if settings.relay_interval_seconds > 0:
            frequent = Frequent(current_app._get_current_object(), settings.relay_interval_seconds)
            frequent.start()
        try:
            run_worker_forever(q, lambda: worker_class([q], connection=q.connection),
                               recover=lambda: enqueue_tick(q, settings.sweep_interval_seconds or 60,
                                                            recovery=True))
        finally:
            if ticker is not None:
                ticker.stop()
            if frequent is not None:
                frequent.stop()



def run_worker_forever(q, make_worker, recover) -> None:
    """Run rq workers until a stop signal. rq gives up when Redis fails outside its dequeue
    loop (while a job runs, in maintenance, at start): then wait for Redis with backoff, start
    a new worker and enqueue a recovery tick (``recover``), which relays at once what waited
    in the outbox meanwhile."""
    stop = threading.Event()
    delay = 1.0
    while not stop.is_set():
        worker = make_worker()
        worker.max_connection_wait_time = WORKER_RETRY_CAP_SECONDS  # rq's own reconnect backoff
        try:
            worker.work(with_scheduler=True)
            failure = None
        except Exception as exc:  # redis.ConnectionError, TimeoutError... from rq's teardown
            failure = exc
        if worker._stop_requested or _was_stopped(worker):
            return
        _on_signals(stop)  # rq's handlers belong to the worker that has just given up
        log.warning("the worker stopped (%s); waiting for Redis, retrying with backoff",
                    failure or "rq gave up")
        while not stop.is_set():
            if _redis_answers(q.connection):
                break
            log.warning("Redis unreachable; retrying in %.0f s", delay)
            stop.wait(delay)
            delay = min(delay * 2, WORKER_RETRY_CAP_SECONDS)
        if stop.is_set():
            return
        delay = 1.0
        log.info("Redis answers again: restarting the worker and relaying the outbox")
        try:
            recover()
        except Exception as exc:  # noqa: BLE001 - the ticker's next tick relays anyway
            log.warning("could not enqueue the recovery tick: %s", exc)


def _was_stopped(worker) -> bool:
    """rq quits its loop quietly on a stop signal while idle (StopRequested)."""
    return getattr(worker, "_shutdown_requested_date", None) is not None


def _on_signals(stop: threading.Event) -> None:
    def _handler(signum, frame):
        log.info("stop requested (signal %s)", signum)
        stop.set()

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)


def _redis_answers(conn) -> bool:
    try:
        return bool(conn.ping())
    except Exception:  # noqa: BLE001
        return False
