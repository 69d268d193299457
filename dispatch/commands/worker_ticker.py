"""The periodic part of ``wangge worker``: every ``WANGGE_SWEEP_INTERVAL_SECONDS`` a tick job
runs the deadline sweep and relays the outbox.

Each worker process runs a ``Ticker`` thread that enqueues the tick job with an id made of the
interval number (``<queue>-tick-<n>``, enqueued with ``unique=True``), so however many workers
run, one tick per interval reaches the queue; and were two ticks to run at once anyway, the
sweep skips locked clocks and marks what it notified, and the relay claims rows with
``SKIP LOCKED``. The thread never touches the database (the worker forks its jobs).
While Redis is down no tick is enqueued: the ticker retries every few seconds (1, 2, 4 s...,
at most ``RETRY_CAP_SECONDS``) and, as soon as Redis answers again, enqueues a recovery tick
at once (``<queue>-recover-<n>``) instead of waiting for the next interval. Its relay hands
over what was written meanwhile and, when Redis came back empty, re-enqueues the jobs lost with
it (see ``dispatch.outbox``). The first sweep afterwards finds everything that crossed a
threshold meanwhile, because it looks for unmarked clocks, not for a time window.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from datetime import datetime

from wangge.jobs import with_app

log = logging.getLogger(__name__)

RETRY_CAP_SECONDS = 5.0


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


def tick_job_id(queue_name: str, interval: float, at: float | None = None, kind: str = "tick") -> str:
    bucket = int((time.time() if at is None else at) // max(interval, 1.0))
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', queue_name)}-{kind}-{bucket}"


def enqueue_tick(queue, interval: float, at: float | None = None, *, recovery: bool = False) -> bool:
    """Enqueue this interval's tick unless some worker already did; False if it was there.
    ``recovery``: the extra tick after a Redis outage (one per interval however many workers)."""
    from rq.exceptions import DuplicateJobError

    ttl = int(max(interval, 1.0)) * 2 + 60  # the id must outlive its interval
    kind = "recover" if recovery else "tick"
    try:
        queue.enqueue(tick_job, job_id=tick_job_id(queue.name, interval, at, kind), unique=True,
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
                log.warning("could not enqueue the sweep tick (attempt %d, retry in %.0f s): %s",
                            failures, retry, exc)
                self._stop_event.wait(retry)
                continue
            now = time.time()
            self._stop_event.wait(self.interval - now % self.interval + 0.05)

    def stop(self) -> None:
        self._stop_event.set()
