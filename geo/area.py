"""Geodesic measurements on the WGS-84 ellipsoid (inputs in lon/lat degrees)."""

from __future__ import annotations

import math

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


# The smallest radius of curvature of the WGS-84 ellipsoid (the meridian's, at the equator,
# 6,335,439 m), rounded down: on a sphere of this radius no curve is longer than on the
# ellipsoid (same lon/lat), so a geodesic distance d is at most d / R_MIN radians there.
R_MIN = 6_335_000.0


def bounding_box(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) in degrees holding every point within
    ``radius_m`` metres (geodesic, WGS-84) of (lon, lat): never too small, a little large.

    Derived on the inner sphere of radius ``R_MIN``: the latitude span is the angular
    distance; the longitude span follows from haversine, hav(d) >= cos(lat1) cos(lat2) hav(dlon),
    with cos(lat2) at its smallest at the box's edge nearer the pole. Where the box reaches a
    pole or crosses the antimeridian the longitude is not restricted (-180..180)."""
    sigma = radius_m / R_MIN * (1 + 1e-9) + 1e-12  # radians, rounding on the safe side
    dlat = math.degrees(sigma)
    min_lat, max_lat = max(lat - dlat, -90.0), min(lat + dlat, 90.0)
    edge = math.radians(abs(lat)) + sigma  # the latitude of the box's edge nearer the pole
    if edge < math.pi / 2:
        s = math.sin(sigma / 2) ** 2 / (math.cos(math.radians(lat)) * math.cos(edge))
        if s < 1:
            dlon = math.degrees(2 * math.asin(math.sqrt(s))) * (1 + 1e-9) + 1e-12
            if -180.0 <= lon - dlon and lon + dlon <= 180.0:
                return lon - dlon, min_lat, lon + dlon, max_lat
    return -180.0, min_lat, 180.0, max_lat
