"""Dispatch's periodic work, run by the worker's tick (``wangge.ticker``) every
``WANGGE_SWEEP_INTERVAL_SECONDS``: sweep the stage deadlines (of cases and enforcement cases
alike, in one sweep), then relay the outbox. Safe to run twice at once: the sweep skips locked
clocks and marks what it notified, the relay claims rows with ``SKIP LOCKED``. The first sweep after an outage finds
everything that crossed a threshold meanwhile, because it looks for unmarked clocks, not for
a time window; the relay re-enqueues what an emptied Redis lost (``dispatch.notifications.outbox``)."""
from __future__ import annotations

from datetime import datetime

from dispatch.clocks.deadlines import sweep
from dispatch.notifications.outbox import relay_pending


def tick(session, *, now: datetime | None = None, relay_limit: int = 500) -> dict:
    """Sweep deadlines (committed on its own), then relay pending outbox rows."""
    try:
        counts = sweep(session, now=now)
        session.commit()
    except Exception:
        session.rollback()
        raise
    counts["relay"] = relay_pending(session, limit=relay_limit)
    return counts
