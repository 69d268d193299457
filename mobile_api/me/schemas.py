"""Request and answer schemas of the phone API's ``me`` part (they also make the OpenAPI
document a phone client is generated from)."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from grid.models import DEPARTMENT_KINDS, DEVICE_PLATFORMS, GRID_LEVELS
from grid.roles import ROLES
from mobile_api.crs import CrsQuery
from wangge.contract import LocalTime


class MyGridsQuery(CrsQuery):
    pass


class ConditionalHeaders(Schema):
    """Documents ``If-None-Match`` (the view reads it from the request: a list of ETags)."""

    class Meta:
        unknown = EXCLUDE

    if_none_match = fields.String(data_key="If-None-Match", load_only=True, metadata={
        "description": "The ETag of the answer the phone has; 304 when it is still current."})


class SessionCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))
    device_id = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "A stable id of the installation (e.g. a UUID the app keeps). Signing in again "
                       "with the same id replaces that device's earlier session."})
    device_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100),
                                metadata={"description": "What the person calls the phone, shown in their device list."})
    platform = fields.String(required=True, validate=validate.OneOf(DEVICE_PLATFORMS))


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))


# --- answers ------------------------------------------------------------------------------

class RoleView(Schema):
    code = fields.String(validate=validate.OneOf(ROLES))
    label = fields.String(metadata={"description": "The role as people call it, in the user's language."})


class MyDepartmentView(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String(validate=validate.OneOf(DEPARTMENT_KINDS))


class ProfileView(Schema):
    id = fields.Integer()
    username = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True)
    language = fields.String(validate=validate.OneOf(["zh", "en"]))
    timezone = fields.String()
    roles = fields.List(fields.Nested(RoleView))
    department = fields.Nested(MyDepartmentView, allow_none=True)
    grid_codes = fields.List(fields.String(), metadata={"description": "The grids I am assigned to now."})


class MyGridProperties(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String(validate=validate.OneOf(GRID_LEVELS))
    parent_code = fields.String(allow_none=True)
    mine = fields.Boolean(metadata={"description": "True for a grid I am assigned to, false for its parents."})


class MyGridFeature(Schema):
    type = fields.String(validate=validate.OneOf(["Feature"]))
    id = fields.String()
    properties = fields.Nested(MyGridProperties)
    geometry = fields.Dict(metadata={"description": "GeoJSON geometry in the requested coordinate system"})


class MyGridCollection(Schema):
    """My grids and their parents up to the top level, from the top down."""
    type = fields.String(validate=validate.OneOf(["FeatureCollection"]))
    features = fields.List(fields.Nested(MyGridFeature))


class DeviceView(Schema):
    id = fields.Integer()
    device_name = fields.String(allow_none=True)
    platform = fields.String(validate=validate.OneOf(DEVICE_PLATFORMS))
    created_at = LocalTime()
    last_seen_at = LocalTime()
    signed_out_at = LocalTime(metadata={"description": "Null while the device is signed in."})
    current = fields.Boolean(metadata={"description": "The device this request came from."})


class SessionIssuedView(Schema):
    access_token = fields.String(metadata={"description": "A short-lived bearer token (shown once)."})
    access_expires_at = LocalTime()
    refresh_token = fields.String(metadata={
        "description": "Trade it for new tokens at /sessions/refresh; each is good for one use (shown once)."})
    refresh_expires_at = LocalTime()
    device = fields.Nested(DeviceView)
    staff = fields.Nested(ProfileView)
