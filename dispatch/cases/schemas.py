"""Case actions, ratings and the case list's query."""
from marshmallow import Schema, fields, validate

from dispatch.cases.models import RATINGS
from grid.limits import MAX_AMOUNT
from wangge import fields as bounded


class ActionSchema(Schema):
    role = fields.String(validate=validate.Length(max=32))
    note = fields.String(validate=validate.Length(max=5000))
    outcome = fields.String(validate=validate.Length(max=32))
    department_code = fields.String(validate=validate.Length(max=32))
    assignee_id = bounded.Id()
    amount = fields.Float(validate=validate.Range(min=0, min_inclusive=False, max=max(MAX_AMOUNT.values())))
    review_date = bounded.Date()
    rating = fields.String(validate=validate.OneOf(RATINGS))
    into = fields.String(validate=validate.Length(max=32))
    attachments = fields.List(bounded.Id(), load_default=list, validate=validate.Length(max=50))
    expected_version = bounded.BoundedInt()


class RatingSchema(Schema):
    rating = fields.String(required=True, validate=validate.OneOf(RATINGS))
    note = fields.String(validate=validate.Length(max=2000))


class CaseQuery(Schema):
    state = fields.String()
    department = fields.String()
    grid = fields.String()
    category = fields.String()
    light = fields.String(validate=validate.OneOf(["green", "yellow", "red"]))
    supervised = fields.Boolean()
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = bounded.BoundedInt(load_default=0)
