"""The outbox (work to deliver, written with the change that caused it) and delivery receipts."""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from wangge.extensions import db
from wangge.timeutil import UTCDateTime, utcnow


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
