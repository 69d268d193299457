"""Citizens: report without an account, follow progress by tracking code, rate the outcome."""
from flask import request
from flask.views import MethodView
from flask_limiter.util import get_remote_address
from flask_smorest import Blueprint
from shapely.geometry import mapping
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from dispatch.attachments import service as attachments
from dispatch.attachments.schemas import CitizenUploadView, upload_body
from dispatch.cases.lifecycle import CITIZEN
from dispatch.cases.models import Case
from dispatch.intake import service as intake
from dispatch.intake.schemas import (
    PUBLIC_NAMES,
    PublicCaseSchema,
    PublicGridCollection,
    PublicGridQuery,
    PublicReceiptSchema,
    PublicReportSchema,
)
from dispatch.workflow.actions import Actor, Payload, act
from dispatch.workflow.presenters import public_case_view, public_state
from dispatch.workflow.schemas import RatingSchema
from grid.models import Grid
from wangge.auth import public
from wangge.config import current_settings
from wangge.errors import ApiError, NotFound, validation_error
from wangge.extensions import db, limiter

blp = Blueprint("public", __name__, url_prefix="/api/v1/public", description="市民 Citizens (no account)")

# Limits per client address and per tracking code (a code read or rated from many addresses
# is someone polling or guessing it). Every request counts, refused ones included.
REPORTS_PER_ADDRESS = "20 per hour"
READS_PER_ADDRESS, READS_PER_CODE = "60 per minute", "30 per minute"
OUTLINES_PER_ADDRESS, MAX_OUTLINES = "30 per minute", 5000
RATINGS_PER_ADDRESS, RATINGS_PER_CODE = "20 per hour", "5 per hour"


def _photo_limit() -> str:
    return current_settings().public_photo_rate_limit


def tracking_code_key() -> str:
    return "code:" + (request.view_args or {}).get("code", "")[:32].upper()  # codes are 10 characters


def by_tracking_code(code: str) -> Case:
    case = db.session.scalar(select(Case).where(Case.tracking_code == code.upper()))
    if case is None:
        raise NotFound("case", code)
    return case


@blp.route("/reports")
class Reports(MethodView):
    @public
    @limiter.limit(REPORTS_PER_ADDRESS, key_func=get_remote_address)
    @blp.arguments(PublicReportSchema)
    @blp.response(201, PublicReceiptSchema, description="A new report")
    @blp.alt_response(200, schema=PublicReceiptSchema, description="The report this idempotency key made before")
    @blp.doc(security=[])
    def post(self, body):
        """Report a problem; returns the tracking code to follow it. Idempotent by key.
        ``photos``: upload tokens from ``POST /api/v1/public/photos`` (each once, before it
        expires; 422 naming the position of one that cannot be used)."""
        key = intake.client_key(request.headers.get("Idempotency-Key"), body.pop("idempotency_key", None))
        sub = intake.Submission(channel="citizen" if request.headers.get("X-Client") == "app" else "web",
                                description=body["description"], category_code=body.get("category_code"),
                                lon=body.get("lon"), lat=body.get("lat"), crs=body["crs"],
                                address=body.get("address"), reporter_name=body.get("name"),
                                reporter_phone=body.get("phone"), idempotency_key=key,
                                sender="public", attachments=attachments.citizen_upload_ids(db.session, body["photos"]))
        case, created = intake.submit(db.session, sub, role=CITIZEN, names=PUBLIC_NAMES)
        return {"tracking_code": case.tracking_code, "number": case.number, "state": case.state}, \
            201 if created else 200


@blp.route("/photos")
class Photos(MethodView):
    @public
    @limiter.limit(_photo_limit, key_func=get_remote_address)
    @blp.response(201, CitizenUploadView)
    @blp.doc(security=[], requestBody=upload_body(with_kind=False))
    def post(self):
        """Upload a photo for a report: multipart ``file``, JPEG/PNG/WebP checked by decoding
        it (422 ``not_an_image`` / ``unsupported_image``, 413 above 10 MB), stored without
        EXIF/XMP/IPTC (nothing of its capture time or place is kept). Answers a one-time
        ``upload_token``: list it in ``photos`` of one report before ``expires_at``. Limited
        per address (``WANGGE_PUBLIC_PHOTO_RATE_LIMIT``, 429 above)."""
        upload = request.files.get("file")
        if upload is None:
            raise validation_error({"file": ["required (multipart/form-data field 'file')"]})
        data = attachments.read_limited(upload.stream)
        row, token = attachments.store_citizen(db.session, data, upload.filename)
        return {"upload_token": token, "expires_at": row.upload_expires_at, "content_type": row.content_type,
                "size": row.size}, 201


@blp.route("/reports/<code>")
class Report(MethodView):
    @public
    @limiter.limit(READS_PER_ADDRESS, key_func=get_remote_address)
    @limiter.limit(READS_PER_CODE, key_func=tracking_code_key)
    @blp.response(200, PublicCaseSchema)
    @blp.doc(security=[])
    def get(self, code):
        """Progress of my report (no personal data of staff)."""
        case = by_tracking_code(code)
        data = public_case_view(db.session, case)
        if case.merged_into_id:
            master = db.session.get(Case, case.merged_into_id)
            data["merged_into"] = {"number": master.number, "state": public_state(master.state)[0]}
        return data


@blp.route("/reports/<code>/rating")
class Rating(MethodView):
    @public
    @limiter.limit(RATINGS_PER_ADDRESS, key_func=get_remote_address)
    @limiter.limit(RATINGS_PER_CODE, key_func=tracking_code_key)
    @blp.arguments(RatingSchema)
    @blp.response(200, PublicCaseSchema)
    @blp.doc(security=[])
    def post(self, body, code):
        """Rate the outcome once per closure: satisfied, basically_satisfied or unsatisfied
        (409 ``already_rated`` for a second rating)."""
        case = by_tracking_code(code)
        try:
            act(db.session, case, "rate", Actor(None, CITIZEN), Payload(rating=body["rating"], note=body.get("note")))
        except StaleDataError:  # a double tap: the other request rated it at the same moment
            db.session.rollback()
            raise ApiError("case_conflict", status=409, number=case.number) from None
        return public_case_view(db.session, case)


@blp.route("/grids")
class GridOutlines(MethodView):
    @public
    @limiter.limit(OUTLINES_PER_ADDRESS, key_func=get_remote_address)
    @blp.arguments(PublicGridQuery, location="query")
    @blp.response(200, PublicGridCollection)
    @blp.doc(security=[])
    def get(self, args):
        """Outlines of the current grids at one level (code, name, WGS-84 geometry; at most
        5,000): the base map of the citizen page, so no tile server is needed."""
        grids = db.session.scalars(select(Grid).where(Grid.valid_to.is_(None), Grid.level == args["level"])
                                   .order_by(Grid.code).limit(MAX_OUTLINES))
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": g.code, "properties": {"code": g.code, "name": g.name, "level": g.level},
             "geometry": mapping(g.geom)} for g in grids]}
