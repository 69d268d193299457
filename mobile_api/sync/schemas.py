"""The pull's query and answer (documented in the OpenAPI document)."""
from marshmallow import Schema, fields

from mobile_api.crs import CrsQuery
from mobile_api.inbox.cursor import CursorField
from mobile_api.inbox.schemas import InboxItem
from mobile_api.notices.schemas import NoticeView
from mobile_api.sync.service import load_cursor
from wangge import fields as bounded


class PullQuery(CrsQuery):
    cursor = CursorField(load_cursor, metadata={
        "description": "The cursor of the previous pull; none on the first pull (everything I see now)."})
    limit = bounded.BoundedInt(min_value=1, max_value=500, load_default=200, metadata={
        "description": "At most this many items per table in one answer; has_more says to pull again."})


class CaseChanges(Schema):
    updated = fields.List(fields.Nested(InboxItem), metadata={"description": "upsert by number"})
    removed = fields.List(fields.String(), metadata={"description": "numbers to delete"})


class GridItem(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent_code = fields.String(allow_none=True)
    version = fields.Integer(metadata={"description": "the grid version (changes when redrawn)"})
    geometry = fields.Dict(metadata={"description": "GeoJSON geometry in crs"})


class GridChanges(Schema):
    updated = fields.List(fields.Nested(GridItem), metadata={"description": "upsert by code"})
    removed = fields.List(fields.String(), metadata={"description": "codes to delete"})


class NoticeChanges(Schema):
    updated = fields.List(fields.Nested(NoticeView), metadata={"description": "upsert by id (read ones come again)"})
    removed = fields.List(fields.Integer(), metadata={"description": "always empty: notices are never removed"})


class Changes(Schema):
    cases = fields.Nested(CaseChanges)
    enforcement = fields.Nested(CaseChanges)
    grids = fields.Nested(GridChanges)
    notifications = fields.Nested(NoticeChanges)


class PullView(Schema):
    changes = fields.Nested(Changes)
    cursor = fields.String(metadata={"description": "send it with the next pull (opaque)"})
    has_more = fields.Boolean(metadata={"description": "pull again at once with this cursor"})
    reset = fields.List(fields.String(), metadata={
        "description": "tables to empty before applying these changes (my scope changed: roles, department, grids)"})
