"""Day partitions of ``patrol_points`` on PostgreSQL (native declarative partitioning).

One partition per UTC day, named ``patrol_points_pYYYYMMDD``, holding
``[day 00:00 UTC, next day 00:00 UTC)``. They are made three ways:

* ahead, by the worker's periodic job (:func:`periodic`, every
  ``WANGGE_SWEEP_INTERVAL_SECONDS``) and ``wangge patrol partitions --ensure-days N``:
  yesterday to ``WANGGE_PATROL_PARTITIONS_AHEAD`` days ahead;
* on demand, in the request, when a point arrives for a day that has none
  (:func:`ensure_days`: a transaction-scoped advisory lock serialises two requests creating
  the same day, ``CREATE TABLE IF NOT EXISTS`` makes the second a no-op). There is no DEFAULT
  partition: a row never lands in a catch-all that would later block creating its day.

and dropped (``DROP TABLE`` of whole days, no row-by-row delete) once their day ends more
than ``WANGGE_PATROL_RETENTION_DAYS`` ago, by the same job and ``--drop-expired``. On SQLite
the table is plain and the same job deletes the expired rows."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, text

from wangge.config import current_settings
from wangge.timeutil import utcnow

from .models import PatrolPoint

PARENT = "patrol_points"
NAME = re.compile(r"^patrol_points_p(\d{8})$")
LOCK_KEY = 0x7061_7472  # "patr": the advisory lock of partition changes


def is_postgres(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def partition_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def existing(session) -> dict[str, date]:
    """name -> day of every partition of the parent (PostgreSQL)."""
    rows = session.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:parent)"), {"parent": PARENT}).scalars()
    out = {}
    for name in rows:
        match = NAME.match(name)
        if match:
            out[name] = datetime.strptime(match.group(1), "%Y%m%d").date()
    return out


def _create(session, day: date) -> None:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    end = start + timedelta(days=1)
    session.execute(text(
        f'CREATE TABLE IF NOT EXISTS "{partition_name(day)}" PARTITION OF {PARENT} '
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"))


def ensure_days(session, days) -> list[date]:
    """Make sure each UTC day in ``days`` has its partition; the days created. One query when
    they all exist (the usual case: the job creates them ahead)."""
    if not is_postgres(session):
        return []
    days = sorted(set(days))
    if not days:
        return []
    names = [partition_name(d) for d in days]
    missing = set(session.execute(text("SELECT n FROM unnest(CAST(:names AS text[])) AS n WHERE to_regclass(n) IS NULL"),
                                  {"names": names}).scalars())
    if not missing:
        return []
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    created = []
    for day in days:
        if partition_name(day) in missing:
            _create(session, day)
            created.append(day)
    return created


def ensure_ahead(session, days_ahead: int | None = None, *, today: date | None = None) -> list[date]:
    """Partitions from yesterday to ``days_ahead`` days after today (UTC); the days created."""
    ahead = current_settings().patrol_partitions_ahead if days_ahead is None else days_ahead
    today = today or utc_day(utcnow())
    return ensure_days(session, [today + timedelta(days=n) for n in range(-1, ahead + 1)])


def cutoff(today: date | None = None) -> date:
    """The first UTC day kept: days before it are past retention."""
    today = today or utc_day(utcnow())
    return today - timedelta(days=current_settings().patrol_retention_days)


def drop_expired(session, *, today: date | None = None) -> list[str]:
    """Drop partitions (PostgreSQL) or delete rows (SQLite) older than the retention; what went."""
    first_kept = cutoff(today)
    if not is_postgres(session):
        start = datetime.combine(first_kept, time.min, tzinfo=UTC)
        result = session.execute(delete(PatrolPoint).where(PatrolPoint.t < start))
        return [f"{result.rowcount} rows before {first_kept.isoformat()}"] if result.rowcount else []
    dropped = []
    expired = sorted(name for name, day in existing(session).items() if day < first_kept)
    if expired:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    for name in expired:
        session.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
        dropped.append(name)
    return dropped


def periodic(session) -> dict:
    """The worker's tick (``hooks().periodic``): partitions ahead, expired ones dropped;
    commits its own work. Safe to run twice at once (advisory lock, IF [NOT] EXISTS)."""
    try:
        created = ensure_ahead(session)
        dropped = drop_expired(session)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return {"created": [d.isoformat() for d in created], "dropped": dropped}
