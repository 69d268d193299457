import math

import numpy as np
import pytest
import shapely
from pyproj import Geod

from geo import crs
from geo.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert_geometry,
    convert_point,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    parse_crs,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")


def dist_m(a, b):
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


# Formula-generated reference pairs, (lon, lat).
# Source: wandergis/coordtransform, test/app.js (input 116.404, 39.915).
COORDTRANSFORM = {
    "wgs84_to_gcj02": (116.41024449916938, 39.91640428150164),
    "gcj02_to_bd09": (116.41036949371029, 39.92133699351021),
    "bd09_to_gcj02": (116.39762729119315, 39.90865673957631),
}
# Source: googollee/eviltransform, python/test.py TESTS (given there as lat, lng).
EVILTRANSFORM = [  # (wgs lon, wgs lat, gcj lon, gcj lat)
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),  # shanghai
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),  # shenzhen
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),  # beijing
]
# Source: hujiulong/gcoord, test/fixtures/china-cities.json (WGS84, GCJ02, BD09).
# These were collected from real map services; the public GCJ-02 formula matches them
# to about 5e-6 degrees (half a metre), so they are compared with a 1e-5 tolerance.
GCOORD_CITIES = [
    ((114.0164322, 33.0133556), (114.022306, 33.0115324), (114.0287781, 33.0176697)),  # 驻马店
    ((92.0499619, 31.4784436), (92.0512438, 31.4762063), (92.0576832, 31.4824421)),  # 那曲
    ((123.4253306, 41.8032629), (123.4314787, 41.8057023), (123.438095, 41.8114013)),  # 沈阳
    ((98.4937175, 39.7319946), (98.4943595, 39.7328234), (98.5008441, 39.7388949)),  # 酒泉
    ((108.6503952, 21.9828281), (108.6541485, 21.9799392), (108.6607283, 21.9856319)),  # 钦州
]


@pytest.mark.parametrize("name", sorted(COORDTRANSFORM))
def test_coordtransform_reference(name):
    got = getattr(crs, name)(116.404, 39.915)
    assert got == pytest.approx(COORDTRANSFORM[name], abs=1e-12)


@pytest.mark.parametrize("wlon,wlat,glon,glat", EVILTRANSFORM)
def test_eviltransform_reference(wlon, wlat, glon, glat):
    assert wgs84_to_gcj02(wlon, wlat) == pytest.approx((glon, glat), abs=1e-9)
    # exact inverse recovers the original WGS-84 point (eviltransform's own crude
    # inverse is only good to ~5 m)
    assert gcj02_to_wgs84(glon, glat) == pytest.approx((wlon, wlat), abs=1e-9)


@pytest.mark.parametrize("wgs,gcj,bd", GCOORD_CITIES)
def test_gcoord_city_reference(wgs, gcj, bd):
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-5)
    assert gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=1e-5)
    # GCJ-02 <-> BD-09 agrees with the service to ~1e-6 degrees (0.1 m)
    assert gcj02_to_bd09(*gcj) == pytest.approx(bd, abs=2e-6)
    assert bd09_to_gcj02(*bd) == pytest.approx(gcj, abs=2e-6)
    assert wgs84_to_bd09(*wgs) == pytest.approx(bd, abs=1e-5)
    assert bd09_to_wgs84(*bd) == pytest.approx(wgs, abs=1e-5)


def test_gcj_inverse_is_iterative_not_one_step():
    # coordtransform's one-step inverse of (116.404, 39.915) is (116.39775550083061,
    # 39.91359571849836), ~0.6 m off; the exact inverse must map forward onto the input.
    w = gcj02_to_wgs84(116.404, 39.915)
    assert w != pytest.approx((116.39775550083061, 39.91359571849836), abs=1e-7)
    assert wgs84_to_gcj02(*w) == pytest.approx((116.404, 39.915), abs=1e-7)


CHINA_GRID = [
    (lon, lat) for lon in np.arange(73.5, 135.1, 3.5) for lat in np.arange(18.5, 53.6, 2.5)
]


