"""The indicators' roll-up: one row per measured fact (an event or a stage clock of a case)
with every moment the indicators ask about, precomputed, and the group keys copied from the
case (docs/indicators.md, "How it is computed").

``kpi_dirty`` lists the cases whose facts may be stale: a trigger (migration 0015) adds the
case of every new event and every changed clock or case in the same transaction, and
``dispatch.indicators.rollup.fold`` recomputes their facts and empties it. Readers use the
stored facts of the other cases and compute the facts of the dirty ones on the fly, so a
result never lags the event log."""
from __future__ import annotations

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wangge.extensions import db
from wangge.timeutil import UTCDateTime


class KpiDirty(db.Model):
    __tablename__ = "kpi_dirty"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)


class KpiEventFact(db.Model):
    """A ``submit``, ``open``, ``dispatch``/``redispatch`` or ``rate`` event of a case."""

    __tablename__ = "kpi_event_facts"
    __table_args__ = (Index("ix_kpi_event_facts_verb_at", "verb", "at"),)

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    verb: Mapped[str] = mapped_column(String(32), nullable=False)
    at = mapped_column(UTCDateTime, nullable=False)
    department_id: Mapped[int | None] = mapped_column(Integer)
    grid_code: Mapped[str | None] = mapped_column(String(64))
    category_code: Mapped[str | None] = mapped_column(String(32))
    worker_id: Mapped[int | None] = mapped_column(Integer)  # the reporter, when a grid worker
    from_public: Mapped[bool | None] = mapped_column(Boolean)  # channel other than grid_worker
    valid_at = mapped_column(UTCDateTime)  # submit: the case first reached accepted or was self-handled
    on_time: Mapped[bool | None] = mapped_column(Boolean)  # open: its open clock ended not late
    voided_at = mapped_column(UTCDateTime)  # open: first later void
    returned_at = mapped_column(UTCDateTime)  # dispatch: first return before the next dispatch
    return_accepted_at = mapped_column(UTCDateTime)  # dispatch: first accepted return before the next
    rating: Mapped[str | None] = mapped_column(String(24))  # rate


class KpiClockFact(db.Model):
    """A verify, dispatch, check or handle clock of a case. A clock is due in a period when
    it settled there: at ``ontime_at`` when completed on time, else at ``due_at`` unless
    withdrawn before the period's end (docs/indicators.md)."""

    __tablename__ = "kpi_clock_facts"
    __table_args__ = (Index("ix_kpi_clock_facts_stage_ontime", "stage", "ontime_at"),
                      Index("ix_kpi_clock_facts_stage_due", "stage", "due_at"))

    clock_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    stage: Mapped[str] = mapped_column(String(24), nullable=False)
    department_id: Mapped[int | None] = mapped_column(Integer)
    grid_code: Mapped[str | None] = mapped_column(String(64))
    category_code: Mapped[str | None] = mapped_column(String(32))
    worker_id: Mapped[int | None] = mapped_column(Integer)
    due_at = mapped_column(UTCDateTime)
    done_at = mapped_column(UTCDateTime)  # ended by the stage's own verb
    ontime_at = mapped_column(UTCDateTime)  # done and not late
    withdrawn_at = mapped_column(UTCDateTime)  # ended any other way
    extended_at = mapped_column(UTCDateTime)  # handle: first approved extension while it ran
    closed_at = mapped_column(UTCDateTime)  # handle: first close of the case after it started
    rework_at = mapped_column(UTCDateTime)  # handle: first failing check after it started
    case_late_at = mapped_column(UTCDateTime)  # handle: first handle clock of the case ended late
