"""The outbox (work to deliver, written with the change that caused it), delivery receipts,
each person's own inbox of notices, push subscriptions and push receipts."""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
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


class PersonalNotice(db.Model):
    """A notification in one staff member's own inbox (read / unread), written in the same
    transaction as its outbox row, once per person and row, whatever the channels."""

    __tablename__ = "personal_notices"
    __table_args__ = (
        UniqueConstraint("staff_id", "outbox_id", name="uq_personal_notice"),
        Index("ix_personal_notices_staff", "staff_id", "id"),
        Index("ix_personal_notices_unread", "staff_id", "id", postgresql_where=text("read_at IS NULL"),
              sqlite_where=text("read_at IS NULL")),
        Index("ix_personal_notices_changes", "staff_id", "change_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(32))
    template: Mapped[str | None] = mapped_column(String(64))
    case_number: Mapped[str | None] = mapped_column(String(64))
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    read_at = mapped_column(UTCDateTime, nullable=True)
    # Orders changes for a sync pull without trusting ids: on PostgreSQL the id of the writing
    # transaction (pg_current_xact_id), on SQLite (one writer at a time) a counter.
    change_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)


class PushSubscription(db.Model):
    """Where a person's device receives push messages: a Web Push subscription (endpoint and
    keys from the browser) or a vendor push token (Huawei, Xiaomi, JPush... through one
    HTTP adapter). ``identity`` (a hash of the endpoint or vendor and token) makes one row per
    device: the same subscription sent again, even by another person, replaces the row."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    identity: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "webpush" | "vendor"
    endpoint: Mapped[str | None] = mapped_column(String(1024))
    p256dh: Mapped[str | None] = mapped_column(String(200))
    auth: Mapped[str | None] = mapped_column(String(100))
    vendor: Mapped[str | None] = mapped_column(String(32))
    token: Mapped[str | None] = mapped_column(String(512))
    device: Mapped[str | None] = mapped_column(String(100))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class PushReceipt(db.Model):
    """One outbox row pushed to one device: the push service's receipt (the vendor's message
    id, the Web Push service's message location). Unique per row and device, so a retry after
    another device failed never pushes twice to a device already served."""

    __tablename__ = "push_receipts"
    __table_args__ = (UniqueConstraint("outbox_id", "subscription_id", name="uq_push_receipt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(Integer)  # kept after the subscription is removed
    staff_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    receipt: Mapped[str | None] = mapped_column(String(500))
    sent_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
