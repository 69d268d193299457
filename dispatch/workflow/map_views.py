"""The console map's data: open cases as pins coloured by light, clustered on the server when
dense, and the grid outlines of one level, in the map's coordinate system (docs/console.md).

Why clustering here rather than in the browser: at 100,000 open cases a browser cluster
library needs every pin (megabytes of JSON, seconds of clustering on a desk PC); a GROUP BY
over cells of the current zoom answers at most a few thousand rows whatever the number of
cases. Cells are snapped to a fixed lattice per zoom (and the box widened to whole cells), so
panning never changes a cluster's count. The light is read from the owner's copy of its
running clock (``clock_due_at`` / ``clock_warn_at`` / ``clock_paused_light``, migration 0012)
with ``deadlines.light``'s rule, so no join with ``stage_clocks``."""
from __future__ import annotations

import math

import numpy as np
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate
from shapely.geometry import mapping
from sqlalchemy import Integer, case, cast, func, select

from dispatch.cases.lifecycle import OPEN_STATES
from dispatch.cases.models import Case
from dispatch.cases.scope import visible
from dispatch.clocks.deadlines import light_sql
from geo.crs import convert_coords, convert_geometry
from grid import roles as R
from grid.grids.schemas import CrsField
from grid.models import GRID_LEVELS, Grid
from wangge.auth import current_staff, requires
from wangge.contract import QuerySchema
from wangge.extensions import db
from wangge.pg_cursor import PER_VALUES
from wangge.timeutil import utcnow

blp = Blueprint("case_map", __name__, url_prefix="/api/v1/map",
                description="地图 Map: open cases as pins or clusters, grid outlines, for the console's map")

# Desk roles: the console's map. Grid workers and officers see their cases on the phone.
MAP_ROLES = (R.INTAKE_CLERK, R.SHIFT_LEADER, R.DISPATCHER, R.DEPARTMENT_HANDLER, R.ENFORCEMENT_LEADER,
             R.LEADER, R.ADMIN)
LIGHTS = ("red", "yellow", "green", "none")
PIN_LIMIT = 500        # up to this many cases in the box: every one as a pin
CELL_PX = 64           # a cluster cell is about this many screen pixels wide
MAX_CELLS = 4096       # a box asked for at a zoom too deep for its size gets coarser cells
MAX_OUTLINES = 5000
CRS_DESCRIPTION = ("Coordinate system of the box and of every point and geometry in the answer: wgs84 "
                   "(default, GPS, Tianditu), gcj02 (AMap, Tencent) or bd09 (Baidu).")


