"""The production server: gunicorn on ``wangge.wsgi:app``, started by ``wangge serve`` on
PostgreSQL (docs/operations.md, "Serving").

``wangge serve`` migrates (and loads the demo) once in the master, disposes its engines, then
hands over to gunicorn's arbiter in the same process. Workers are not preloaded: each one
imports ``wangge.wsgi`` after the fork and builds its own app, engine and pool, so no database
connection crosses a fork, and a SIGHUP (new workers) picks up new code and settings.

- ``gthread`` workers: threads per process, and keep-alive really kept (the sync worker
  closes every connection);
- ``max_requests`` with jitter: workers are replaced now and then, not all at once;
- SIGHUP: new workers are started, the old ones finish their requests and exit;
  SIGTERM/SIGINT: stop accepting, let requests in flight finish (``graceful_timeout``), exit 0.
"""
from __future__ import annotations

from gunicorn.app.base import BaseApplication

from .config import Settings

WSGI_APP = "wangge.wsgi:app"


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def gunicorn_options(settings: Settings, *, host: str, port: int, workers: int | None = None,
                     threads: int | None = None) -> dict:
    """gunicorn's settings from ours (WANGGE_WEB_*), with the command line's overrides."""
    return {
        "bind": [bind_address(host, port)],
        "workers": workers or settings.web_workers,
        "worker_class": "gthread",
        "threads": threads or settings.web_threads,
        "keepalive": settings.web_keepalive_seconds,
        "max_requests": settings.web_max_requests,
        "max_requests_jitter": settings.web_max_requests_jitter,
        "timeout": settings.web_timeout_seconds,
        "graceful_timeout": settings.web_graceful_timeout_seconds,
        "preload_app": False,
        "proc_name": "wangge",
        "errorlog": "-",
        "loglevel": "info",
    }


class Server(BaseApplication):
    """gunicorn driven from ``wangge serve``: no command line or config file of its own to read."""

    def __init__(self, options: dict, after_fork=None):
        self.options = options
        self.after_fork = after_fork
        super().__init__()

    def load_config(self) -> None:  # called again on SIGHUP
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn >= 25.1 opens one control socket per user ($HOME/.gunicorn/gunicorn.ctl):
            # two servers on one machine would fight over it. Signals manage ours.
            self.cfg.set("control_socket_disable", True)
        if self.after_fork is not None:
            after_fork = self.after_fork

            def post_fork(server, worker):
                after_fork()

            self.cfg.set("post_fork", post_fork)

    def load(self):  # in each worker, after the fork
        from gunicorn.util import import_app

        return import_app(WSGI_APP)


def run(settings: Settings, *, host: str, port: int, workers: int | None = None,
        threads: int | None = None, after_fork=None) -> None:
    """Serve until SIGTERM/SIGINT (exits 0)."""
    Server(gunicorn_options(settings, host=host, port=port, workers=workers, threads=threads),
           after_fork=after_fork).run()
