"""Chinese map coordinate systems: WGS-84, GCJ-02 and BD-09 (lon/lat order everywhere).

GPS receivers give WGS-84; AMap/Tencent give GCJ-02 (the state-mandated obfuscation,
offset up to several hundred metres); Baidu gives BD-09 (a further rotation of GCJ-02).
The forward GCJ-02 formula is the widely published one (same constants as the
eviltransform / coordtransform projects); there is no closed-form inverse, so
GCJ-02 -> WGS-84 is solved by fixed-point iteration to well below 1e-7 degrees.

Like those projects, no offset is applied outside the rough China bounding box
(`out_of_china`), for any of the systems.

All math is vectorised with numpy so whole geometries (or arrays of geometries) are
converted with one `shapely.transform` call.
"""

from __future__ import annotations

import numpy as np
import shapely

CRS_NAMES = ("wgs84", "gcj02", "bd09")

_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd09ll": "bd09",
}

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

_INVERSE_TOL = 1e-10  # degrees; ~0.01 mm, far below the 1e-7 requirement
_INVERSE_MAX_ITER = 30


def parse_crs(name: str) -> str:
    """Canonicalise a coordinate system name to one of CRS_NAMES (case-insensitive)."""
    key = str(name).strip().lower() if name is not None else ""
    try:
        return _ALIASES[key]
    except KeyError:
        raise ValueError(
            f"unknown coordinate system {name!r}; expected one of {', '.join(CRS_NAMES)}"
        ) from None


def _out_of_china(lon, lat):
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return ~((lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271))


def out_of_china(lon: float, lat: float) -> bool:
    """True outside the rough China bounding box, where no offset is applied."""
    return bool(_out_of_china(lon, lat))


# --- vectorised kernels on float arrays -------------------------------------------


def _gcj_delta(lon, lat):
    """GCJ-02 offset (dlon, dlat) in degrees at WGS-84 position (lon, lat)."""
    x = lon - 105.0
    y = lat - 35.0
    sx, sy = x * np.pi, y * np.pi
    common = (20.0 * np.sin(6.0 * sx) + 20.0 * np.sin(2.0 * sx)) * 2.0 / 3.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(sy) + 40.0 * np.sin(sy / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(sy / 12.0) + 320.0 * np.sin(sy / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(sx) + 40.0 * np.sin(sx / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(sx / 12.0) + 300.0 * np.sin(sx / 30.0)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def _wgs_to_gcj(lon, lat):
    dlon, dlat = _gcj_delta(lon, lat)
    keep = _out_of_china(lon, lat)
    return np.where(keep, lon, lon + dlon), np.where(keep, lat, lat + dlat)


def _gcj_to_wgs(lon, lat):
    """Invert wgs->gcj by fixed-point iteration: w <- w - (f(w) - g).

    The offset varies slowly (its Jacobian is ~1e-5), so each step gains about five
    decimal digits; two or three iterations reach the tolerance.
    """
    wlon, wlat = lon.copy(), lat.copy()
    for _ in range(_INVERSE_MAX_ITER):
        glon, glat = _wgs_to_gcj(wlon, wlat)
        elon, elat = glon - lon, glat - lat
        wlon, wlat = wlon - elon, wlat - elat
        # written as "not >=" so NaN inputs do not keep the loop going
        if not np.any((np.abs(elon) >= _INVERSE_TOL) | (np.abs(elat) >= _INVERSE_TOL)):
            break
    keep = _out_of_china(lon, lat)
    return np.where(keep, lon, wlon), np.where(keep, lat, wlat)


def _gcj_to_bd(lon, lat):
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    keep = _out_of_china(lon, lat)
    return (
        np.where(keep, lon, z * np.cos(theta) + 0.0065),
        np.where(keep, lat, z * np.sin(theta) + 0.006),
    )


def _bd_to_gcj(lon, lat):
    """The standard closed-form BD-09 -> GCJ-02, as in every other implementation.

    Not an exact inverse of `_gcj_to_bd`: the round trip is off by up to ~2e-6 degrees
    (~20 cm, measured across China), irrelevant for grids and kept for interop.
    """
    x = lon - 0.0065
    y = lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    keep = _out_of_china(lon, lat)
    return np.where(keep, lon, z * np.cos(theta)), np.where(keep, lat, z * np.sin(theta))


def _wgs_to_bd(lon, lat):
    return _gcj_to_bd(*_wgs_to_gcj(lon, lat))


def _bd_to_wgs(lon, lat):
    return _gcj_to_wgs(*_bd_to_gcj(lon, lat))


_KERNELS = {
    ("wgs84", "gcj02"): _wgs_to_gcj,
    ("gcj02", "wgs84"): _gcj_to_wgs,
    ("gcj02", "bd09"): _gcj_to_bd,
    ("bd09", "gcj02"): _bd_to_gcj,
    ("wgs84", "bd09"): _wgs_to_bd,
    ("bd09", "wgs84"): _bd_to_wgs,
}


def _scalar(kernel, lon, lat):
    x, y = kernel(np.array([lon], dtype=float), np.array([lat], dtype=float))
    return float(x[0]), float(y[0])


# --- public point API -------------------------------------------------------------


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(_wgs_to_gcj, lon, lat)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(_gcj_to_wgs, lon, lat)


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(_gcj_to_bd, lon, lat)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(_bd_to_gcj, lon, lat)


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(_wgs_to_bd, lon, lat)


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(_bd_to_wgs, lon, lat)


def convert_point(lon: float, lat: float, src: str, dst: str) -> tuple[float, float]:
    """Convert one (lon, lat) between any two of CRS_NAMES (aliases accepted)."""
    src, dst = parse_crs(src), parse_crs(dst)
    if src == dst:
        return float(lon), float(lat)
    return _scalar(_KERNELS[(src, dst)], lon, lat)


def convert_coords(coords, src: str, dst: str) -> np.ndarray:
    """Convert an (N, 2) array-like of lon/lat; returns a new float array."""
    src, dst = parse_crs(src), parse_crs(dst)
    arr = np.array(coords, dtype=float).reshape(-1, 2)
    if src == dst:
        return arr
    x, y = _KERNELS[(src, dst)](arr[:, 0], arr[:, 1])
    return np.column_stack([x, y])


def convert_geometry(geom, src: str, dst: str):
    """Convert every vertex of a shapely geometry (or numpy array of geometries).

    Same system returns the input unchanged. Z values are dropped (grids are 2-D).
    """
    src, dst = parse_crs(src), parse_crs(dst)
    if src == dst or geom is None:
        return geom
    kernel = _KERNELS[(src, dst)]

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = kernel(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, _apply)
