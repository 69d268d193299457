"""The periodic part of ``wangge worker``: every ``WANGGE_SWEEP_INTERVAL_SECONDS`` a tick job
runs the deadline sweep and relays the outbox.

Each worker process runs a ``Ticker`` thread that enqueues the tick job with an id made of the
interval number (``<queue>-tick-<n>``, enqueued with ``unique=True``), so however many workers
run, one tick per interval reaches the queue; and were two ticks to run at once anyway, the
sweep skips locked clocks and marks what it notified, and the relay claims rows with
``SKIP LOCKED``. The thread never touches the database (the worker forks its jobs).
While Redis is down no tick is enqueued; the first sweep afterwards finds everything that
crossed a threshold meanwhile, because it looks for unmarked clocks, not for a time window.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from datetime import datetime

from wangge.jobs import with_app

log = logging.getLogger(__name__)


def tick(session, *, now: datetime | None = None, relay_limit: int = 500) -> dict:
    """Sweep deadlines (committed on its own), then relay pending outbox rows."""
    from dispatch.deadlines import sweep
    from dispatch.enforcement import sweep as sweep_enforcement
    from dispatch.outbox import relay_pending

    try:
        counts = sweep(session, now=now)
        counts["enforcement"] = sweep_enforcement(session, now=now)
        session.commit()
    except Exception:
        session.rollback()
        raise
    counts["relay"] = relay_pending(session, limit=relay_limit)
    return counts


@with_app
def tick_job() -> dict:
    from wangge.extensions import db

    result = tick(db.session)
    log.info("tick: %s", result)
    return result


def tick_job_id(queue_name: str, interval: float, at: float | None = None) -> str:
    bucket = int((time.time() if at is None else at) // max(interval, 1.0))
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', queue_name)}-tick-{bucket}"


def enqueue_tick(queue, interval: float, at: float | None = None) -> bool:
    """Enqueue this interval's tick unless some worker already did; False if it was there."""
    from rq.exceptions import DuplicateJobError

    ttl = int(max(interval, 1.0)) * 2 + 60  # the id must outlive its interval
    try:
        queue.enqueue(tick_job, job_id=tick_job_id(queue.name, interval, at), unique=True,
                      result_ttl=ttl, failure_ttl=max(ttl, 86400), ttl=ttl, description="sweep deadlines, relay outbox")
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
        while not self._stop_event.is_set():
            try:
                enqueue_tick(self.queue, self.interval)
            except Exception as exc:  # Redis down: try again next interval
                log.warning("could not enqueue the sweep tick: %s", exc)
            now = time.time()
            self._stop_event.wait(self.interval - now % self.interval + 0.05)

    def stop(self) -> None:
        self._stop_event.set()
