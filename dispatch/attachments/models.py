"""Photos attached to cases (stored by content; see dispatch.attachments.service)."""
from __future__ import annotations

from sqlalchemy import (
    Float,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from wangge.extensions import db
from wangge.timeutil import UTCDateTime, utcnow


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
