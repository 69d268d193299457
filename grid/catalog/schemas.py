"""Marshmallow schemas for the category catalog and time limits (they also generate the OpenAPI document)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from grid.catalog.limits import MAX_AMOUNT, STAGES, UNITS, amount_error
from grid.models import CATEGORY_KINDS
from wangge import fields as bounded

AMOUNT_NOTE = "At most " + ", ".join(f"{n:g} {unit}" for unit, n in MAX_AMOUNT.items()) + "."


def check_amount(data: dict, *, allow_zero: bool) -> None:
    if "amount" in data and data.get("unit") in MAX_AMOUNT:
        message = amount_error(data["amount"], data["unit"], allow_zero=allow_zero)
        if message:
            raise ValidationError(message, field_name="amount")


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
                          metadata={"description": AMOUNT_NOTE})
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))

    @validates_schema
    def _amount_for_unit(self, data, **kwargs):
        check_amount(data, allow_zero=False)


# --- answers ------------------------------------------------------------------------------

class LimitInForce(Schema):
    stage = fields.String(validate=validate.OneOf(STAGES))
    amount = fields.Float()
    unit = fields.String(validate=validate.OneOf(UNITS))
    from_ = fields.String(attribute="from", data_key="from", allow_none=True,
                          metadata={"description": "The category whose limit applies; null for the default."})
