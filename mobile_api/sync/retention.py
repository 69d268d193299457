"""The change feed's retention: rows older than ``WANGGE_SYNC_FEED_RETENTION_DAYS`` are
deleted in bounded batches, each batch committed with the horizon it raises
(``sync_feed_horizon``: the highest id and transaction id deleted), so a pull whose cursor
needs a deleted row learns it (``feed.pruned_past``) and starts again with a snapshot.

Run by the worker's tick (:func:`periodic`, at most ``TICK_BATCHES`` batches per tick, the
rest on the next ticks) and by ``wangge sync prune`` (everything, with a progress bar).
Safe to run twice at once: on PostgreSQL a batch takes its rows with ``SKIP LOCKED`` and the
horizon only ever grows; SQLite has one writer at a time."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, or_, select, update

from mobile_api.sync.feed import is_postgresql
from mobile_api.sync.models import SyncFeed, SyncFeedHorizon
from wangge.config import current_settings
from wangge.timeutil import utcnow

BATCH = 5000        # rows deleted per statement (and per commit)
TICK_BATCHES = 20   # batches per worker tick: a long backlog is worked off over several ticks


def cutoff(days: int | None = None, *, now: datetime | None = None) -> datetime:
    """Rows created before this are pruned. ``days`` below 1 is refused (the feed of the
    last day is what every phone's next pull reads)."""
    days = current_settings().sync_feed_retention_days if days is None else days
    if type(days) is not int or days < 1:
        raise ValueError(f"the sync feed's retention must be at least 1 day (got {days!r})")
    return (now or utcnow()) - timedelta(days=days)


def expired(session, before: datetime) -> int:
    """How many rows are older than ``before``."""
    return int(session.scalar(select(func.count()).select_from(SyncFeed).where(SyncFeed.created_at < before)))


def prune_batch(session, before: datetime, limit: int = BATCH) -> int:
    """Delete at most ``limit`` rows older than ``before`` (oldest first) and raise the
    horizon over them, in the session's transaction (the caller commits); how many went."""
    chosen = select(SyncFeed.id).where(SyncFeed.created_at < before).order_by(SyncFeed.created_at).limit(limit)
    if is_postgresql(session):
        chosen = chosen.with_for_update(skip_locked=True)
    gone = session.execute(delete(SyncFeed).where(SyncFeed.id.in_(chosen.scalar_subquery()))
                           .returning(SyncFeed.id, SyncFeed.txid)).all()
    if not gone:
        return 0
    top_id = max(row.id for row in gone)
    txids = [row.txid for row in gone if row.txid is not None]
    values = {
        "pruned_id": case((SyncFeedHorizon.pruned_id < top_id, top_id), else_=SyncFeedHorizon.pruned_id),
        "pruned_rows": SyncFeedHorizon.pruned_rows + len(gone),
        "pruned_at": utcnow(),
    }
    if txids:
        top_txid = max(txids)
        values["pruned_txid"] = case((or_(SyncFeedHorizon.pruned_txid.is_(None), SyncFeedHorizon.pruned_txid < top_txid),
                                      top_txid), else_=SyncFeedHorizon.pruned_txid)
    done = session.execute(update(SyncFeedHorizon).where(SyncFeedHorizon.id == 1).values(**values))
    if done.rowcount == 0:  # the row of migration 0013 deleted by hand: put it back
        session.add(SyncFeedHorizon(id=1, pruned_id=top_id, pruned_txid=max(txids) if txids else None,
                                    pruned_rows=len(gone), pruned_at=utcnow()))
        session.flush()
    return len(gone)


def prune(session, *, days: int | None = None, batch: int = BATCH, max_batches: int | None = None,
          on_batch: Callable[[int], None] | None = None) -> dict:
    """Delete the expired rows batch by batch, committing each; stops when none is left or
    after ``max_batches``. ``on_batch(n)`` after each batch (a progress bar)."""
    before = cutoff(days)
    deleted = batches = 0
    while max_batches is None or batches < max_batches:
        try:
            n = prune_batch(session, before, batch)
            session.commit()
        except Exception:
            session.rollback()
            raise
        if not n:
            break
        deleted, batches = deleted + n, batches + 1
        if on_batch:
            on_batch(n)
        if n < batch:
            break
    return {"deleted": deleted, "before": before.isoformat(), "more": max_batches is not None
            and batches >= max_batches}


def horizon(session) -> SyncFeedHorizon | None:
    return session.get(SyncFeedHorizon, 1, populate_existing=True)


def periodic(session) -> dict:
    """The worker's tick (``hooks().periodic``): at most ``TICK_BATCHES`` batches."""
    return prune(session, max_batches=TICK_BATCHES)
