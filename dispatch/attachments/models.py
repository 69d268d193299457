"""Photos attached to cases (stored by content; see dispatch.attachments.service).

A photo has a kind (``KINDS``) and, once a report or an action lists it, belongs to that case
and to the event that recorded it (``event_id``). Staff photos are then checked against the
case (``flags``, see ``service.photo_flags``); citizens' uploads carry a one-time upload
token (only its SHA-256 is stored) until a citizen report uses them."""
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
    # What it shows (KINDS): given at upload, or the listing verb's default when attached.
    kind: Mapped[str | None] = mapped_column(String(16))
    # The report (submit event) or action that first listed it.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"), index=True)
    # Comma-separated flag codes (FLAGS) computed when attached: "" checked and fine, NULL not
    # checked (a citizen's photo, or attached before revision 0008).
    flags: Mapped[str | None] = mapped_column(String(200))
    distance_m: Mapped[float | None] = mapped_column(Float)  # capture point to the case, when attached
    # A citizen's upload: SHA-256 of its one-time token, valid until upload_expires_at.
    upload_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    upload_expires_at = mapped_column(UTCDateTime, nullable=True)


KINDS = ("before", "after", "evidence")
FLAGS = ("taken_long_before", "taken_after", "far_from_case", "no_capture_time", "no_capture_position")
