"""Cases, their immutable event log, stage clocks, attachments, the outbox and enforcement.

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
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grid.models import Department, Grid, Staff
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
    supervised: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    review_date = mapped_column(Date, nullable=True)
    reported_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    closed_at = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

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


class Attachment(db.Model):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(String(500))
    thumbnail_path: Mapped[str | None] = mapped_column(String(500))
    # From the photo's EXIF before the stored copy was stripped of it (staff photos only).
    captured_at = mapped_column(UTCDateTime, nullable=True)
    captured_lon: Mapped[float | None] = mapped_column(Float)
    captured_lat: Mapped[float | None] = mapped_column(Float)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class StageClock(db.Model):
    """The deadline of one stage of one case, in the category's time unit.

    ``consumed`` is the amount (in ``unit``) used before the running segment, which started
    at ``segment_started_at`` (NULL while paused). ``warn_at`` (80%) and ``due_at`` are
    precomputed over the work calendar so the sweep is an indexed range query."""

    __tablename__ = "stage_clocks"
    __table_args__ = (
        Index("ix_stage_clocks_warn_due", "warn_at", postgresql_where=text(
            "ended_at IS NULL AND warned_at IS NULL AND segment_started_at IS NOT NULL"),
            sqlite_where=text("ended_at IS NULL AND warned_at IS NULL AND segment_started_at IS NOT NULL")),
        Index("ix_stage_clocks_overdue_due", "due_at", postgresql_where=text(
            "ended_at IS NULL AND overdue_notified_at IS NULL AND segment_started_at IS NOT NULL"),
            sqlite_where=text("ended_at IS NULL AND overdue_notified_at IS NULL AND segment_started_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
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


class Outbox(db.Model):
    """Work to deliver (notifications), written in the same transaction as the change that
    caused it; relayed to rq when Redis is reachable, delivered at most once per key."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "available_at", postgresql_where=text("delivered_at IS NULL"),
                            sqlite_where=text("delivered_at IS NULL")),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    topic: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON, nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    available_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    enqueued_at = mapped_column(UTCDateTime, nullable=True)
    delivered_at = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)


class Delivery(db.Model):
    """One message handed to one channel for one recipient (the receipt that proves once-only)."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("outbox_id", "channel", "recipient", name="uq_delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(100))
    delivered_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class EnforcementGroup(db.Model):
    """Referrals at one place within an overlapping window: one visit handles them all."""

    __tablename__ = "enforcement_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(255))
    opened_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    window_ends_at = mapped_column(UTCDateTime, nullable=False)


class EnforcementCase(db.Model):
    __tablename__ = "enforcement_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    parent_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("enforcement_groups.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    referred_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    stage: Mapped[str] = mapped_column(String(24))
    stage_started_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    stage_warn_at = mapped_column(UTCDateTime, nullable=True)
    stage_due_at = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(Text)
    penalty_amount: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    closed_at = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    parent = relationship(Case)
    team = relationship(Department)
    group = relationship(EnforcementGroup)
    officers = relationship("EnforcementOfficer", cascade="all, delete-orphan", lazy="selectin")
    records = relationship("EnforcementRecord", order_by="EnforcementRecord.id", lazy="select")


class EnforcementOfficer(db.Model):
    __tablename__ = "enforcement_officers"
    enforcement_id: Mapped[int] = mapped_column(ForeignKey("enforcement_cases.id", ondelete="CASCADE"),
                                                primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)

    staff = relationship(Staff, lazy="joined")


class EnforcementRecord(db.Model):
    """Findings, evidence and decisions, in order; never changed afterwards."""

    __tablename__ = "enforcement_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enforcement_id: Mapped[int] = mapped_column(ForeignKey("enforcement_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # stage change, finding, decision, execution, note
    from_stage: Mapped[str | None] = mapped_column(String(24))
    to_stage: Mapped[str | None] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    attachment_ids: Mapped[list] = mapped_column(JSON, default=list, nullable=False)


@event.listens_for(EnforcementRecord, "before_update")
@event.listens_for(EnforcementRecord, "before_delete")
def _records_are_append_only(mapper, connection, target):
    raise RuntimeError("enforcement records are append-only")
