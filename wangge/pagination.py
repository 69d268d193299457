"""Keyset (cursor) paging shared by the lists (the case queue, Open311 ``requests``).

A cursor is the position where a page ended (the sort key of its last row), written as a
small JSON list tagged with the list it belongs to, base64url-encoded: opaque to clients,
validated (not trusted) when it comes back. Its values are only compared with columns in
``WHERE (key, id) > (:a, :b)``; every answer is scoped by the caller's rights again, so a
cursor edited by hand can only skip or repeat what the caller may see anyway. Anything that
is not a cursor of that list (garbage, another list's cursor, a wrong shape, a time without
zone) is a 400 ``bad_cursor`` naming the parameter. The same encoding as the phone inbox's
cursors (``mobile_api.inbox.cursor``), which answer their own way (a 422 of the schema).

Why keyset: ``OFFSET n`` makes the database read and drop ``n`` rows (page 2,000 of the queue
read 100,000 rows), while ``WHERE key > :last ORDER BY key LIMIT n`` reads ``n`` index
entries on any page, and a row inserted between two requests neither repeats nor hides one.
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from wangge.errors import ApiError
from wangge.i18n import t

MAX_LENGTH = 512
MAX_ID = 2**31 - 1


def encode(kind: str, *values) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":"), ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def bad_cursor(field: str = "cursor") -> ApiError:
    return ApiError("bad_cursor", status=400, fields={field: [t("cursor_invalid")]}, field=field)


def decode(text: str, kind: str, size: int, field: str = "cursor") -> list:
    """The ``size`` values of a cursor of ``kind``; a 400 naming ``field`` when it is not one."""
    if not text or len(text) > MAX_LENGTH or not text.isascii():
        raise bad_cursor(field)
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_cursor(field) from None
    if not isinstance(value, list) or len(value) != size + 1 or value[0] != kind:
        raise bad_cursor(field)
    return value[1:]


def cursor_id(value, field: str = "cursor") -> int:
    if type(value) is not int or not 0 < value <= MAX_ID:
        raise bad_cursor(field)
    return value


def cursor_time(value, field: str = "cursor", *, nullable: bool = False) -> datetime | None:
    """A time written by :func:`time_value`: ISO-8601 with its offset, years 1970 to 2200."""
    if value is None and nullable:
        return None
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 40 else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or not 1970 <= when.year <= 2200:
        raise bad_cursor(field)
    return when


def time_value(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()
