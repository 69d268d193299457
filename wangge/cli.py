"""The ``wangge`` command: Flask's CLI with the project's command groups."""
from __future__ import annotations

import click
from flask.cli import FlaskGroup, with_appcontext


def _create_app():
    from . import create_app

    return create_app()


def main() -> None:
    cli = FlaskGroup(create_app=_create_app, help="Wangge 网格: grid registry and unified dispatch.")
    cli.main(prog_name="wangge")


def upgrade_database() -> None:
    """Apply migrations (creates the PostGIS extension on PostgreSQL)."""
    from flask_migrate import upgrade

    upgrade()


def register_commands(app) -> None:
    from grid.cli import register as register_grid

    @app.cli.command("init")
    @with_appcontext
    def init():
        """Create or upgrade the schema and load the default category catalog."""
        from grid.catalog import load_catalog
        from wangge.extensions import db

        upgrade_database()
        counts = load_catalog(db.session)
        db.session.commit()
        click.echo(f"schema up to date; catalog: {counts['categories']} categories, {counts['limits']} limits")

    @app.cli.command("serve")
    @click.option("--host", default=None, help="default WANGGE_HOST or 127.0.0.1")
    @click.option("--port", type=int, default=None, help="default WANGGE_PORT or 8000")
    @click.option("--demo/--no-demo", default=None, help="load the demo city on first start")
    @with_appcontext
    def serve(host, port, demo):
        """Upgrade the schema, load the demo on first start, and serve HTTP."""
        from flask import current_app

        from grid.demo import demo_loaded, load_demo
        from wangge.extensions import db

        settings = current_app.config["WANGGE"]
        upgrade_database()
        if (settings.load_demo if demo is None else demo) and not demo_loaded(db.session):
            summary = load_demo(db.session, echo=click.echo)
            db.session.commit()
            click.echo(f"demo loaded: {summary}")
        host, port = host or settings.host, port or settings.port
        backend = "SQLite (embedded)" if settings.embedded else "PostgreSQL/PostGIS"
        jobs = "inline" if settings.run_jobs_inline else f"rq on {settings.redis_url}"
        click.echo(f"Wangge on http://{host}:{port}  storage: {backend}  jobs: {jobs}  docs: /api/docs")
        from werkzeug.serving import run_simple

        # The built-in threaded server suits the quick start and small sites; for production
        # put a WSGI server in front of wangge.wsgi:app (see README).
        run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="exit when the queue is empty")
    @with_appcontext
    def worker(burst):
        """Start an rq worker with its scheduler and the deadline ticker (run several for more
        throughput: ticks are unique per interval, sweeps and relays skip locked rows)."""
        from flask import current_app
        from rq import Worker

        from dispatch.commands.worker_ticker import Ticker, enqueue_tick
        from wangge.extensions import db
        from wangge.jobs import queue

        settings = current_app.config["WANGGE"]
        q = queue()
        # Jobs run in forked processes: leave them no pooled connection to share.
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
        ticker = None
        if burst:
            enqueue_tick(q, settings.sweep_interval_seconds)
        elif settings.sweep_interval_seconds > 0:
            ticker = Ticker(q, settings.sweep_interval_seconds)
            ticker.start()
        try:
            Worker([q], connection=q.connection).work(with_scheduler=True, burst=burst)
        finally:
            if ticker is not None:
                ticker.stop()

    register_grid(app)
    from dispatch.cli import register as register_dispatch

    register_dispatch(app)
