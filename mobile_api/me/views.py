"""``/api/m/v1``: me (profile, my grids), device sessions and my devices."""
from __future__ import annotations

import hashlib

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from grid.accounts import devices
from grid.accounts.views import sign_in_limits
from mobile_api import PREFIX
from mobile_api.me import service
from mobile_api.me.schemas import (
    ConditionalHeaders,
    DeviceView,
    MyGridCollection,
    MyGridsQuery,
    ProfileView,
    RefreshSchema,
    SessionCreateSchema,
    SessionIssuedView,
)
from wangge.auth import current_staff, current_token, public, requires
from wangge.config import current_settings
from wangge.extensions import db

blp = Blueprint("mobile-me", __name__, url_prefix=PREFIX,
                description="手机：我、我的网格、设备 Phone: me, my grids, device sessions")

ETAG_HEADER = {"ETag": {"description": "Strong validator of this answer (send it back in If-None-Match).",
                        "schema": {"type": "string"}}}


def _issued(issued: devices.Issued) -> dict:
    return {"access_token": issued.access_secret, "access_expires_at": issued.access.expires_at,
            "refresh_token": issued.refresh_secret, "refresh_expires_at": issued.refresh.expires_at,
            "device": service.device_view(issued.device, issued.device.id),
            "staff": service.profile(db.session, issued.device.staff)}


def _matching_tag(etag: str) -> str | None:
    """The tag of If-None-Match that names this answer, or None. A compressed answer went out
    as ``"<etag>:gzip"`` (Flask-Compress keeps strong validators distinct per encoding), and
    the phone sends back what it got: either form names the same content."""
    tags = request.if_none_match
    if tags.star_tag:
        return etag
    for tag in tags.as_set(include_weak=True):
        if tag == etag or tag.partition(":")[0] == etag:
            return tag
    return None


@blp.route("/me")
class Me(MethodView):
    @requires()
    @blp.response(200, ProfileView)
    def get(self):
        """My profile: roles (with their names), department and the grids I am assigned to now."""
        return service.profile(db.session, current_staff())


@blp.route("/me/grids")
class MyGrids(MethodView):
    @requires()
    @blp.arguments(MyGridsQuery, location="query")
    @blp.arguments(ConditionalHeaders, location="headers")
    @blp.response(200, MyGridCollection, headers=ETAG_HEADER)
    @blp.alt_response(304, description="Not modified: the phone's copy (If-None-Match) is current.",
                      headers=ETAG_HEADER)
    def get(self, query, _headers):
        """My grids and their parents up to the district as GeoJSON, in ``?crs=``. Answers carry
        a strong ``ETag``; send it back in ``If-None-Match`` for a 304 while nothing changed."""
        crs = query["crs"]
        body = MyGridCollection().dump(service.my_grids(db.session, current_staff(), crs))
        response = current_app.json.response(body)
        digest = hashlib.sha256(crs.encode() + b"\n" + response.get_data()).hexdigest()[:40]
        etag = f"{crs}-{digest}"
        response.headers["Cache-Control"] = "private, no-cache"
        matched = _matching_tag(etag)
        if matched is not None:
            response = current_app.response_class(status=304)
            response.headers["Cache-Control"] = "private, no-cache"
            response.set_etag(matched)
            return response
        response.set_etag(etag)
        return response


@blp.route("/me/devices")
class MyDevices(MethodView):
    @requires()
    @blp.response(200, DeviceView(many=True))
    def get(self):
        """My signed-in devices, the one of this request marked ``current``."""
        current = current_token().device_session_id
        return [service.device_view(d, current) for d in devices.devices_of(db.session, current_staff())]


@blp.route("/me/devices/<int:device_id>")
class MyDevice(MethodView):
    @requires()
    @blp.response(200, DeviceView)
    def delete(self, device_id):
        """Sign one of my devices out (a lost phone): its refresh and access tokens stop working.
        Another person's device is 404; signing out again changes nothing."""
        device = devices.sign_out_device(db.session, current_staff(), device_id)
        return service.device_view(device, current_token().device_session_id)


@blp.route("/sessions")
class Sessions(MethodView):
    @public
    @sign_in_limits
    @blp.arguments(SessionCreateSchema)
    @blp.doc(security=[])
    @blp.response(201, SessionIssuedView)
    def post(self, body):
        """Sign a phone in: a short-lived access token and a refresh token for this device.
        Failed sign-ins count against the same limits as /api/v1/auth/login."""
        s = current_settings()
        issued = devices.sign_in(db.session, username=body["username"], password=body["password"],
                                 device_id=body["device_id"], device_name=body["device_name"],
                                 platform=body["platform"], access_minutes=s.device_token_ttl_minutes,
                                 refresh_days=s.refresh_ttl_days)
        return _issued(issued)


@blp.route("/sessions/refresh")
class Refresh(MethodView):
    @public
    @blp.arguments(RefreshSchema)
    @blp.doc(security=[])
    @blp.response(200, SessionIssuedView)
    def post(self, body):
        """Trade a refresh token for a new access token and a new refresh token (the old one is
        spent). A spent refresh token presented again signs the device out: 401
        ``refresh_token_reused``."""
        s = current_settings()
        try:
            issued = devices.refresh(db.session, body["refresh_token"], access_minutes=s.device_token_ttl_minutes,
                                     refresh_days=s.refresh_ttl_days)
        except devices.RefreshTokenReused:
            # The one error that changes data: the family's revocation must stand although
            # the answer is 401 (the edge rolls back every error answer).
            db.session.commit()
            raise
        return _issued(issued)
