"""The inbox's query and answer (documented in the OpenAPI document)."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from mobile_api.crs import CrsQuery
from mobile_api.inbox.cursor import CursorField
from mobile_api.inbox.service import KINDS, LIGHTS, Position
from wangge import fields as bounded
from wangge.contract import LocalTime
from wangge.i18n import t


class InboxQuery(CrsQuery):
    cursor = CursorField(Position.load)
    limit = bounded.BoundedInt(min_value=1, max_value=100, load_default=20)
    lon = fields.Float(allow_nan=False, validate=validate.Range(-180, 180), metadata={
        "description": "My position (in ``crs``), for ``distance_m``; with ``lat``."})
    lat = fields.Float(allow_nan=False, validate=validate.Range(-90, 90))

    @validates_schema
    def _both(self, data, **kwargs):
        if ("lon" in data) != ("lat" in data):
            raise ValidationError(t("inbox_lon_lat_together"), "lat" if "lon" in data else "lon")


class InboxItem(Schema):
    kind = fields.String(validate=validate.OneOf(KINDS), metadata={
        "description": "case, or enforcement (an enforcement case; ``number`` is its own)"})
    number = fields.String()
    parent_number = fields.String(metadata={"description": "enforcement: the case it was referred from"})
    version = fields.Integer(metadata={"description": "send back as expected_version when acting"})
    state = fields.String(metadata={"description": "case state, or enforcement stage"})
    state_name = fields.String()
    category_code = fields.String(allow_none=True)
    category_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True, metadata={"description": "at most 80 characters"})
    address = fields.String(allow_none=True)
    lon = fields.Float(allow_none=True)
    lat = fields.Float(allow_none=True)
    distance_m = fields.Float(allow_none=True, metadata={"description": "from my position, when sent"})
    deadline = LocalTime(metadata={"description": "due time of the running stage clock"})
    light = fields.String(allow_none=True, validate=validate.OneOf(LIGHTS[:3]))
    thumbnails = fields.List(fields.String(), metadata={"description": "thumbnail URLs of the first photos"})
    verbs = fields.List(fields.String(), metadata={"description": "the verbs I may use now"})


class LightCounts(Schema):
    red = fields.Integer()
    yellow = fields.Integer()
    green = fields.Integer()
    none = fields.Integer(metadata={"description": "items without a running clock"})


class InboxView(Schema):
    items = fields.List(fields.Nested(InboxItem))
    counts = fields.Nested(LightCounts, metadata={"description": "over the whole inbox, not just this page"})
    total = fields.Integer()
    next_cursor = fields.String(allow_none=True, metadata={"description": "null on the last page"})
