"""Marshmallow schemas for the work calendar and deadlines (they also generate the OpenAPI document)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from grid.catalog.limits import MAX_AMOUNT, UNITS
from grid.catalog.schemas import AMOUNT_NOTE, check_amount
from wangge import fields as bounded
from wangge.contract import LocalTime, QuerySchema


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
                          metadata={"description": AMOUNT_NOTE})
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))

    @validates_schema
    def _amount_for_unit(self, data, **kwargs):
        check_amount(data, allow_zero=True)


# --- answers ------------------------------------------------------------------------------

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
