from marshmallow import Schema, fields, validate

from grid.limits import MAX_AMOUNT
from grid.schemas import CrsField
from wangge import fields as bounded

from .models import CHANNELS, RATINGS


class CaseCreateSchema(Schema):
    channel = fields.String(load_default="staff", validate=validate.OneOf(CHANNELS))
    description = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    title = fields.String(validate=validate.Length(max=200))
    category_code = fields.String(validate=validate.Length(max=32))
    lon = fields.Float(validate=validate.Range(-180, 180))
    lat = fields.Float(validate=validate.Range(-90, 90))
    crs = CrsField(load_default="wgs84")
    address = fields.String(validate=validate.Length(max=255))
    reporter_name = fields.String(validate=validate.Length(max=100))
    reporter_phone = fields.String(validate=validate.Length(max=32))
    idempotency_key = fields.String(validate=validate.Length(min=8, max=128))
    external_id = fields.String(validate=validate.Length(max=64))
    reported_at = bounded.AwareDateTime()
    attachments = fields.List(bounded.Id(), load_default=list, validate=validate.Length(max=50))
    self_handled = fields.Boolean(load_default=False)


class PublicReportSchema(Schema):
    description = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    category_code = fields.String(validate=validate.Length(max=32))
    lon = fields.Float(validate=validate.Range(-180, 180))
    lat = fields.Float(validate=validate.Range(-90, 90))
    crs = CrsField(load_default="wgs84")
    address = fields.String(validate=validate.Length(max=255))
    name = fields.String(validate=validate.Length(max=100))
    phone = fields.String(validate=validate.Regexp(r"^[0-9+\-() ]{5,32}$"))
    idempotency_key = fields.String(validate=validate.Length(min=8, max=128))


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
