"""Marshmallow schemas for the registry API (they also generate the OpenAPI document)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from geo.crs import parse_crs
from wangge import fields as bounded

from .limits import MAX_AMOUNT, STAGES, UNITS, amount_error
from .models import CATEGORY_KINDS, DEPARTMENT_KINDS, GRID_LEVELS
from .roles import ROLES


class CrsField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_crs(value)
        except ValueError:
            raise ValidationError(f"unsupported coordinate system {value!r}; use wgs84, gcj02 or bd09") from None


_AMOUNT_NOTE = "At most " + ", ".join(f"{n:g} {unit}" for unit, n in MAX_AMOUNT.items()) + "."


def _check_amount(data: dict, *, allow_zero: bool) -> None:
    if "amount" in data and data.get("unit") in MAX_AMOUNT:
        message = amount_error(data["amount"], data["unit"], allow_zero=allow_zero)
        if message:
            raise ValidationError(message, field_name="amount")


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1))
    client = fields.String(validate=validate.Length(max=100))


class TokenSchema(Schema):
    token = fields.String()
    expires_at = fields.DateTime()
    staff = fields.Nested(lambda: StaffSchema())


class LocateQuery(Schema):
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


class GridQuery(Schema):
    level = fields.String(validate=validate.OneOf(GRID_LEVELS))
    parent = fields.String()
    q = fields.String()
    geometry = fields.Boolean(load_default=True)
    limit = fields.Integer(load_default=1000, validate=validate.Range(1, 10000))
    offset = bounded.BoundedInt(load_default=0)


class GridImportQuery(Schema):
    crs = CrsField(required=True)
    code_field = fields.String(load_default="code")
    name_field = fields.String(load_default="name")
    level_field = fields.String(load_default="level")
    parent_field = fields.String(load_default="parent")
    level = fields.String(validate=validate.OneOf(GRID_LEVELS))
    parent = fields.String()
    fix = fields.Boolean(load_default=False)
    skip_invalid = fields.Boolean(load_default=False)


class TopologyQuery(Schema):
    min_area_m2 = fields.Float(load_default=1.0, validate=validate.Range(min=0))


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


class StaffSchema(Schema):
    id = fields.Integer(dump_only=True)
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.@-]{2,64}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(allow_none=True, validate=validate.Length(max=32))
    password = fields.String(load_only=True, required=True, validate=validate.Length(min=8, max=200))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), load_default=list)
    department_code = fields.String(allow_none=True, load_only=True)
    department = fields.Function(lambda s: s.department and {"id": s.department.id, "code": s.department.code,
                                                             "name": s.department.name}, dump_only=True)
    active = fields.Boolean(load_default=True)
    language = fields.String(load_default="zh", validate=validate.OneOf(["zh", "en"]))


class StaffPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    phone = fields.String(allow_none=True, validate=validate.Length(max=32))
    password = fields.String(load_only=True, validate=validate.Length(min=8, max=200))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)))
    department_code = fields.String(allow_none=True)
    active = fields.Boolean()
    language = fields.String(validate=validate.OneOf(["zh", "en"]))


class AssignmentSchema(Schema):
    id = fields.Integer(dump_only=True)
    staff_id = fields.Integer(dump_only=True)
    grid_code = fields.String(required=True)
    valid_from = bounded.DateTime()
    valid_to = bounded.DateTime(allow_none=True)


class CategorySchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,32}$"))
    kind = fields.String(required=True, validate=validate.OneOf(CATEGORY_KINDS))
    parent_code = fields.String(allow_none=True)
    name_zh = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name_en = fields.String(allow_none=True, validate=validate.Length(max=100))
    auto_dispatch = fields.Boolean(load_default=False)
    active = fields.Boolean(load_default=True)
    sort = bounded.BoundedInt(load_default=0, min_value=-bounded.MAX_DB_INT)


class CategoryPatchSchema(CategorySchema):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


class TimeLimitSchema(Schema):
    category_code = fields.String(dump_only=True)
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    amount = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False,
                                                                max=max(MAX_AMOUNT.values())),
                          metadata={"description": _AMOUNT_NOTE})
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))

    @validates_schema
    def _amount_for_unit(self, data, **kwargs):
        _check_amount(data, allow_zero=False)


class RuleSchema(Schema):
    id = fields.Integer(dump_only=True)
    category_code = fields.String(required=True)
    grid_code = fields.String(required=True)
    department_code = fields.String(required=True)
    note = fields.String(allow_none=True)


class RuleQuery(Schema):
    category = fields.String()
    grid = fields.String()
    department = fields.String()


class ExplainQuery(Schema):
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


class CalendarQuery(Schema):
    start = bounded.Date(required=True, data_key="from")
    end = bounded.Date(required=True, data_key="to")

    @validates_schema
    def _span(self, data, **kwargs):
        if "start" in data and "end" in data:
            if data["end"] < data["start"]:
                raise ValidationError("must not be before 'from'", field_name="to")
            if (data["end"] - data["start"]).days > 400:
                raise ValidationError("at most 400 days at once", field_name="to")


class CalendarDaySchema(Schema):
    day = fields.Date(dump_only=True)
    is_workday = fields.Boolean(required=True)
    name = fields.String(allow_none=True, validate=validate.Length(max=100))
    source = fields.String(dump_only=True)


class DeadlineSchema(Schema):
    start = bounded.AwareDateTime(required=True, default_timezone=None)
    amount = fields.Float(required=True, validate=validate.Range(min=0, max=max(MAX_AMOUNT.values())),
                          metadata={"description": _AMOUNT_NOTE})
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))

    @validates_schema
    def _amount_for_unit(self, data, **kwargs):
        _check_amount(data, allow_zero=True)
