"""Background work: rq on Redis in production, run inline in the embedded default."""
from __future__ import annotations

import logging
import os
from functools import wraps

from flask import has_app_context
from redis import Redis
from rq import Queue

from .config import current_settings

log = logging.getLogger(__name__)


def redis_connection(url: str | None = None, **kwargs):
    return Redis.from_url(url or current_settings().redis_url, **kwargs)


def queue(name: str | None = None, **redis_options):
    s = current_settings()
    return Queue(name or s.queue_name, connection=redis_connection(s.redis_url, **redis_options))


def enqueue(func, *args, job_id: str | None = None, **kwargs):
    """Run ``func`` in a worker, or right now when jobs run inline.

    The function must be importable by path and create its own app context
    (see ``wangge.jobs.with_app``)."""
    if current_settings().run_jobs_inline:
        return func(*args, **kwargs)
    return queue().enqueue(func, *args, job_id=job_id, **kwargs)


def with_app(func):
    """Give a job an app context when it runs in an rq worker (outside any request). In
    ``wangge worker`` every job gets a context of its own, so a job's session (and a failed
    transaction) never carries over into the next job run by the same process."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context() and not _one_context_per_job:
            return func(*args, **kwargs)
        with _worker_app().app_context():
            return func(*args, **kwargs)

    return wrapper


_app = None
_app_pid = None
_one_context_per_job = False


def run_jobs_in(app) -> None:
    """``wangge worker`` without forking: its jobs use this process's app and connection pool
    (a fresh app context each), instead of building an app, mappers and a connection per job."""
    global _app, _app_pid, _one_context_per_job
    _app, _app_pid, _one_context_per_job = app, os.getpid(), True


def _worker_app():
    """One app (and one connection pool) per worker process, not one per job."""
    global _app, _app_pid
    if _app is None or _app_pid != os.getpid():
        from . import (
            create_app,  # the package imports this module: a top-level import would be a circle
        )

        _app, _app_pid = create_app(), os.getpid()
    return _app
