"""Enforcement referrals (一队伍): cases, officers, joint-visit groups and append-only records."""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.cases.models import Case
from grid.models import Department, Staff
from wangge.extensions import db
from wangge.timeutil import UTCDateTime, utcnow


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
    # when the current stage began; its deadline is a stage clock (dispatch.clocks, enforcement_id)
    stage_started_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(Text)
    penalty_amount: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    closed_at = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    CLOCK_KEY = "enforcement_id"  # the stage clock column that points at an enforcement case
    # Copies of the running stage clock's due and warn times and, while it is paused, of the
    # light it is frozen at (green / yellow / red): written by the database (a trigger on
    # stage_clocks, migration 0012) whoever changes a clock, so lists order and colour by the
    # owner's row alone. Read them by a query, not from an object loaded before the change.
    clock_due_at = mapped_column(UTCDateTime, nullable=True)
    clock_warn_at = mapped_column(UTCDateTime, nullable=True)
    clock_paused_light: Mapped[str | None] = mapped_column(String(8))

    def clock_subject(self) -> tuple[str | None, int | None]:
        """Its parent case's category; its team is the department."""
        return self.parent.category_code, self.team_id

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
