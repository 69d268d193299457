"""Answers in the client's coordinate system.

Everything is stored in WGS-84. AMap draws in GCJ-02 and Baidu in BD-09, so every phone API
answer that carries a point or a geometry takes ``?crs=wgs84|gcj02|bd09`` (default wgs84) and
converts on the way out; input already accepts any of the three (``crs`` in the body)."""
from __future__ import annotations

from marshmallow import fields

from geo.crs import convert_geometry, convert_point
from grid.grids.schemas import CrsField
from wangge.contract import QuerySchema

STORED = "wgs84"
CRS_DESCRIPTION = ("Coordinate system of every point and geometry in the answer: wgs84 (default, GPS), "
                   "gcj02 (AMap, Tencent) or bd09 (Baidu).")


def crs_field() -> fields.Field:
    return CrsField(load_default=STORED, metadata={"description": CRS_DESCRIPTION,
                                                   "enum": ["wgs84", "gcj02", "bd09"]})


class CrsQuery(QuerySchema):
    """The base of a query schema whose answer carries points or geometries."""
    crs = crs_field()


def point_out(lon: float | None, lat: float | None, crs: str) -> tuple[float, float] | tuple[None, None]:
    """A stored (WGS-84) point in ``crs``; (None, None) when there is no point."""
    if lon is None or lat is None:
        return None, None
    return convert_point(lon, lat, STORED, crs)


def geometry_out(geom, crs: str):
    """A stored (WGS-84) shapely geometry in ``crs``."""
    return convert_geometry(geom, STORED, crs)
