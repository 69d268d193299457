"""Stage clocks: the deadline of one stage of a case or of an enforcement case over the work
calendar."""
from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.cases.models import Case
from wangge.extensions import db
from wangge.timeutil import UTCDateTime


class StageClock(db.Model):
    """The deadline of one stage of one case or enforcement case (exactly one of ``case_id``
    and ``enforcement_id``), in the category's time unit. An enforcement clock's ``stage`` is
    its time-limit key (``enf_accept`` ...), its ``department_id`` the team.

    ``consumed`` is the amount (in ``unit``) used before the running segment, which started
    at ``segment_started_at`` (NULL while paused). ``warn_at`` (80%) and ``due_at`` are
    precomputed over the work calendar so the sweep is an indexed range query."""

    __tablename__ = "stage_clocks"
    __table_args__ = (
        CheckConstraint("(case_id IS NULL) <> (enforcement_id IS NULL)", name="one_owner"),
        Index("ix_stage_clocks_warn_due", "warn_at", postgresql_where=text(
            "ended_at IS NULL AND warned_at IS NULL AND segment_started_at IS NOT NULL"),
            sqlite_where=text("ended_at IS NULL AND warned_at IS NULL AND segment_started_at IS NOT NULL")),
        Index("ix_stage_clocks_overdue_due", "due_at", postgresql_where=text(
            "ended_at IS NULL AND overdue_notified_at IS NULL AND segment_started_at IS NOT NULL"),
            sqlite_where=text("ended_at IS NULL AND overdue_notified_at IS NULL AND segment_started_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    enforcement_id: Mapped[int | None] = mapped_column(ForeignKey("enforcement_cases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(24))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    started_at = mapped_column(UTCDateTime, nullable=False)
    amount: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    consumed: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    segment_started_at = mapped_column(UTCDateTime, nullable=True)
    warn_at = mapped_column(UTCDateTime, nullable=True)
    due_at = mapped_column(UTCDateTime, nullable=True)
    ended_at = mapped_column(UTCDateTime, nullable=True)
    ended_late: Mapped[bool | None] = mapped_column(Boolean)
    warned_at = mapped_column(UTCDateTime, nullable=True)
    overdue_notified_at = mapped_column(UTCDateTime, nullable=True)
    extended: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)

    case = relationship(Case)
