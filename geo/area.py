"""Geodesic measurements on the WGS-84 ellipsoid (inputs in lon/lat degrees)."""

from __future__ import annotations

from pyproj import Geod

GEOD = Geod(ellps="WGS84")


def geodesic_area_m2(geom) -> float:
    """Area in square metres of a lon/lat geometry; 0.0 for None/empty/non-areal.

    The absolute value is returned because pyproj's sign depends on ring orientation.
    """
    if geom is None or geom.is_empty:
        return 0.0
    area, _perimeter = GEOD.geometry_area_perimeter(geom)
    return abs(float(area))


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance in metres between two lon/lat points."""
    _az12, _az21, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return float(dist)