class BBoxField(fields.String):
    """``west,south,east,north`` in degrees, west < east and south < north."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        parts = text.split(",")
        try:
            if len(parts) != 4 or len(text) > 200:
                raise ValueError
            west, south, east, north = (float(p) for p in parts)
        except ValueError:
            raise ValidationError("four numbers west,south,east,north in degrees") from None
        if not all(math.isfinite(v) for v in (west, south, east, north)):
            raise ValidationError("the numbers must be finite")
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ValidationError("west < east within -180..180 and south < north within -90..90")
        return west, south, east, north


class PinQuery(QuerySchema):
    bbox = BBoxField(required=True, metadata={"description": "The map's view: west,south,east,north (degrees, in `crs`)",
                                              "example": "121.40,31.19,121.52,31.26"})
    zoom = fields.Integer(required=True, strict=False, validate=validate.Range(0, 22),
                          metadata={"description": "The map's zoom level (Web Mercator, 0-22): sets the cluster cell size"})
    crs = CrsField(load_default="wgs84", metadata={"description": CRS_DESCRIPTION, "enum": ["wgs84", "gcj02", "bd09"]})


class OutlineQuery(QuerySchema):
    level = fields.String(load_default="grid", validate=validate.OneOf(GRID_LEVELS),
                          metadata={"description": "Which grids to outline: district, street, community or grid"})
    crs = CrsField(load_default="wgs84", metadata={"description": CRS_DESCRIPTION, "enum": ["wgs84", "gcj02", "bd09"]})


class PinView(Schema):
    number = fields.String(required=True, metadata={"description": "Case number: /console/cases/{number}"})
    lon = fields.Float(required=True)
    lat = fields.Float(required=True)
    light = fields.String(required=True, metadata={"enum": list(LIGHTS),
                                                   "description": "The running clock's light; none: no clock"})


class ClusterView(Schema):
    lon = fields.Float(required=True, metadata={"description": "Mean position of the cell's cases"})
    lat = fields.Float(required=True)
    count = fields.Integer(required=True)
    red = fields.Integer(required=True)
    yellow = fields.Integer(required=True)
    green = fields.Integer(required=True)
    none = fields.Integer(required=True)
    bbox = fields.List(fields.Float(), required=True,
                       metadata={"description": "The cell: west,south,east,north (zoom there to split it)"})


class PinsView(Schema):
    crs = fields.String(required=True)
    total = fields.Integer(required=True, metadata={"description": "Open cases I may see in the box"})
    clustered = fields.Boolean(required=True, metadata={
        "description": f"false: every case is a pin (at most {PIN_LIMIT}); true: cells of more than one case "
                       "are clusters, a cell of one case is a pin"})
    cell = fields.Float(allow_none=True, metadata={"description": "Cluster cell size in degrees (WGS-84)"})
    pins = fields.List(fields.Nested(PinView), required=True)
    clusters = fields.List(fields.Nested(ClusterView), required=True)


class OutlineCollection(Schema):
    type = fields.String(required=True, metadata={"enum": ["FeatureCollection"]})
    features = fields.List(fields.Dict(), required=True,
                           metadata={"description": "Features with properties code, name, level and the geometry in `crs`"})


def cell_size(zoom: int, west: float, south: float, east: float, north: float) -> float:
    """Degrees per cluster cell: about CELL_PX pixels at ``zoom``, coarser when the box would
    hold more than MAX_CELLS cells."""
    cell = 360.0 / (2 ** zoom) * CELL_PX / 256
    return max(cell, math.sqrt((east - west) * (north - south) / MAX_CELLS))


def _to(lons, lats, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    if src == dst or len(lons) == 0:
        return np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    out = convert_coords(np.column_stack([lons, lats]), src, dst)
    return out[:, 0], out[:, 1]


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _floor(expr):
    """floor() on PostgreSQL; SQLite truncates a non-negative number the same way."""
    return func.floor(expr) if _postgresql() else expr


def _in_box(west: float, south: float, east: float, north: float) -> list:
    """The box on lon/lat, and on PostgreSQL also on the point's GiST index (ix_cases_location):
    a street or a few blocks then read only their cases, not the table."""
    where = [Case.lon.between(west, east), Case.lat.between(south, north)]
    if _postgresql():
        where.append(Case.location.op("&&")(func.ST_MakeEnvelope(west, south, east, north, 4326)))
    return where


def pins(session, staff, bbox, zoom: int, crs: str, now=None) -> dict:
    """The open cases ``staff`` may see in ``bbox`` (in ``crs``): every one as a pin when at
    most PIN_LIMIT, else per cell of the zoom's lattice a cluster (or a pin for a lone case).

    Both statements are planned for each box (``PLAN_PER_EXECUTION``): the same statement
    serves the whole city, where reading the table in order is right, and a few blocks, where
    the point index is; a prepared statement's one generic plan, which PostgreSQL settles on
    from its sixth run on a connection, took the whole city from 160 to 700 ms (bench_map)."""
    now = now or utcnow()
    west, south, east, north = bbox
    lons, lats = _to([west, east, west, east], [south, south, north, north], crs, "wgs84")
    west, east, south, north = float(lons.min()), float(lons.max()), float(lats.min()), float(lats.max())
    where = [Case.state.in_(OPEN_STATES), Case.lon.is_not(None), Case.lat.is_not(None)]
    clause = visible(staff)
    if clause is not None:
        where.append(clause)
    light = light_sql(Case, now)
    rows = session.execute(
        select(Case.number, Case.lon, Case.lat, light)
        .where(*where, *_in_box(west, south, east, north))
        .order_by(Case.id).limit(PIN_LIMIT + 1).execution_options(**PER_VALUES)).all()
    if len(rows) <= PIN_LIMIT:
        x, y = _to([r[1] for r in rows], [r[2] for r in rows], "wgs84", crs)
        return {"crs": crs, "total": len(rows), "clustered": False, "cell": None, "clusters": [],
                "pins": [{"number": r[0], "lon": float(a), "lat": float(b), "light": r[3]}
                         for r, a, b in zip(rows, x, y, strict=True)]}

    cell = cell_size(zoom, west, south, east, north)
    # the box widened to whole cells of the lattice, so a cluster is the same wherever the view is
    gx0, gy0 = math.floor((west + 180) / cell), math.floor((south + 90) / cell)
    gx1, gy1 = math.floor((east + 180) / cell), math.floor((north + 90) / cell)
    inner = (select(Case.number, Case.lon, Case.lat, light.label("light"),
                    _floor((Case.lon + 180) / cell).label("gx"), _floor((Case.lat + 90) / cell).label("gy"))
             .where(*where, *_in_box(gx0 * cell - 180, gy0 * cell - 90, (gx1 + 1) * cell - 180, (gy1 + 1) * cell - 90))
             .subquery())
    counts = [func.sum(case((inner.c.light == x, 1), else_=0)) for x in LIGHTS]
    cells = session.execute(
        select(cast(inner.c.gx, Integer), cast(inner.c.gy, Integer), func.count(), func.avg(inner.c.lon),
               func.avg(inner.c.lat), func.min(inner.c.number), *counts)
        .group_by(inner.c.gx, inner.c.gy).order_by(inner.c.gx, inner.c.gy).execution_options(**PER_VALUES)).all()
    x, y = _to([float(c[3]) for c in cells], [float(c[4]) for c in cells], "wgs84", crs)
    out = {"crs": crs, "total": sum(c[2] for c in cells), "clustered": True, "cell": cell, "pins": [], "clusters": []}
    for c, a, b in zip(cells, x, y, strict=True):
        by_light = dict(zip(LIGHTS, (int(n) for n in c[6:]), strict=True))
        if c[2] == 1:
            out["pins"].append({"number": c[5], "lon": float(a), "lat": float(b),
                                "light": next(k for k, n in by_light.items() if n)})
            continue
        w, s = c[0] * cell - 180, c[1] * cell - 90
        cx, cy = _to([w, w + cell], [s, s + cell], "wgs84", crs)
        out["clusters"].append({"lon": float(a), "lat": float(b), "count": c[2], **by_light,
                                "bbox": [float(cx[0]), float(cy[0]), float(cx[1]), float(cy[1])]})
    return out


def outlines(session, level: str, crs: str) -> dict:
    grids = session.scalars(select(Grid).where(Grid.valid_to.is_(None), Grid.level == level)
                            .order_by(Grid.code).limit(MAX_OUTLINES))
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": g.code, "properties": {"code": g.code, "name": g.name, "level": g.level},
         "geometry": mapping(g.geom if crs == "wgs84" else convert_geometry(g.geom, "wgs84", crs))}
        for g in grids]}


@blp.route("/cases")
class CasePins(MethodView):
    @requires(*MAP_ROLES)
    @blp.arguments(PinQuery, location="query")
    @blp.response(200, PinsView)
    def get(self, args):
        """Open cases I may see (the case list's visibility) in the box, for the map: every one
        as a pin (number, position, light) when at most 500, else clusters per cell of the zoom
        (count per light, the cell's box) with lone cases as pins. A bad box, zoom or crs is a
        422 naming it."""
        return pins(db.session, current_staff(), args["bbox"], args["zoom"], args["crs"])


@blp.route("/grids")
class GridOutlines(MethodView):
    @requires(*MAP_ROLES)
    @blp.arguments(OutlineQuery, location="query")
    @blp.response(200, OutlineCollection)
    def get(self, args):
        """Outlines of the current grids at one level (at most 5,000; code, name, level), in
        ``crs``: the map's base layer, so no tile server is needed."""
        return outlines(db.session, args["level"], args["crs"])
