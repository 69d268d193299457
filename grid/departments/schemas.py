"""Marshmallow schemas for departments (they also generate the OpenAPI document)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from grid.models import DEPARTMENT_KINDS


class DepartmentSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(DEPARTMENT_KINDS))
    grid_code = fields.String(allow_none=True, validate=validate.Length(max=64))
    phone = fields.String(allow_none=True, validate=validate.Length(max=32))
    active = fields.Boolean(load_default=True)


class DepartmentPatchSchema(DepartmentSchema):
    # marshmallow has no ``Meta.partial``: partial loading is a constructor argument.
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


# --- answers ------------------------------------------------------------------------------

class DepartmentBrief(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
