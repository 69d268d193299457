"""Presentation helpers shared by the API modules."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import g, has_request_context

from .config import current_settings


def user_zone() -> str:
    staff = getattr(g, "staff", None) if has_request_context() else None
    return getattr(staff, "timezone", None) or current_settings().timezone


def user_tz() -> ZoneInfo:
    """The user's zone (for a page of rows: looked up once, passed to :func:`local_iso`)."""
    return ZoneInfo(user_zone())


def local_iso(value: datetime | None, zone: ZoneInfo | None = None) -> str | None:
    """ISO-8601 with the offset of the user's zone, or of ``zone`` (stored values are UTC)."""
    return None if value is None else value.astimezone(zone or user_tz()).isoformat()
