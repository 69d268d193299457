"""Registry tables. Grids are versioned: a redrawn grid closes the old row (``valid_to``)
and adds a new one, so old cases keep pointing at the grid they were reported in."""
from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wangge.extensions import db
from wangge.geometry import Geometry
from wangge.timeutil import UTCDateTime, utcnow

GRID_LEVELS = ("district", "street", "community", "grid")
DEPARTMENT_KINDS = ("functional", "street_office", "enforcement_team", "dispatch_center")
CATEGORY_KINDS = ("component", "event")
EVERYWHERE = "*"


class Grid(db.Model):
    __tablename__ = "grids"
    __table_args__ = (
        Index("uq_grids_current_code", "code", unique=True,
              postgresql_where=text("valid_to IS NULL"), sqlite_where=text("valid_to IS NULL")),
        CheckConstraint("level IN ('district','street','community','grid')", name="level"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(64), index=True)
    geom = mapped_column(Geometry("GEOMETRY"), nullable=False)
    area_m2: Mapped[float] = mapped_column(Float)
    valid_from = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    valid_to = mapped_column(UTCDateTime, nullable=True)
    source: Mapped[str | None] = mapped_column(String(255))

    @property
    def current(self) -> bool:
        return self.valid_to is None


class LayerVersion(db.Model):
    """Changed in the same transaction as any grid change; every process compares it with
    the version its in-memory index was built from and rebuilds when they differ. A random
    token rather than a counter: a rolled-back change can never leave a number that a later
    change reuses for different content."""

    __tablename__ = "layer_versions"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), nullable=False)
    changed_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Department(db.Model):
    __tablename__ = "departments"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('functional','street_office','enforcement_team','dispatch_center')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    grid_code: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)


class Staff(db.Model):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    language: Mapped[str] = mapped_column(String(8), default="zh", nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai", nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    department = relationship(Department, lazy="joined")
    role_rows = relationship("StaffRole", cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> list[str]:
        return sorted(r.role for r in self.role_rows)

    def has_role(self, *roles: str) -> bool:
        mine = {r.role for r in self.role_rows}
        return bool(mine.intersection(roles))


class StaffRole(db.Model):
    __tablename__ = "staff_roles"
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class GridAssignment(db.Model):
    """A staff member patrols a grid (by code, so it survives redraws) over a period."""

    __tablename__ = "grid_assignments"
    __table_args__ = (Index("ix_grid_assignments_grid_code_valid", "grid_code", "valid_to"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    grid_code: Mapped[str] = mapped_column(String(64))
    valid_from = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    valid_to = mapped_column(UTCDateTime, nullable=True)

    staff = relationship(Staff, lazy="joined")


class ApiToken(db.Model):
    """Bearer tokens. Only a SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client: Mapped[str | None] = mapped_column(String(100))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = mapped_column(UTCDateTime, nullable=False)
    revoked_at = mapped_column(UTCDateTime, nullable=True)
    last_used_at = mapped_column(UTCDateTime, nullable=True)
    # A phone's access token belongs to its device session (grid/accounts/devices.py): signing
    # the device out, or a reused refresh token, revokes it with the rest of the family.
    device_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("device_sessions.id", ondelete="CASCADE"), index=True, nullable=True)

    staff = relationship(Staff, lazy="joined")
    device_session = relationship("DeviceSession", lazy="joined")


class Category(db.Model):
    """Two-level catalog (big class, small class) of components (部件) and events (事件).
    Codes are data: the shipped catalog prefixes C/E because the national component and
    event classes reuse the same numbers."""

    __tablename__ = "categories"
    __table_args__ = (CheckConstraint("kind IN ('component','event')", name="kind"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100))
    auto_dispatch: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    sort: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class Responsibility(db.Model):
    """(category, grid or any ancestor) -> department. ``grid_code='*'`` means everywhere;
    the rule on the most specific grid wins."""

    __tablename__ = "responsibilities"
    __table_args__ = (UniqueConstraint("category_code", "grid_code", name="uq_responsibility"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code", ondelete="CASCADE"))
    grid_code: Mapped[str] = mapped_column(String(64), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)

    department = relationship(Department, lazy="joined")


class TimeLimit(db.Model):
    """Limit for one stage of a category (``category_code='*'`` is the default)."""

    __tablename__ = "time_limits"
    __table_args__ = (
        UniqueConstraint("category_code", "stage", name="uq_time_limit"),
        CheckConstraint("unit IN ('urgent_hours','work_hours','work_days','calendar_days')", name="unit"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(32))
    amount: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))


class CalendarDay(db.Model):
    """A local calendar entry overriding the official one: a holiday, a make-up working
    day, or a whole new year's schedule loaded before the library knows it."""

    __tablename__ = "calendar_days"

    day = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean, nullable=False)
    name: Mapped[str | None] = mapped_column(String(100))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)


DEVICE_PLATFORMS = ("android", "ios", "harmonyos", "web", "other")


class DeviceSession(db.Model):
    """One signed-in phone (or installed web app) of a staff member: the family of its refresh
    tokens and the short-lived access tokens they issue. Revoking the session (the device was
    lost, a refresh token was used twice, the account was disabled) revokes the whole family."""

    __tablename__ = "device_sessions"
    __table_args__ = (
        CheckConstraint("platform IN ('android','ios','harmonyos','web','other')", name="platform"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(String(200))
    device_name: Mapped[str | None] = mapped_column(String(100))
    platform: Mapped[str] = mapped_column(String(16))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at = mapped_column(UTCDateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))

    staff = relationship(Staff, lazy="joined")


class RefreshToken(db.Model):
    """A refresh token of a device session. Only a SHA-256 of the secret is stored. Each is
    spent once (``used_at``) when rotated; presenting a spent one again is reuse."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_session_id: Mapped[int] = mapped_column(ForeignKey("device_sessions.id", ondelete="CASCADE"),
                                                   index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = mapped_column(UTCDateTime, nullable=False)
    used_at = mapped_column(UTCDateTime, nullable=True)
    revoked_at = mapped_column(UTCDateTime, nullable=True)
