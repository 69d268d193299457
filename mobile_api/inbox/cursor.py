"""Opaque cursors: a small JSON value, base64url-encoded, refused with a clear message
(422 naming ``cursor``) when it is not one of ours: garbage, NUL bytes, too long, wrong
shape. The cursor is never trusted for access: every answer is scoped by the caller's roles
again, so a cursor edited by hand can only skip or repeat what the caller may see anyway."""
from __future__ import annotations

import base64
import binascii
import json

from marshmallow import ValidationError, fields

from wangge.i18n import t

MAX_LENGTH = 4096


def encode(value) -> str:
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str):
    """The JSON value of a cursor; ValueError when it is not a cursor."""
    if not text or len(text) > MAX_LENGTH or not text.isascii():
        raise ValueError("not a cursor")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return json.loads(raw.decode("ascii"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("not a cursor") from exc


class CursorField(fields.String):
    """A cursor in a query string, loaded by ``parse(value) -> anything`` (which raises
    ValueError for a value that has the right encoding but the wrong shape)."""

    def __init__(self, parse, **kwargs):
        self.parse = parse
        metadata = {"description": "Opaque cursor from the previous answer (next_cursor / cursor).",
                    **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return self.parse(decode(text))
        except (ValueError, TypeError, KeyError, IndexError, OverflowError):
            raise ValidationError(t("cursor_invalid")) from None
