"""Reading the change feed (``sync_feed``) in commit-safe order.

PostgreSQL assigns transaction ids when transactions start writing, and they commit in any
order; a reader must never move past a transaction that is still running. The mark of a
pull is the snapshot's ``xmax`` and its in-progress ids (``xip``): the next pull asks for
rows of transactions >= xmax or in that list, so a slow transaction that committed after
the pull is still brought by the next one. The mark is taken before anything else is read.
SQLite has one writer at a time: ids are in commit order and the mark is the next id.

Retention (``mobile_api.sync.retention``) deletes old rows and raises the horizon
(``sync_feed_horizon``); :func:`pruned_past` tells whether a mark may need a deleted row."""
from __future__ import annotations

from sqlalchemy import and_, func, or_, select, text, tuple_

from mobile_api.sync.models import SyncFeed, SyncFeedHorizon
from mobile_api.sync.sources import Mark

MAX_PENDING = 32  # more transactions in progress than this: fall back to the snapshot's xmin


def is_postgresql(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def mark(session) -> Mark:
    """Where the feed stands now, for the next pull."""
    if not is_postgresql(session):
        # the pruned ids count too: an emptied feed must not hand out a mark below them
        last = session.scalar(select(func.coalesce(func.max(SyncFeed.id), 0)))
        pruned = session.scalar(select(SyncFeedHorizon.pruned_id).where(SyncFeedHorizon.id == 1))
        return Mark(max(int(last), int(pruned or 0)) + 1)
    row = session.execute(text(
        "SELECT pg_snapshot_xmin(s)::text, pg_snapshot_xmax(s)::text, "
        "ARRAY(SELECT x::text FROM pg_snapshot_xip(s) AS x), pg_current_xact_id_if_assigned()::text "
        "FROM pg_current_snapshot() AS s")).one()
    xmin, xmax, xip = int(row[0]), int(row[1]), [int(x) for x in row[2]]
    own = None
    if row[3] is not None:  # this transaction wrote: its own rows are visible to it already
        txid = int(row[3])
        last = session.scalar(select(func.max(SyncFeed.id)).where(SyncFeed.txid == txid))
        own = (txid, int(last or 0))
        xip = [x for x in xip if x != txid]
    if xip:
        foreign = _running_elsewhere(session, xip)
        xip = [x for x in xip if x not in foreign]
    if xip:
        done = _ended_without_rows(session, xip)
        xip = [x for x in xip if x not in done]
    if len(xip) > MAX_PENDING:
        return Mark(xmin, (), own)  # every id >= xmin: a superset, some rows are sent again
    return Mark(xmax, tuple(sorted(xip)), own)


def _running_elsewhere(session, xip: list[int]) -> set[int]:
    """Those of ``xip`` running now in another database of the cluster (transaction ids are
    the cluster's, but a transaction writes one database, so these never write our feed).
    Waiting for them would only make a later prune look as if it took their rows (a reset
    for nothing). One not seen here (ended since, prepared, hidden from this role) stays."""
    low = {x & 0xFFFFFFFF: x for x in xip}  # backend_xid is 32 bits; both within 2^31 of now
    seen = session.scalars(text(
        "SELECT backend_xid::text::bigint FROM pg_stat_activity "
        "WHERE backend_xid IS NOT NULL AND datname <> current_database()"))
    return {low[x] for x in seen if x in low}


def _ended_without_rows(session, xip: list[int]) -> set[int]:
    """Those of ``xip`` that have ended (committed or rolled back) and left no row in our feed:
    one that ran in another database and ended before ``_running_elsewhere`` looked. An ended
    transaction writes nothing more, so waiting for it could only cost a reset later. Two
    statements on purpose: the rows are looked for by a statement that starts after the status
    was read (READ COMMITTED: a new snapshot), so a commit between the two is seen, never
    mistaken for "no rows". Usually the first finds none ended and the second is not sent."""
    ended = [int(x) for x in session.scalars(text(
        "SELECT x::text FROM unnest(CAST(:xs AS xid8[])) AS x "
        "WHERE pg_xact_status(x) IN ('committed', 'aborted')"), {"xs": [str(x) for x in xip]})]
    if not ended:
        return set()
    wrote = {int(x) for x in session.scalars(
        select(SyncFeed.txid).where(SyncFeed.txid.in_(ended)).distinct())}
    return set(ended) - wrote


def order_key(session):
    return SyncFeed.txid if is_postgresql(session) else SyncFeed.id


def since(session, m: Mark):
    """The feed rows that may be new after mark ``m``."""
    key = order_key(session)
    clause = key >= m.key
    if m.pending:
        clause = or_(clause, key.in_(m.pending))
    if m.own:
        txid, last = m.own
        clause = or_(and_(clause, key != txid), and_(key == txid, SyncFeed.id > last))
    return clause


def rows(session, m: Mark, after: tuple[int, int] | None, limit: int) -> list[SyncFeed]:
    """At most ``limit`` + 1 feed rows after mark ``m`` (and after position ``after``), in
    (key, id) order."""
    key = order_key(session)
    query = select(SyncFeed).where(since(session, m))
    if after is not None:
        query = query.where(tuple_(key, SyncFeed.id) > tuple_(*after))
    return list(session.scalars(query.order_by(key, SyncFeed.id).limit(limit + 1)))


def position(session, row: SyncFeed) -> tuple[int, int]:
    return (row.txid if is_postgresql(session) else row.id), row.id


def pruned_past(session, m: Mark) -> bool:
    """Whether the prune may have deleted a row that a pull from mark ``m`` needs: SQLite,
    the mark's id is at or below the highest id deleted; PostgreSQL, a transaction id the
    mark still waits for (its xmax, or one in progress then and committed since) is at or below
    the highest transaction id deleted (conservative: such a phone starts again, it never
    misses a change). Read AFTER the rows: a prune committed while a pull reads is then seen."""
    row = session.execute(select(SyncFeedHorizon.pruned_id, SyncFeedHorizon.pruned_txid)
                          .where(SyncFeedHorizon.id == 1)).first()
    if row is None:
        return False
    if not is_postgresql(session):
        return m.key <= int(row.pruned_id)
    if row.pruned_txid is None:
        return False
    top = int(row.pruned_txid)
    if m.key <= top:
        return True
    # a transaction the mark waited for (running then) lost rows only if it has committed
    # since: one still running or rolled back has none in the feed that could be deleted
    # (transaction ids are the cluster's: another database's work can be in the list)
    waited = [t for t in (*m.pending, *([m.own[0]] if m.own else ())) if t <= top]
    if not waited:
        return False
    states = session.scalars(text("SELECT pg_xact_status(x::text::xid8) FROM unnest(CAST(:ids AS bigint[])) AS x"),
                             {"ids": waited})
    return any(state not in ("in progress", "aborted") for state in states)  # committed, or forgotten
