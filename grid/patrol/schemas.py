"""Patrol requests and answers (phone views in ``mobile_api.patrol``, leaders' in ``views``)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from grid.grids.schemas import CrsField
from wangge import fields as bounded
from wangge.contract import LocalTime, QuerySchema

from .batch import MAX_POINTS, PointBatch, load_batch
from .models import REASONS

CRS_DESCRIPTION = ("Coordinate system of every point and geometry in the answer: wgs84 (default, GPS), "
                   "gcj02 (AMap, Tencent) or bd09 (Baidu).")


def crs_query_field():
    return CrsField(load_default="wgs84", metadata={"description": CRS_DESCRIPTION,
                                                    "enum": ["wgs84", "gcj02", "bd09"]})


# --- requests -----------------------------------------------------------------------------------

class TrackPointIn(Schema):
    t = bounded.AwareDateTime(required=True, data_key="time", metadata={
        "description": "when the phone took the fix, with its offset (years 1970..2200)"})
    lon = fields.Float(required=True, allow_nan=False, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, allow_nan=False, validate=validate.Range(-90, 90))
    crs = CrsField(load_default=None, allow_none=True, metadata={
        "description": "this point's system when it differs from the batch's"})
    accuracy = fields.Float(load_default=None, allow_none=True, allow_nan=False,
                            validate=validate.Range(0, 100000), metadata={"description": "metres (68%)"})
    speed = fields.Float(load_default=None, allow_none=True, allow_nan=False,
                         validate=validate.Range(0, 1000), metadata={"description": "metres per second"})


class TrackBatchIn(Schema):
    crs = CrsField(load_default="wgs84", metadata={"description": "system of the points: wgs84, gcj02, bd09"})
    points = fields.List(fields.Nested(TrackPointIn), required=True,
                         validate=validate.Length(min=1, max=MAX_POINTS),
                         metadata={"description": f"1 to {MAX_POINTS} points, any order"})

    def load(self, data, *, many=None, partial=None, unknown=None):
        """``{"crs": ..., "points": PointBatch}``. A batch is first read column-wise by
        :func:`grid.patrol.batch.load_batch` (the same rules, ~10x less CPU); whatever it does
        not accept is judged by marshmallow's own ``load``, so every 422 is this schema's."""
        if many is None and partial is None and unknown in (None, RAISE):
            fast = load_batch(data)
            if fast is not None:
                return {"crs": fast[0], "points": fast[1]}
        loaded = super().load(data, many=many, partial=partial, unknown=unknown)
        return {**loaded, "points": PointBatch.from_dicts(loaded["points"])}


class CheckinIn(Schema):
    lon = fields.Float(required=True, allow_nan=False, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, allow_nan=False, validate=validate.Range(-90, 90))
    crs = CrsField(load_default="wgs84")


class DayQuery(QuerySchema):
    day = bounded.Date(load_default=None, metadata={"description": "local day (default: today)"})


class StaffDayQuery(DayQuery):
    staff_id = bounded.Id(required=True)


class TrackQuery(DayQuery):
    crs = crs_query_field()


class StaffTrackQuery(TrackQuery):
    staff_id = bounded.Id(required=True)


class ActiveQuery(QuerySchema):
    crs = crs_query_field()


# --- answers ------------------------------------------------------------------------------------

Reasons = Schema.from_dict({reason: fields.Integer() for reason in REASONS}, name="PatrolRejectReasons")


class Totals(Schema):
    accepted = fields.Integer()
    rejected = fields.Nested(Reasons)


class Position(Schema):
    lon = fields.Float(allow_none=True)
    lat = fields.Float(allow_none=True)
    at = LocalTime()


class PatrolView(Schema):
    id = fields.Integer()
    staff_id = fields.Integer()
    started_at = LocalTime()
    ended_at = LocalTime()
    open = fields.Boolean()
    last = fields.Nested(Position, allow_none=True, metadata={"description": "latest accepted point"})
    distance_m = fields.Float(metadata={"description": "running distance of accepted points"})
    totals = fields.Nested(Totals)


class UploadView(Schema):
    patrol_id = fields.Integer()
    accepted = fields.Integer(metadata={"description": "points of this batch stored as track"})
    rejected = fields.Nested(Reasons, metadata={"description": "points of this batch filtered, per reason"})
    totals = fields.Nested(Totals, metadata={"description": "the patrol's running totals"})


class CheckinView(Schema):
    id = fields.Integer()
    patrol_id = fields.Integer()
    grid_code = fields.String()
    grid_name = fields.String()
    at = LocalTime()
    lon = fields.Float()
    lat = fields.Float()


class GridCoverage(Schema):
    code = fields.String()
    name = fields.String()
    area_m2 = fields.Float()
    covered_m2 = fields.Float()
    coverage = fields.Float(allow_none=True, metadata={"description": "covered / area, 0..1"})


class FiguresView(Schema):
    staff_id = fields.Integer()
    day = fields.Date()
    patrols = fields.Integer()
    patrol_seconds = fields.Integer()
    distance_m = fields.Float()
    points = fields.Integer(metadata={"description": "accepted points that day"})
    coverage = fields.Float(allow_none=True, metadata={"description": "covered / area of all my grids"})
    coverage_distance_m = fields.Float(metadata={"description": "how near the track counts as covered"})
    grids = fields.List(fields.Nested(GridCoverage))


class SegmentProperties(Schema):
    patrol_id = fields.Integer()
    segment = fields.Integer()
    points = fields.Integer()
    start = LocalTime()
    end = LocalTime()
    distance_m = fields.Float()


class SegmentFeature(Schema):
    type = fields.String(metadata={"enum": ["Feature"]})
    geometry = fields.Dict(metadata={"description": "GeoJSON LineString (Point for a lone fix)"})
    properties = fields.Nested(SegmentProperties)


class TrackView(Schema):
    type = fields.String(metadata={"enum": ["FeatureCollection"]})
    staff_id = fields.Integer()
    day = fields.Date()
    crs = fields.String()
    features = fields.List(fields.Nested(SegmentFeature))


class StaffBrief(Schema):
    id = fields.Integer()
    name = fields.String()
    username = fields.String()


class ActiveItem(Schema):
    patrol_id = fields.Integer()
    staff = fields.Nested(StaffBrief)
    started_at = LocalTime()
    last = fields.Nested(Position, allow_none=True)
    distance_m = fields.Float()
    accepted = fields.Integer()


class ActiveView(Schema):
    crs = fields.String()
    items = fields.List(fields.Nested(ActiveItem))
