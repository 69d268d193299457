"""The phone's single report and offline batch (``/api/m/v1``), and the dispatch center's
list of kept conflicts (``/api/v1/sync-conflicts``). Thin: the work is ``service``."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from dispatch.intake import service as intake
from dispatch.intake.staff_views import REPORTERS, current_reporter, fresh, submit_staff_report
from dispatch.workflow.actions import allowed_verbs, state_name
from mobile_api import PREFIX
from mobile_api.crs import CrsQuery, point_out
from mobile_api.push import conflicts, service
from mobile_api.push.schemas import (
    ConflictListView,
    ConflictQuery,
    ConflictView,
    PhoneCaseView,
    PhoneReportSchema,
    PushAnswer,
    PushSchema,
    ResolveSchema,
)
from wangge.answers import as_built
from wangge.auth import current_staff, requires
from wangge.extensions import db
from wangge.present import local_iso

blp = Blueprint("mobile_push", __name__, url_prefix=PREFIX,
                description="手机上报与离线推送 Phone: a report, and the offline batch (push)")
desk = Blueprint("sync_conflicts", __name__, url_prefix="/api/v1/sync-conflicts",
                 description="离线冲突 Offline work that met a case which had moved on")

DISPATCH_CENTER = conflicts.DISPATCH_CENTER


def phone_case(case, staff, crs: str) -> dict:
    lon, lat = point_out(case.lon, case.lat, crs)
    created = getattr(case, "intake", None)  # written by this request: it knows its duplicate's number
    if created is not None:
        duplicate = created.duplicate_number
    else:
        duplicate = db.session.get(type(case), case.duplicate_of_id).number if case.duplicate_of_id else None
    return {"number": case.number, "tracking_code": case.tracking_code, "state": case.state,
            "state_name": state_name(case.state), "version": case.version, "category_code": case.category_code,
            "grid_code": case.grid_code, "address": case.address, "lon": lon, "lat": lat, "crs": crs,
            "reported_at": local_iso(case.reported_at), "possible_duplicate_of": duplicate,
            "allowed_verbs": allowed_verbs(case, staff)}


@blp.route("/reports")
class PhoneReports(MethodView):
    @requires(*REPORTERS)
    @blp.arguments(CrsQuery, location="query", as_kwargs=True)
    @blp.arguments(PhoneReportSchema)
    @blp.response(201, PhoneCaseView)
    @blp.alt_response(200, schema=PhoneCaseView, success=True,
                      description="The same client id with the same body again: the case it made")
    def post(self, body, crs):
        """Report a case from the phone: the desk's report rules, with the phone's ``client_id``
        (or the ``Idempotency-Key`` header). Sent again with the same body it answers the same
        case (200); the same client id with another body is 409 ``idempotency_key_reused``."""
        reporter = current_reporter()  # from the token: no staff SELECT for a new report
        key = intake.client_key(request.headers.get("Idempotency-Key"), body.pop("client_id", None))
        case, created = submit_staff_report(db.session, reporter, {**body, "channel": "staff"}, key)
        status = 201 if created else 200
        if fresh(case):
            return as_built(phone_case(case, reporter, crs), PhoneCaseView), status
        return phone_case(case, current_staff(), crs), status


@blp.route("/sync/push")
class SyncPush(MethodView):
    @requires()
    @blp.arguments(PushSchema)
    @blp.response(200, PushAnswer)
    def post(self, body):
        """Push what was done offline: 1 to 100 items in order, reports and verb actions, each
        with its own ``client_id``. One outcome per item: created, done, already_done (sent
        before: what was done then), conflict (the case moved on; kept for the dispatch center),
        refused (code and message naming the field), idempotency_key_reused. A refused item
        never undoes the others; the same batch again changes nothing."""
        return service.push(db.session, current_staff(), body["items"])


@desk.route("")
class SyncConflicts(MethodView):
    @requires(*DISPATCH_CENTER)
    @desk.arguments(ConflictQuery, location="query")
    @desk.response(200, ConflictListView)
    def get(self, args):
        """Offline work that met a case which had moved on, newest first (``unresolved``,
        ``case`` number)."""
        rows = conflicts.conflicts(db.session, **args)
        return {"conflicts": [conflicts.conflict_view(r) for r in rows]}


@desk.route("/<int:conflict_id>/resolve")
class ResolveConflict(MethodView):
    @requires(*DISPATCH_CENTER)
    @desk.arguments(ResolveSchema)
    @desk.response(200, ConflictView)
    def post(self, body, conflict_id):
        """Mark a conflict resolved with a note (who and when are recorded). 409
        ``sync_conflict_resolved`` when someone already did."""
        return conflicts.conflict_view(conflicts.resolve(db.session, conflict_id, current_staff(), body["note"]))
