"""End-to-end checks on the real reference data in ../shared/data (skipped if absent)."""

import csv

import numpy as np
import pytest

from geo.crs import convert_geometry, wgs84_to_gcj02
from geo.index import GridIndex
from geo.io import read_features
from geo.topology import topology_report
from geo.validate import validate_features


def test_sf311_cases_locate_to_their_census_tract(shared_data):
    res = validate_features(
        read_features(
            shared_data / "sf311" / "city_analysis_neighbor.geojson",
            code_field="tractce10",
            name_field="nhood",
        )
    )
    assert res.ok, res.problems[:5]
    assert len(res.features) == 195
    idx = GridIndex((f.code, f.geometry, 0) for f in res.features)

    with open(shared_data / "sf311" / "cases_sample.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))  # quoted fields contain newlines: csv handles them
    assert len(rows) == 4984
    # The CSV stores the tract as a number, dropping the leading zero ("12800" for
    # "012800"), so compare zero-padded to the 6-character TRACTCE10 code.
    expected = [r["tractce10"].zfill(6) for r in rows]
    lons = [float(r["Long"]) for r in rows]  # every row has coordinates
    lats = [float(r["Lat"]) for r in rows]
    got = idx.locate_many(lons, lats)
    disagree = [
        (r[""], lat, lon, exp, g)
        for r, lat, lon, exp, g in zip(rows, lats, lons, expected, got, strict=True)
        if g != exp
    ]
    print(f"sf311: {len(rows) - len(disagree)}/{len(rows)} cases locate to their tract")
    # The data is exact: every case point lies in the tract recorded for it.
    assert disagree == []
    assert got[:50] == [idx.locate(x, y) for x, y in zip(lons[:50], lats[:50], strict=True)]


# Well-known places, WGS-84 (lon, lat), each at least ~750 m from any district boundary.
SHANGHAI_POINTS = {
    "People's Square": ((121.4737, 31.2304), "310101"),  # 黄浦区
    "Jin Mao Tower, Lujiazui": ((121.5053, 31.2377), "310115"),  # 浦东新区
    "Hongqiao Airport T1": ((121.3420, 31.1950), "310105"),  # 长宁区 (T1 side of the airport)
    "Hongqiao Railway Station": ((121.3203, 31.1945), "310112"),  # 闵行区
    "Sheshan Observatory": ((121.1872, 31.0964), "310117"),  # 松江区
    "Pudong Airport": ((121.8083, 31.1443), "310115"),  # 浦东新区
}


@pytest.fixture
def shanghai(shared_data):
    feats = read_features(
        shared_data / "cn" / "shanghai_districts_gcj02.geojson",
        code_field="adcode",
        name_field="district",
        default_level="district",
    )
    res = validate_features(feats, fix=True)
    assert res.ok, res.problems
    return res.features


def test_shanghai_districts_in_both_systems(shanghai):
    assert len(shanghai) == 16
    gcj_idx = GridIndex((f.code, f.geometry, 0) for f in shanghai)
    wgs_idx = GridIndex(
        (f.code, convert_geometry(f.geometry, "gcj02", "wgs84"), 0) for f in shanghai
    )
    for name, ((lon, lat), adcode) in SHANGHAI_POINTS.items():
        assert wgs_idx.locate(lon, lat) == adcode, name
        assert gcj_idx.locate(*wgs84_to_gcj02(lon, lat)) == adcode, name


def test_mixing_systems_misplaces_points_near_boundaries(shanghai):
    """Converted layer + WGS point == raw GCJ layer + converted point everywhere;
    looking a WGS point up in the GCJ layer instead gets some boundary points wrong."""
    gcj_idx = GridIndex((f.code, f.geometry, 0) for f in shanghai)
    wgs_idx = GridIndex(
        (f.code, convert_geometry(f.geometry, "gcj02", "wgs84"), 0) for f in shanghai
    )
    rng = np.random.default_rng(7)
    lons = rng.uniform(121.40, 121.55, 4000)  # central districts, many boundaries
    lats = rng.uniform(31.15, 31.30, 4000)
    gcj = [wgs84_to_gcj02(x, y) for x, y in zip(lons, lats, strict=True)]
    right = wgs_idx.locate_many(lons, lats)
    assert right == gcj_idx.locate_many([p[0] for p in gcj], [p[1] for p in gcj])
    mixed = gcj_idx.locate_many(lons, lats)
    wrong = sum(a != b for a, b in zip(right, mixed, strict=True))
    assert 0 < wrong < len(lons) // 5


def test_shanghai_topology_is_clean_in_wgs84(shanghai):
    items = [
        (f.code, "district", None, convert_geometry(f.geometry, "gcj02", "wgs84")) for f in shanghai
    ]
    rep = topology_report(items)  # default 1 m² sliver threshold
    assert rep.overlaps == []
