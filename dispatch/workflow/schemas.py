"""Case actions, ratings, the case list's query, and how cases are answered.

The presenters (``dispatch.workflow.presenters``) build the dicts; the views declare these
schemas with ``@blp.response``, which dump them and document them in the OpenAPI document."""
import re

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from dispatch.attachments.schemas import CasePhotoView
from dispatch.cases.lifecycle import STATES
from dispatch.cases.models import CHANNELS, RATINGS
from grid.catalog.limits import MAX_AMOUNT, STAGES, UNITS
from wangge import fields as bounded
from wangge.contract import CommaSeparated, LocalTime, QuerySchema
from wangge.i18n import t

LIGHTS = ("green", "yellow", "red")


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
    # reclassify and relocate (docs/dispatch.md, "Correcting a case"); other verbs refuse them
    category_code = fields.String(validate=validate.Length(min=1, max=32), metadata={
        "description": "reclassify: an active small class of the catalog"})
    lon = fields.Float(allow_nan=False, validate=validate.Range(-180, 180), metadata={
        "description": "relocate: WGS-84 longitude, with lat; the grid is the one the point lies in"})
    lat = fields.Float(allow_nan=False, validate=validate.Range(-90, 90), metadata={
        "description": "relocate: WGS-84 latitude, with lon"})
    grid_code = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "relocate: a current unit grid (instead of a point, or the point's own grid)"})
    address = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "relocate: the address as text, stored on the case"})
    attachments = fields.List(bounded.Id(), load_default=list, validate=validate.Length(max=50))
    expected_version = bounded.BoundedInt()


class RatingSchema(Schema):
    rating = fields.String(required=True, validate=validate.OneOf(RATINGS))
    note = fields.String(validate=validate.Length(max=2000))


MAX_SEARCH = 100  # characters of ``q``
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CaseFilters(QuerySchema):
    """Filters of the case list and of its counts (``GET /api/v1/cases/counts``). Unknown
    parameters and unknown codes are a 422 naming the parameter (the codes of department, grid
    and category are checked by the view)."""
    state = CommaSeparated(STATES)
    channel = CommaSeparated(CHANNELS)
    department = fields.String(validate=validate.Length(max=32), metadata={"description": "department code"})
    grid = fields.String(validate=validate.Length(max=64), metadata={
        "description": "grid code at any level: a street or district answers the cases of every grid under it"})
    category = fields.String(validate=validate.Length(max=32), metadata={"description": "category code"})
    light = fields.String(validate=validate.OneOf(LIGHTS))
    supervised = fields.Boolean()
    q = fields.String(validate=validate.Length(min=2, max=MAX_SEARCH), metadata={
        "description": "search, 2 to 100 characters: a case number (exact), words of the title, description "
                       "or address (substring, any case), or the reporter's phone (4 or more digits: the whole "
                       "number or its last digits; separators ignored). Cases matching any of these."})
    reported_from = bounded.Date(metadata={
        "description": "reported on or after this day (in the user's time zone). Years 1970..2200."})
    reported_to = bounded.Date(metadata={
        "description": "reported on or before this day (in the user's time zone), not before reported_from. "
                       "Years 1970..2200."})

    @pre_load
    def _trim_search(self, data, **kwargs):
        # surrounding spaces dropped; an emptied search box ("q=") is no search, not a 422
        if isinstance(data.get("q"), str):
            data = {key: data[key] for key in data}
            data["q"] = data["q"].strip()
            if not data["q"]:
                del data["q"]
        return data

    @validates("q")
    def _search_characters(self, value, **kwargs):
        if _CONTROL.search(value):
            raise ValidationError(t("invalid_characters_field"))

    @validates_schema
    def _date_range(self, data, **kwargs):
        start, end = data.get("reported_from"), data.get("reported_to")
        if start is not None and end is not None and start > end:
            raise ValidationError(t("reported_to_before_from"), "reported_to")


