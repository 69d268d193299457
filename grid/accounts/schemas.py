"""Marshmallow schemas for sign-in, tokens, staff and their grid assignments (they also generate the OpenAPI document)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from grid.departments.schemas import DepartmentBrief
from grid.roles import ROLES
from wangge import fields as bounded
from wangge.contract import LocalTime


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1))
    client = fields.String(validate=validate.Length(max=100))


class TokenSchema(Schema):
    token = fields.String()
    expires_at = fields.DateTime()
    staff = fields.Nested(lambda: StaffSchema())


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


# --- answers ------------------------------------------------------------------------------

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


class DevicesSignedOutView(Schema):
    signed_out = fields.Integer(metadata={"description": "How many signed-in devices were signed out."})
