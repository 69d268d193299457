"""Cases, their immutable event log and the per-area number sequences.

The event log is the record: a case's state can be rebuilt from its events, and every
indicator is computed from events and clocks, never from counters that can drift."""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grid.models import Department, Grid, Staff
from grid.patrol.models import Patrol
from wangge.extensions import db
from wangge.geometry import Geometry
from wangge.timeutil import UTCDateTime, utcnow

CHANNELS = ("grid_worker", "citizen", "web", "hotline", "open311", "staff")


RATINGS = ("satisfied", "basically_satisfied", "unsatisfied")


class CaseSequence(db.Model):
    """Per area and year, the last number handed out (row-locked while incremented)."""

    __tablename__ = "case_sequences"
    area: Mapped[str] = mapped_column(String(12), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_department_state", "department_id", "state"),
        Index("ix_cases_category_reported", "category_code", "reported_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    tracking_code: Mapped[str] = mapped_column(String(16), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # "<sender namespace>:<client key>", e.g. "staff:20:abc…" (see dispatch.intake)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))  # sha256 of the submission
    reporter_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(255))
    media_url: Mapped[str | None] = mapped_column(String(2048))  # Open311 clients' own photo link
    location = mapped_column(Geometry("POINT"), nullable=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    original_lon: Mapped[float | None] = mapped_column(Float)
    original_lat: Mapped[float | None] = mapped_column(Float)
    original_crs: Mapped[str | None] = mapped_column(String(8))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    grid_code: Mapped[str | None] = mapped_column(String(64), index=True)
    category_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    suggested_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    suggestion_reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(24), index=True)
    resume_state: Mapped[str | None] = mapped_column(String(24))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    rating: Mapped[str | None] = mapped_column(String(24))
    # the reporter's open patrol when a staff member reported (grid.patrol)
    patrol_id: Mapped[int | None] = mapped_column(ForeignKey(Patrol.id), index=True)
    supervised: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    review_date = mapped_column(Date, nullable=True)
    reported_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    closed_at = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    CLOCK_KEY = "case_id"  # the stage clock column that points at a case
    # Copies of the running stage clock's due and warn times and, while it is paused, of the
    # light it is frozen at (green / yellow / red): written by the database (a trigger on
    # stage_clocks, migration 0012) whoever changes a clock, so lists order and colour by the
    # owner's row alone. Read them by a query, not from an object loaded before the change.
    clock_due_at = mapped_column(UTCDateTime, nullable=True)
    clock_warn_at = mapped_column(UTCDateTime, nullable=True)
    clock_paused_light: Mapped[str | None] = mapped_column(String(8))

    def clock_subject(self) -> tuple[str | None, int | None]:
        """(category, department) that choose the limit of a stage clock of this case."""
        return self.category_code, self.department_id

    grid = relationship(Grid, lazy="joined")
    department = relationship(Department, foreign_keys=[department_id], lazy="joined")
    suggested_department = relationship(Department, foreign_keys=[suggested_department_id])
    reporter = relationship(Staff, foreign_keys=[reporter_staff_id])
    assignee = relationship(Staff, foreign_keys=[assignee_id])
    events = relationship("CaseEvent", order_by="CaseEvent.id", back_populates="case", lazy="select")


class CaseEvent(db.Model):
    """One change to a case. Rows are never updated or deleted."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_verb_at", "verb", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    verb: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    actor_role: Mapped[str] = mapped_column(String(32))
    at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    attachment_ids: Mapped[list] = mapped_column(JSON, default=list, nullable=False)

    case = relationship(Case, back_populates="events")
    actor = relationship(Staff, lazy="joined")


@event.listens_for(CaseEvent, "before_update")


@event.listens_for(CaseEvent, "before_delete")
def _events_are_immutable(mapper, connection, target):
    raise RuntimeError("case events are immutable")
