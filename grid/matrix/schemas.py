"""Marshmallow schemas for the responsibility matrix (they also generate the OpenAPI document)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from grid.departments.schemas import DepartmentBrief
from grid.grids.schemas import CrsField
from wangge.contract import QuerySchema


class RuleSchema(Schema):
    id = fields.Integer(dump_only=True)
    category_code = fields.String(required=True)
    grid_code = fields.String(required=True)
    department_code = fields.String(required=True)
    note = fields.String(allow_none=True)


class RuleQuery(QuerySchema):
    category = fields.String()
    grid = fields.String()
    department = fields.String()


class ExplainQuery(QuerySchema):
    category = fields.String(required=True)
    grid = fields.String()
    lon = fields.Float(validate=validate.Range(-180, 180))
    lat = fields.Float(validate=validate.Range(-90, 90))
    crs = CrsField(load_default="wgs84")

    @validates_schema
    def _where(self, data, **kwargs):
        has_point = "lon" in data and "lat" in data
        if not has_point and "grid" not in data:
            raise ValidationError("give grid, or lon and lat", field_name="grid")


# --- answers ------------------------------------------------------------------------------

class RuleView(Schema):
    id = fields.Integer()
    category_code = fields.String()
    grid_code = fields.String()
    department_code = fields.String()
    department_name = fields.String()
    note = fields.String(allow_none=True)


class CheckedLevel(Schema):
    grid_code = fields.String()
    grid_name = fields.String(allow_none=True)
    level = fields.String(allow_none=True)
    department_code = fields.String(allow_none=True)
    chosen = fields.Boolean()


class Explanation(Schema):
    category_code = fields.String()
    grid_code = fields.String(allow_none=True)
    department = fields.Nested(DepartmentBrief, allow_none=True)
    rule_id = fields.Integer(allow_none=True)
    checked = fields.List(fields.Nested(CheckedLevel))
    reason = fields.String()


class MatrixImportResult(Schema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    removed = fields.Integer()


class MatrixImportQuery(QuerySchema):
    replace = fields.Boolean(load_default=False, metadata={
        "description": "Also remove the rules that are not in the file."})
