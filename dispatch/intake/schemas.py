"""What a report looks like on the way in (staff and citizens)."""
from marshmallow import Schema, fields, validate

from dispatch.cases.models import CHANNELS
from grid.schemas import CrsField
from wangge import fields as bounded


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
    reported_at = bounded.AwareDateTime(past=True)
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
