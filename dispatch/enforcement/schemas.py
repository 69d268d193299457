"""What enforcement requests carry and what the answers look like."""
from marshmallow import Schema, fields, validate

from dispatch.enforcement import lifecycle, service
from dispatch.workflow.schemas import CodeName
from wangge import fields as bounded
from wangge.contract import CommaSeparated, LocalTime, QuerySchema

# where an enforcement case can be moved to, in the table's order
TARGETS = list(dict.fromkeys(v.target for state in lifecycle.STATES for v in lifecycle.advancing(state)))


class EnforcementQuery(QuerySchema):
    stage = CommaSeparated([*lifecycle.STAGES, lifecycle.CLOSED])
    open = fields.Boolean()
    light = fields.String(validate=validate.OneOf(["green", "yellow", "red"]))
    group = bounded.Id()
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = bounded.BoundedInt(load_default=0)


class OfficersSchema(Schema):
    staff_ids = fields.List(bounded.Id(), required=True, validate=validate.Length(min=1, max=50))
    whole_group = fields.Boolean(load_default=False)
    expected_version = bounded.BoundedInt()


class AdvanceSchema(Schema):
    to_stage = fields.String(required=True, validate=validate.OneOf(TARGETS))
    note = fields.String(validate=validate.Length(max=5000))
    penalty_amount = fields.Float(validate=validate.Range(min=0, max=1e12), allow_nan=False)
    attachments = fields.List(bounded.Id(), load_default=list, validate=validate.Length(max=50))
    expected_version = bounded.BoundedInt()


class RecordSchema(Schema):
    kind = fields.String(load_default="note", validate=validate.OneOf(lifecycle.RECORD_KINDS))
    note = fields.String(validate=validate.Length(max=5000))
    attachments = fields.List(bounded.Id(), load_default=list, validate=validate.Length(max=50))
    expected_version = bounded.BoundedInt()


# --- answers (the dicts below are built by summary, detail, record_view and group_view) ----

class ParentCaseView(Schema):
    number = fields.String()
    state = fields.String()
    state_name = fields.String()
    category_code = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    lon = fields.Float(allow_none=True)
    lat = fields.Float(allow_none=True)
    grid_code = fields.String(allow_none=True)


class OfficerView(Schema):
    id = fields.Integer()
    name = fields.String()


class OfficerListView(Schema):
    officers = fields.List(fields.Nested(OfficerView))


class StageCountsView(Schema):
    counts = fields.Dict(keys=fields.String(validate=validate.OneOf([*lifecycle.STAGES, lifecycle.CLOSED])),
                         values=fields.Integer())


class EnforcementSummaryView(Schema):
    number = fields.String()
    stage = fields.String(validate=validate.OneOf([*service.STAGES, service.CLOSED]))
    stage_name = fields.String()
    team = fields.Nested(CodeName)
    parent = fields.Nested(ParentCaseView)
    group_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    stage_started_at = LocalTime()
    stage_warn_at = LocalTime()
    stage_due_at = LocalTime()
    light = fields.String(allow_none=True, validate=validate.OneOf(["green", "yellow", "red"]))
    officers = fields.List(fields.Nested(OfficerView))
    created_at = LocalTime()
    closed_at = LocalTime()
    version = fields.Integer()


class EnforcementListView(Schema):
    enforcement_cases = fields.List(fields.Nested(EnforcementSummaryView))


class RecordView(Schema):
    id = fields.Integer()
    kind = fields.String()
    from_stage = fields.String(allow_none=True)
    to_stage = fields.String(allow_none=True)
    actor_id = fields.Integer(allow_none=True)
    at = LocalTime()
    note = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)
    attachments = fields.List(fields.Integer(), allow_none=True)


class GroupView(Schema):
    id = fields.Integer()
    lon = fields.Float(allow_none=True)
    lat = fields.Float(allow_none=True)
    address = fields.String(allow_none=True)
    opened_at = LocalTime()
    window_ends_at = LocalTime()
    size = fields.Integer()
    open = fields.Boolean()
    members = fields.List(fields.Nested(EnforcementSummaryView))


class GroupListView(Schema):
    groups = fields.List(fields.Nested(GroupView))


class LimitView(Schema):
    amount = fields.Float()
    unit = fields.String()


class NextStageView(Schema):
    stage = fields.String()
    name = fields.String()
    you_may_advance = fields.Boolean()


class EnforcementDetailView(EnforcementSummaryView):
    limit = fields.Nested(LimitView, allow_none=True)
    decision = fields.String(allow_none=True)
    penalty_amount = fields.Float(allow_none=True)
    outcome = fields.String(allow_none=True)
    next_stage = fields.Nested(NextStageView, allow_none=True)
    records = fields.List(fields.Nested(RecordView))
    group = fields.Nested(GroupView, allow_none=True)