def test_round_trips_within_1m_across_china():
    worst_gcj = worst_bd = 0.0
    for p in CHINA_GRID:
        if out_of_china(*p):
            continue
        worst_gcj = max(worst_gcj, dist_m(p, gcj02_to_wgs84(*wgs84_to_gcj02(*p))))
        worst_bd = max(worst_bd, dist_m(p, bd09_to_wgs84(*wgs84_to_bd09(*p))))
    assert worst_gcj < 1.0
    assert worst_bd < 1.0
    # GCJ inverse converges far below the requirement; BD-09's closed-form inverse
    # (the formula every other tool uses) is the limiting factor at up to ~20 cm.
    assert worst_gcj < 0.01
    assert worst_bd < 0.5


def test_gcj_offset_is_hundreds_of_metres():
    d = dist_m((121.4737, 31.2304), wgs84_to_gcj02(121.4737, 31.2304))
    assert 100 < d < 1000


@pytest.mark.parametrize("p", [(-122.4194, 37.7749), (2.35, 48.85), (139.69, 35.69), (70.0, 30.0)])
def test_out_of_china_passthrough(p):
    assert out_of_china(*p)
    for f in (
        wgs84_to_gcj02,
        gcj02_to_wgs84,
        gcj02_to_bd09,
        bd09_to_gcj02,
        wgs84_to_bd09,
        bd09_to_wgs84,
    ):
        assert f(*p) == p


def test_out_of_china_box():
    assert not out_of_china(116.4, 39.9)
    assert out_of_china(72.0, 30.0) and out_of_china(100.0, 56.0) and out_of_china(100.0, 0.5)


@pytest.mark.parametrize(
    "alias,canon",
    [
        ("wgs84", "wgs84"),
        ("WGS-84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("4326", "wgs84"),
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        ("bd09", "bd09"),
        ("BD-09", "bd09"),
        ("bd09ll", "bd09"),
        (" Gcj02 ", "gcj02"),
    ],
)
def test_parse_crs_aliases(alias, canon):
    assert parse_crs(alias) == canon


@pytest.mark.parametrize("bad", ["", "mercator", "epsg:3857", "bd09mc", None])
def test_parse_crs_rejects(bad):
    with pytest.raises(ValueError, match=repr(bad) if bad is not None else "None"):
        parse_crs(bad)


def test_convert_point_dispatch_and_noop():
    assert convert_point(116.404, 39.915, "WGS-84", "gcj-02") == wgs84_to_gcj02(116.404, 39.915)
    assert convert_point(116.404, 39.915, "bd09ll", "4326") == bd09_to_wgs84(116.404, 39.915)
    assert convert_point(116.404, 39.915, "gcj02", "GCJ-02") == (116.404, 39.915)
    with pytest.raises(ValueError):
        convert_point(1, 2, "wgs84", "utm")


def test_convert_geometry_matches_points():
    poly = shapely.Polygon(
        [(121.47, 31.23), (121.48, 31.23), (121.48, 31.24), (121.47, 31.24)],
        holes=[[(121.472, 31.232), (121.474, 31.232), (121.474, 31.234)]],
    )
    multi = shapely.MultiPolygon([poly, shapely.box(121.5, 31.2, 121.51, 31.21)])
    for src, dst in [("wgs84", "gcj02"), ("gcj02", "wgs84"), ("wgs84", "bd09"), ("bd09", "wgs84")]:
        out = convert_geometry(multi, src, dst)
        assert out.geom_type == "MultiPolygon"
        src_xy = shapely.get_coordinates(multi)
        out_xy = shapely.get_coordinates(out)
        expected = [convert_point(x, y, src, dst) for x, y in src_xy]
        assert np.allclose(out_xy, expected, atol=1e-12, rtol=0)
    assert convert_geometry(poly, "wgs84", "WGS84") is poly


def test_convert_geometry_array_of_100k():
    boxes = shapely.box(
        np.linspace(100, 120, 100_000), 30.0, np.linspace(100, 120, 100_000) + 0.001, 30.001
    )
    out = convert_geometry(boxes, "gcj02", "wgs84")
    assert len(out) == 100_000 and out[0].geom_type == "Polygon"
    assert not math.isnan(shapely.get_coordinates(out[-1])[0, 0])
