"""Tables of this part: one row per item of an offline batch that the server acted on.

The row is the item's idempotency record in its sender's namespace (``staff_id``,
``client_id``): the same client id again with the same body (``fingerprint``) answers the
stored outcome, with another body it is a 409 ``idempotency_key_reused``. A ``conflict`` row
keeps what the worker did (``body``) for the dispatch center until someone resolves it."""
from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.cases.models import Case
from grid.models import Staff
from wangge.extensions import db
from wangge.timeutil import UTCDateTime, utcnow

KINDS = ("report", "action")
# What the server did with an item (an item refused, or whose key was reused, leaves no row).
OUTCOMES = ("created", "done", "conflict")


class SyncPushItem(db.Model):
    __tablename__ = "sync_push_items"
    __table_args__ = (
        UniqueConstraint("staff_id", "client_id", name="uq_sync_push_items_staff_client"),
        Index("ix_sync_push_items_outcome_resolved", "outcome", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), nullable=False)
    client_id: Mapped[str] = mapped_column(String(128), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)  # sha256 of the item's body
    body: Mapped[dict] = mapped_column(JSON, nullable=False)               # the item as understood
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    code: Mapped[str | None] = mapped_column(String(64))                   # a conflict's reason
    answer: Mapped[dict] = mapped_column(JSON, nullable=False)             # what the sender was told
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    resolved_at = mapped_column(UTCDateTime, nullable=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)

    staff = relationship(Staff, foreign_keys=[staff_id], lazy="joined")
    resolved_by = relationship(Staff, foreign_keys=[resolved_by_id])
    case = relationship(Case)
