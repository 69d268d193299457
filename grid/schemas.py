"""Marshmallow schemas for the registry API (they also generate the OpenAPI document)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from geo.crs import parse_crs
from wangge import fields as bounded
from wangge.contract import LocalTime, QuerySchema

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


class CalendarQuery(QuerySchema):
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


# --- answers ------------------------------------------------------------------------------
# What the registry API sends back. Views return objects or plain dicts; these dump them.

class DepartmentBrief(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class StaffView(Schema):
    """A staff member as answered (never the password)."""
    id = fields.Integer()
    username = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)))
    department = fields.Nested(DepartmentBrief, allow_none=True)
    active = fields.Boolean()
    language = fields.String()


class AssignmentView(Schema):
    id = fields.Integer()
    staff_id = fields.Integer()
    grid_code = fields.String()
    valid_from = LocalTime()
    valid_to = LocalTime()


class StaffDetailView(StaffView):
    assignments = fields.List(fields.Nested(AssignmentView))


class TokenView(Schema):
    token = fields.String(metadata={"description": "The bearer token (shown once)."})
    expires_at = LocalTime()
    staff = fields.Nested(StaffView)


class MeView(Schema):
    staff = fields.Nested(StaffView)
    expires_at = LocalTime()


class RevokedView(Schema):
    revoked = fields.Boolean()


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


class LimitInForce(Schema):
    stage = fields.String(validate=validate.OneOf(STAGES))
    amount = fields.Float()
    unit = fields.String(validate=validate.OneOf(UNITS))
    from_ = fields.String(attribute="from", data_key="from", allow_none=True,
                          metadata={"description": "The category whose limit applies; null for the default."})


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


class CalendarDayView(Schema):
    day = fields.String(metadata={"format": "date"})
    is_workday = fields.Boolean()
    source = fields.String(metadata={"description": "local, official or provisional"})
    name = fields.String(allow_none=True)


class ScheduleLoaded(Schema):
    loaded = fields.Integer()


class DeadlineView(Schema):
    due = LocalTime()
    due_utc = fields.String(metadata={"format": "date-time"})