class CaseQuery(CaseFilters):
    """The case list: its filters, sort order and page."""
    sort = fields.String(load_default="newest", validate=validate.OneOf(("newest", "deadline")), metadata={
        "description": "newest (id, newest first) or deadline (running stage clock's due time, soonest "
                       "first; cases without a running clock last)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = fields.String(metadata={
        "description": "next_cursor of the previous page (same sort); a cursor that is not one is a 400 "
                       "bad_cursor. The documented way to page."})
    offset = bounded.BoundedInt(load_default=0, metadata={
        "description": "kept for existing clients: rows to skip (slow on deep pages); not with cursor"})

    @validates_schema
    def _cursor_or_offset(self, data, **kwargs):
        if data.get("cursor") is not None and data.get("offset"):
            raise ValidationError(t("cursor_with_offset"), "offset")


class CaseLightCounts(Schema):
    green = fields.Integer()
    yellow = fields.Integer()
    red = fields.Integer()
    none = fields.Integer(allow_none=True, metadata={
        "description": "no running clock (none yet, ended, or paused); null (not counted) when the total is over cap"})


class CaseCountsView(Schema):
    lights = fields.Nested(CaseLightCounts)
    total = fields.Integer()
    cap = fields.Integer(metadata={"description": "each number is exact up to this (the count_cap setting)"})
    capped = fields.List(fields.String(), metadata={
        "description": "the numbers (green, yellow, red, none, total) that stopped at cap: the list holds more"})


# --- answers ------------------------------------------------------------------------------

class CodeName(Schema):
    code = fields.String()
    name = fields.String()


class ClockView(Schema):
    """The running (or last) stage clock and its light."""
    stage = fields.String(validate=validate.OneOf(STAGES))
    amount = fields.Float()
    unit = fields.String(validate=validate.OneOf(UNITS))
    extended = fields.Float(metadata={"description": "amount added by extensions"})
    started_at = LocalTime()
    warn_at = LocalTime()
    due_at = LocalTime()
    paused = fields.Boolean()
    ended_at = LocalTime()
    late = fields.Boolean(allow_none=True)
    light = fields.String(allow_none=True)


class CaseSummaryView(Schema):
    number = fields.String()
    state = fields.String(validate=validate.OneOf(STATES))
    state_name = fields.String()
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    category_code = fields.String(allow_none=True)
    grid_code = fields.String(allow_none=True)
    department = fields.Nested(CodeName, allow_none=True)
    title = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    lon = fields.Float(allow_none=True)
    lat = fields.Float(allow_none=True)
    reported_at = LocalTime()
    closed_at = LocalTime()
    supervised = fields.Boolean()
    rating = fields.String(allow_none=True, validate=validate.OneOf(RATINGS))
    version = fields.Integer()
    clock = fields.Nested(ClockView, allow_none=True)


class CaseListView(Schema):
    cases = fields.List(fields.Nested(CaseSummaryView))
    next_cursor = fields.String(allow_none=True, metadata={
        "description": "send as cursor for the next page; null on the last page"})


class ActorView(Schema):
    id = fields.Integer()
    name = fields.String()


class EventView(Schema):
    id = fields.Integer()
    verb = fields.String()
    actor = fields.Nested(ActorView, allow_none=True)
    role = fields.String(allow_none=True)
    at = LocalTime()
    from_ = fields.String(attribute="from", data_key="from", allow_none=True)
    to = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True, metadata={"description": "What the verb recorded (department, amount...)"})
    attachments = fields.List(fields.Integer(), allow_none=True)


class ReporterView(Schema):
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    staff_id = fields.Integer(allow_none=True)


class OriginalPoint(Schema):
    lon = fields.Float(allow_none=True)
    lat = fields.Float(allow_none=True)
    crs = fields.String(allow_none=True)


class CaseDetailView(CaseSummaryView):
    id = fields.Integer()
    tracking_code = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    reporter = fields.Nested(ReporterView)
    original = fields.Nested(OriginalPoint)
    suggested_department = fields.Nested(CodeName, allow_none=True)
    suggestion_reason = fields.String(allow_none=True)
    media_url = fields.String(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    review_date = fields.String(allow_none=True, metadata={"format": "date"})
    possible_duplicate_of = fields.String(allow_none=True, metadata={"description": "number of the earlier case"})
    merged_into = fields.String(allow_none=True, metadata={"description": "number of the master case"})
    events = fields.List(fields.Nested(EventView))
    photos = fields.List(fields.Nested(CasePhotoView), metadata={"description": "docs/photos.md"})
    allowed_verbs = fields.List(fields.String(), metadata={"description": "the verbs I may use now"})
