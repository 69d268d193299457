"""The periodic part of ``wangge worker``: every ``WANGGE_SWEEP_INTERVAL_SECONDS`` a tick job
runs the functions the domains registered in ``hooks().periodic`` (deadline sweeps, outbox
relay).

Each worker process runs a ``Ticker`` thread that enqueues the tick job with an id made of the
interval number (``<queue>-tick-<n>``, enqueued with ``unique=True``), so however many workers
run, one tick per interval reaches the queue; the periodic functions themselves must be safe
to run twice (they lock or skip locked rows). The thread never touches the database (the
worker forks its jobs). While Redis is down no tick is enqueued: the ticker retries every few
seconds (1, 2, 4 s..., at most ``RETRY_CAP_SECONDS``) and, as soon as Redis answers again,
enqueues a recovery tick at once (``<queue>-recover-<n>``) instead of waiting for the next
interval."""
from __future__ import annotations

import logging
import re
import threading
import time

from rq.exceptions import DuplicateJobError

from .extensions import db
from .hooks import hooks
from .jobs import with_app

log = logging.getLogger(__name__)

RETRY_CAP_SECONDS = 5.0


def run_periodic(session) -> dict:
    """Run every registered periodic function once; each commits its own work."""
    return {fn.__module__ + "." + fn.__name__: fn(session) for fn in hooks().periodic}


@with_app
def tick_job() -> dict:

    result = run_periodic(db.session)
    log.info("tick: %s", result)
    return result


def tick_job_id(queue_name: str, interval: float, at: float | None = None, kind: str = "tick") -> str:
    bucket = int((time.time() if at is None else at) // max(interval, 1.0))
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', queue_name)}-{kind}-{bucket}"


def enqueue_tick(queue, interval: float, at: float | None = None, *, recovery: bool = False) -> bool:
    """Enqueue this interval's tick unless some worker already did; False if it was there.
    ``recovery``: the extra tick after a Redis outage (one per interval however many workers)."""

    ttl = int(max(interval, 1.0)) * 2 + 60  # the id must outlive its interval
    kind = "recover" if recovery else "tick"
    try:
        queue.enqueue(tick_job, job_id=tick_job_id(queue.name, interval, at, kind), unique=True,
                      result_ttl=ttl, failure_ttl=max(ttl, 86400), ttl=ttl, description="periodic tick")
    except DuplicateJobError:
        return False
    return True


class Ticker(threading.Thread):
    """Enqueues a tick at every interval boundary until ``stop()``."""

    def __init__(self, queue, interval: float):
        super().__init__(name="wangge-ticker", daemon=True)
        self.queue = queue
        self.interval = max(float(interval), 1.0)
        self._stop_event = threading.Event()

    def run(self) -> None:
        failures = 0
        while not self._stop_event.is_set():
            try:
                enqueue_tick(self.queue, self.interval)
                if failures:
                    log.info("Redis is back after %d failed attempts: enqueueing a recovery tick", failures)
                    enqueue_tick(self.queue, self.interval, recovery=True)
                failures = 0
            except Exception as exc:  # Redis down: retry soon, with backoff
                failures += 1
                retry = min(RETRY_CAP_SECONDS, 2.0 ** (failures - 1), self.interval)
                log.warning("could not enqueue the periodic tick (attempt %d, retry in %.0f s): %s",
                            failures, retry, exc)
                self._stop_event.wait(retry)
                continue
            now = time.time()
            self._stop_event.wait(self.interval - now % self.interval + 0.05)

    def stop(self) -> None:
        self._stop_event.set()


class Frequent(threading.Thread):
    """Runs ``hooks().frequent`` (the outbox relay) in this process every ``interval`` seconds,
    in an app context and database session of its own, until ``stop()``. A failure (the
    database away) is logged and retried with backoff, as the ticker does."""

    def __init__(self, app, interval: float):
        super().__init__(name="wangge-frequent", daemon=True)
        self.app = app
        self.interval = float(interval)
        self._stop_event = threading.Event()

    def run(self) -> None:
        failures = 0
        wait = self.interval
        while not self._stop_event.wait(wait):
            with self.app.app_context():
                try:
                    for fn in hooks().frequent:
                        fn(db.session)
                    failures, wait = 0, self.interval
                except Exception as exc:
                    failures += 1
                    wait = min(RETRY_CAP_SECONDS, max(self.interval, 2.0 ** (failures - 1)))
                    log.warning("the frequent work failed (attempt %d, again in %.1f s): %s", failures, wait, exc)
                finally:
                    try:
                        db.session.rollback()
                    finally:
                        db.session.remove()

    def stop(self) -> None:
        self._stop_event.set()
