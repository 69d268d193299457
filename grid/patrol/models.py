"""Patrol tables (activity, not registry: they stay out of grid/models.py).

* ``patrols`` - one walk of a grid worker: start, end, the last accepted position (the
  leaders' "who is on patrol now" reads it without touching the track) and running totals of
  the points received per outcome. At most one open patrol per worker: a partial unique index
  on ``staff_id`` where ``ended_at`` is null (both backends).
* ``patrol_points`` - every point received, keyed by (patrol, time), so a retried batch adds
  nothing. ``flag`` is null for an accepted point, else the reason it was filtered (the point
  is kept for audit, never drawn or counted). On PostgreSQL the table is partitioned by UTC
  day (``PARTITION BY RANGE (t)``, one partition per day, see ``grid.patrol.partitions``);
  on SQLite it is a plain table.
* ``patrol_checkins`` - "I am at this grid now" during a patrol."""
from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from wangge.extensions import db
from wangge.timeutil import UTCDateTime, utcnow

# Why a point was filtered (``patrol_points.flag``, the answer of an upload, the totals).
REASONS = ("speed", "accuracy", "outside", "duplicate", "time")


class Patrol(db.Model):
    __tablename__ = "patrols"
    __table_args__ = (
        Index("uq_patrols_open_staff", "staff_id", unique=True,
              postgresql_where=text("ended_at IS NULL"), sqlite_where=text("ended_at IS NULL")),
        Index("ix_patrols_staff_started", "staff_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    started_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    ended_at = mapped_column(UTCDateTime, nullable=True)
    last_at = mapped_column(UTCDateTime, nullable=True)  # the latest accepted point
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_lat: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    accepted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rejected_speed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rejected_accuracy: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rejected_outside: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rejected_duplicate: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rejected_time: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    def totals(self) -> dict:
        return {"accepted": self.accepted,
                "rejected": {reason: getattr(self, f"rejected_{reason}") or 0 for reason in REASONS}}


class PatrolPoint(db.Model):
    """Mapped to the parent table; PostgreSQL routes each row to its day's partition."""

    __tablename__ = "patrol_points"
    __table_args__ = {"postgresql_partition_by": "RANGE (t)"}

    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"), primary_key=True)
    t = mapped_column(UTCDateTime, primary_key=True)
    lon: Mapped[float] = mapped_column(Float, nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    accuracy: Mapped[float | None] = mapped_column(Float)
    speed: Mapped[float | None] = mapped_column(Float)
    flag: Mapped[str | None] = mapped_column(String(12))


class PatrolCheckin(db.Model):
    __tablename__ = "patrol_checkins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    grid_code: Mapped[str] = mapped_column(String(64))
    at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    lon: Mapped[float] = mapped_column(Float, nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
