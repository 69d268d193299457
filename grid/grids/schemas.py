"""Marshmallow schemas for grid layer, import, topology and point-to-grid lookup (they also generate the OpenAPI document)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from geo.crs import parse_crs
from grid.models import GRID_LEVELS
from wangge import fields as bounded
from wangge.contract import LocalTime, QuerySchema


class CrsField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_crs(value)
        except ValueError:
            raise ValidationError(f"unsupported coordinate system {value!r}; use wgs84, gcj02 or bd09") from None


class LocateQuery(QuerySchema):
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    crs = CrsField(load_default="wgs84")


class PointSchema(Schema):
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))


class BatchLocateSchema(Schema):
    crs = CrsField(load_default="wgs84")
    points = fields.List(fields.Nested(PointSchema), required=True,
                         validate=validate.Length(min=1, max=10000))


class GridQuery(QuerySchema):
    level = fields.String(validate=validate.OneOf(GRID_LEVELS))
    parent = fields.String()
    q = fields.String()
    geometry = fields.Boolean(load_default=True)
    limit = fields.Integer(load_default=1000, validate=validate.Range(1, 10000))
    offset = bounded.BoundedInt(load_default=0)


class GridImportQuery(QuerySchema):
    """The import's options; the FeatureCollection itself is the request body."""

    crs = CrsField(required=True)
    code_field = fields.String(load_default="code")
    name_field = fields.String(load_default="name")
    level_field = fields.String(load_default="level")
    parent_field = fields.String(load_default="parent")
    level = fields.String(validate=validate.OneOf(GRID_LEVELS))
    parent = fields.String()
    fix = fields.Boolean(load_default=False)
    skip_invalid = fields.Boolean(load_default=False)


class TopologyQuery(QuerySchema):
    min_area_m2 = fields.Float(load_default=1.0, validate=validate.Range(min=0))


# --- answers ------------------------------------------------------------------------------

class GridBrief(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String(validate=validate.OneOf(GRID_LEVELS))


class WorkerBrief(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String(allow_none=True)


class GridProperties(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    level = fields.String(validate=validate.OneOf(GRID_LEVELS))
    parent_code = fields.String(allow_none=True)
    area_m2 = fields.Float(allow_none=True)
    valid_from = LocalTime()
    valid_to = LocalTime()
    chain = fields.List(fields.Nested(GridBrief), metadata={"description": "One grid only: its levels from the top."})
    workers = fields.List(fields.Nested(WorkerBrief), metadata={"description": "One grid only: its grid workers."})


class GridFeature(Schema):
    """A grid as a GeoJSON Feature (geometry in WGS-84; null when ``geometry=false``)."""
    type = fields.String(validate=validate.OneOf(["Feature"]))
    id = fields.String()
    properties = fields.Nested(GridProperties)
    geometry = fields.Dict(allow_none=True, metadata={"description": "GeoJSON geometry"})


class GridCollection(Schema):
    type = fields.String(validate=validate.OneOf(["FeatureCollection"]))
    features = fields.List(fields.Nested(GridFeature))


class GridRetired(Schema):
    code = fields.String()
    valid_to = LocalTime()


class FeatureFixView(Schema):
    index = fields.Integer()
    code = fields.String(allow_none=True)
    what = fields.String()


class FeatureProblemView(Schema):
    index = fields.Integer()
    code = fields.String(allow_none=True)
    reason = fields.String()
    reason_text = fields.String()
    detail = fields.String(allow_none=True)


class GridImportResult(Schema):
    created = fields.Integer()
    redrawn = fields.Integer()
    unchanged = fields.Integer()
    skipped = fields.Integer()
    fixes = fields.List(fields.Nested(FeatureFixView))
    skipped_features = fields.List(fields.Nested(FeatureProblemView))


class OverlapView(Schema):
    code_a = fields.String()
    code_b = fields.String()
    area_m2 = fields.Float()
    geometry = fields.Dict(allow_none=True)


class GapView(Schema):
    parent_code = fields.String(allow_none=True)
    area_m2 = fields.Float()
    geometry = fields.Dict(allow_none=True)


class EscapeView(Schema):
    code = fields.String()
    parent_code = fields.String(allow_none=True)
    area_m2 = fields.Float()
    geometry = fields.Dict(allow_none=True)


class TopologyReport(Schema):
    ok = fields.Boolean()
    overlaps = fields.List(fields.Nested(OverlapView))
    gaps = fields.List(fields.Nested(GapView))
    escapes = fields.List(fields.Nested(EscapeView))


class LocatedView(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String(validate=validate.OneOf(GRID_LEVELS))
    grid_id = fields.Integer()
    chain = fields.List(fields.Nested(GridBrief))
    workers = fields.List(fields.Nested(WorkerBrief))


class BatchLocated(Schema):
    results = fields.List(fields.Nested(GridBrief, allow_none=True),
                          metadata={"description": "One per point, in order; null outside every grid."})


class ImportErrorView(Schema):
    status = fields.Integer()
    code = fields.String()
    message = fields.String()
    fields_ = fields.Dict(data_key="fields", attribute="fields", allow_none=True)
    details = fields.Raw(allow_none=True, metadata={"description": "Per feature: index, code, reason, reason_text, detail"})


class GridImportStatus(Schema):
    """A background grid import: queued, running (``step`` validating or writing, ``done`` of
    ``total`` features), done (``result``) or failed (``error``, the API's error body)."""
    id = fields.String()
    state = fields.String(validate=validate.OneOf(["queued", "running", "done", "failed"]))
    step = fields.String(allow_none=True, validate=validate.OneOf(["validating", "writing"]))
    done = fields.Integer()
    total = fields.Integer()
    progress = fields.Float(allow_none=True, metadata={"description": "done / total, 0 to 1"})
    filename = fields.String(allow_none=True)
    result = fields.Nested(GridImportResult, allow_none=True)
    error = fields.Nested(ImportErrorView, allow_none=True)
