"""Building blocks of the API contract shared by every domain's schemas.

* :class:`QuerySchema` - the base of every query-string schema: an unknown parameter is a 422
  naming it (webargs would silently drop it), and the global ``lang`` parameter is declared.
* :class:`CommaSeparated` - a comma list of known values (``?state=closed,voided``).
* :class:`LocalTime` - a time in the user's zone (``wangge.present.local_iso``), documented
  as ``date-time``.
* :data:`BINARY` and :func:`binary_download` - a file download (photo, CSV, XLSX), documented
  under its own content types instead of JSON.
* :class:`DeletedSchema` - the ``{"deleted": true}`` answer of a removal.
"""
from __future__ import annotations

from datetime import datetime

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from .present import local_iso

BINARY = {"type": "string", "format": "binary"}


class QuerySchema(Schema):
    """Query parameters: unknown ones are refused, never ignored.

    webargs loads the query string with ``unknown=EXCLUDE`` whatever the schema says, so a
    mistyped filter (``?sate=closed``) would answer everything. The schema insists on RAISE."""

    class Meta:
        unknown = RAISE

    lang = fields.String(load_only=True, validate=validate.Length(max=16), metadata={
        "description": "Language of messages: zh (default) or en."})

    def load(self, data, *, many=None, partial=None, unknown=None):
        return super().load(data, many=many, partial=partial, unknown=RAISE)

    @post_load
    def _drop_lang(self, data, **kwargs):
        data.pop("lang", None)  # read by wangge.i18n from the request itself
        return data


class CommaSeparated(fields.String):
    """``a,b,c`` in a query string, loaded as a list; each item must be one of ``choices``
    (an unknown one is a 422 naming it, not an empty answer)."""

    def __init__(self, choices, **kwargs):
        self.choices = tuple(choices)
        metadata = {"description": "Comma-separated, any of: " + ", ".join(self.choices),
                    **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [item for item in items if item not in self.choices]
        if unknown or not items:
            raise ValidationError(f"unknown value(s) {', '.join(unknown) or repr(text)}; "
                                  f"use any of {', '.join(self.choices)}")
        return items


class LocalTime(fields.String):
    """A time as ISO-8601 in the user's zone, or null: a stored (UTC) datetime is converted,
    a string from a presenter (already local) is sent as it is."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_none", True)
        metadata = {"format": "date-time", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, datetime):
            return local_iso(value)
        return super()._serialize(value, attr, obj, **kwargs)


def binary_download(blp, content_types, description: str = "The file"):
    """Document a file download on ``blp``: 200 with each of its binary content types (a
    photo, CSV, XLSX), not JSON. The view returns the file as a Flask response."""
    def decorate(view):
        for content_type in content_types:
            view = blp.alt_response(200, schema=BINARY, content_type=content_type, success=True,
                                    description=description)(view)
        return view
    return decorate


class DeletedSchema(Schema):
    deleted = fields.Boolean()
