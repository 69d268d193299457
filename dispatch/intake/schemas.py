"""What a report looks like on the way in (staff and citizens) and what the citizen is answered.

The schemas parse types and document the limits in the OpenAPI document; whether a report is
valid is decided by ``dispatch.intake.rules`` (the same for every channel), whose constants
the documented limits are."""
from marshmallow import Schema, fields, validate

from dispatch.cases.models import CHANNELS
from dispatch.intake import rules
from wangge import fields as bounded
from wangge.contract import QuerySchema


def _text(max_length: int, *, min_length: int | None = None, **kwargs) -> fields.String:
    """A text field whose limits are documented here and enforced by ``rules``."""
    metadata = {"maxLength": max_length, **kwargs.pop("metadata", {})}
    if min_length is not None:
        metadata["minLength"] = min_length
    return fields.String(metadata=metadata, **kwargs)


def _coordinate(low: float, high: float) -> fields.Float:
    return fields.Float(metadata={"minimum": low, "maximum": high,
                                  "description": "Give both lon and lat, or neither (then an address)."})


_CRS = {"enum": list(rules.CRS_CHOICES), "description": "Coordinate system of lon/lat (map SDKs: gcj02, bd09)."}
_KEY = {"description": "A client's own idempotency key (or the Idempotency-Key header)."}


class CaseCreateSchema(Schema):
    channel = fields.String(load_default="staff", metadata={"enum": list(CHANNELS)})
    description = _text(rules.DESCRIPTION_MAX, min_length=1, required=True)
    title = _text(rules.TITLE_MAX)
    category_code = _text(rules.CATEGORY_CODE_MAX, metadata={"description": "A small class of the catalog."})
    lon = _coordinate(rules.LON_MIN, rules.LON_MAX)
    lat = _coordinate(rules.LAT_MIN, rules.LAT_MAX)
    crs = fields.String(load_default="wgs84", metadata=_CRS)
    address = _text(rules.ADDRESS_MAX)
    reporter_name = _text(rules.NAME_MAX)
    reporter_phone = _text(rules.PHONE_MAX, metadata={"pattern": rules.PHONE_PATTERN})
    idempotency_key = _text(rules.KEY_MAX, min_length=rules.KEY_MIN, metadata=_KEY)
    external_id = _text(rules.EXTERNAL_ID_MAX)
    # the year bound is parsing (a year beyond it overflows); "not in the future" is a rule
    reported_at = bounded.AwareDateTime(metadata={"description": f"Years {rules.YEAR_MIN}..{rules.YEAR_MAX} "
                                                                 "in UTC; not in the future."})
    attachments = fields.List(bounded.Id(), load_default=list, validate=validate.Length(max=50))
    self_handled = fields.Boolean(load_default=False)


CITIZEN_PHOTOS_MAX = 6   # photos on one citizen report
PHOTO_TOKEN_MAX = 64     # an upload token is 43 characters


class PublicReportSchema(Schema):
    description = _text(rules.DESCRIPTION_MAX, min_length=1, required=True)
    category_code = _text(rules.CATEGORY_CODE_MAX, metadata={"description": "A small class of the catalog."})
    lon = _coordinate(rules.LON_MIN, rules.LON_MAX)
    lat = _coordinate(rules.LAT_MIN, rules.LAT_MAX)
    crs = fields.String(load_default="wgs84", metadata=_CRS)
    address = _text(rules.ADDRESS_MAX)
    name = _text(rules.NAME_MAX)
    phone = _text(rules.PHONE_MAX, metadata={"pattern": rules.PHONE_PATTERN})
    idempotency_key = _text(rules.KEY_MAX, min_length=rules.KEY_MIN, metadata=_KEY)
    photos = fields.List(fields.String(validate=validate.Length(min=1, max=PHOTO_TOKEN_MAX)), load_default=list,
                         validate=validate.Length(max=CITIZEN_PHOTOS_MAX), metadata={
                             "description": "upload tokens from POST /api/v1/public/photos (each usable once)"})


# The rules' (``Submission``) field names -> the public report's field names.
PUBLIC_NAMES = {"reporter_name": "name", "reporter_phone": "phone"}


# --- answers -----------------------------------------------------------------------------

class PublicReceiptSchema(Schema):
    tracking_code = fields.String(required=True, metadata={"description": "Follow the report with this code."})
    number = fields.String(required=True)
    state = fields.String(required=True)


class PublicDepartmentSchema(Schema):
    name = fields.String(required=True)


class PublicEventSchema(Schema):
    verb = fields.String(required=True)
    at = fields.String(required=True, metadata={"format": "date-time"})
    role = fields.String(allow_none=True, metadata={"description": "citizen for the citizen's own steps"})
    note = fields.String(allow_none=True, metadata={"description": "Only the public answers"})


class MergedIntoSchema(Schema):
    number = fields.String(required=True)
    state = fields.String(required=True)


class PublicCaseSchema(Schema):
    """The tracking page (``dispatch.workflow.presenters.public_case_view``): no clocks, internal
    steps, staff or reporter data; times in the user's zone."""
    number = fields.String(required=True)
    tracking_code = fields.String(required=True)
    state = fields.String(required=True, metadata={"description": "The public step (received, accepted, ...)"})
    state_name = fields.String(required=True)
    category_code = fields.String(allow_none=True)
    description = fields.String(required=True)
    address = fields.String(allow_none=True)
    lon = fields.Float(allow_none=True)
    lat = fields.Float(allow_none=True)
    department = fields.Nested(PublicDepartmentSchema, allow_none=True)
    reported_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    closed_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    expected_by = fields.String(allow_none=True, metadata={"format": "date-time"})
    rating = fields.String(allow_none=True)
    events = fields.List(fields.Nested(PublicEventSchema), required=True)
    merged_into = fields.Nested(MergedIntoSchema, metadata={"description": "The case this report was merged into"})


class PublicGridQuery(QuerySchema):
    level = fields.String(load_default="grid", validate=validate.OneOf(["street", "community", "grid"]),
                          metadata={"description": "Which grids to outline (default: unit grids)"})


class PublicGridProperties(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.String(required=True)


class PublicGridFeature(Schema):
    type = fields.String(required=True, metadata={"enum": ["Feature"]})
    id = fields.String(required=True)
    properties = fields.Nested(PublicGridProperties, required=True)
    geometry = fields.Dict(required=True, metadata={"description": "GeoJSON geometry, WGS-84"})


class PublicGridCollection(Schema):
    type = fields.String(required=True, metadata={"enum": ["FeatureCollection"]})
    features = fields.List(fields.Nested(PublicGridFeature), required=True)
