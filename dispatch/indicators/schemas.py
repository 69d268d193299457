"""The indicators' query (period, grouping, format) and how indicators and exports are answered."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from dispatch.indicators.kpi import COUNTS, FORMATS, GROUPS, HEADERS, RATIOS
from grid.models import GRID_LEVELS
from wangge import fields as bounded
from wangge.contract import LocalTime, QuerySchema


class KpiQuery(QuerySchema):
    first = bounded.Date(required=True, data_key="from", metadata={
        "description": "first local day (deployment zone) of the period, included"})
    last = bounded.Date(required=True, data_key="to", metadata={"description": "last local day of the period, included"})
    by = fields.String(load_default="department", validate=validate.OneOf(GROUPS))
    level = fields.String(validate=validate.OneOf(GRID_LEVELS), metadata={
        "description": "with by=grid: group by the grids of this level (district, street, community, grid), "
                       "each row summing the grids under it; without it, by the grid each case was reported in"})
    patrols = fields.Boolean(load_default=True, metadata={
        "description": "false: leave out the patrol figures (by=worker and by=grid), computed from the stored "
                       "tracks one worker-day at a time (slow over long periods); the counts of cases are the same"})
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS))
    header = fields.String(load_default="names", validate=validate.OneOf(HEADERS), metadata={
        "description": "csv and xlsx: the header row holds the column names (names, default) or their labels "
                       "in the request's language (labels: Chinese, or English with lang=en)"})

    @validates_schema
    def _order(self, data, **kwargs):
        if "first" in data and "last" in data and data["last"] < data["first"]:
            raise ValidationError("must not be before from", field_name="to")
        if data.get("level") and data.get("by") != "grid":
            raise ValidationError("goes with by=grid", field_name="level")


class PeriodView(Schema):
    from_ = fields.String(attribute="from", data_key="from", metadata={"format": "date"})
    to = fields.String(metadata={"format": "date"})
    timezone = fields.String()
    start = LocalTime()
    end = LocalTime()


# One row per group: its key and names, every count, every ratio (null when nothing was due)
# and the composite score (docs/indicators.md).
KpiRow = Schema.from_dict({
    "by": fields.String(validate=validate.OneOf(GROUPS)),
    "key": fields.Raw(allow_none=True, metadata={"description": "department or staff id, grid or category code"}),
    "code": fields.String(allow_none=True),
    "name": fields.String(allow_none=True),
    **{name: fields.Integer() for name in COUNTS},
    **{name: fields.Float(allow_none=True, metadata={"description": label})
       for name, (_, _, label) in RATIOS.items()},
    "score": fields.Float(allow_none=True),
    "score_max": fields.Float(),
}, name="KpiRow")


class KpiView(Schema):
    period = fields.Nested(PeriodView)
    by = fields.String(validate=validate.OneOf(GROUPS))
    level = fields.String(allow_none=True, validate=validate.OneOf(GRID_LEVELS))
    rows = fields.List(fields.Nested(KpiRow))


class ExportStatusView(Schema):
    id = fields.String()
    state = fields.String(validate=validate.OneOf(["queued", "running", "done", "failed"]))
    done = fields.Integer(allow_none=True)
    total = fields.Integer(allow_none=True)
    step = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    filename = fields.String(allow_none=True)
    rows = fields.Integer(allow_none=True)
    progress = fields.Float(allow_none=True)
    file_url = fields.String(allow_none=True)
