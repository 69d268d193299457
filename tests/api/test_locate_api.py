"""Point-to-grid lookup over HTTP: coordinate systems, the edge rule, batch lookup and an
index that follows grid changes without a restart."""
import json

import pytest
from shapely.geometry import Point, box, mapping
from sqlalchemy import func, select

from geo.crs import convert_geometry, wgs84_to_bd09, wgs84_to_gcj02
from grid.models import Grid
from tests.api.layer import BOXES, C1, G1, G2, LEVELS, PARENTS, S1, S2, D


def feat(code, level, parent, geom, name=None):
    props = {"code": code, "name": name or f"网格{code}", "level": level}
    if parent:
        props["parent"] = parent
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def import_doc(client, headers, features, crs="wgs84"):
    return client.post(f"/api/v1/grids/import?crs={crs}", headers=headers, content_type="application/json",
                       data=json.dumps({"type": "FeatureCollection", "features": features}))



@pytest.fixture
def worker(login):
    return login("grid_worker")


@pytest.fixture
def loaded(client, admin):
    r = import_doc(client, admin, [feat(c, LEVELS[c], PARENTS[c], BOXES[c]) for c in BOXES])
    assert r.status_code == 200, r.json


def locate(client, headers, lon, lat, crs=None, **extra):
    query = f"lon={lon}&lat={lat}" + (f"&crs={crs}" if crs else "")
    query += "".join(f"&{k}={v}" for k, v in extra.items())
    return client.get(f"/api/v1/geo/locate?{query}", headers=headers)


def test_locate_returns_grid_chain_and_workers(client, admin, worker, loaded):
    r = client.post("/api/v1/staff", headers=admin, json={
        "username": "liuqi", "name": "刘七", "password": "long-enough-pw", "roles": ["grid_worker"]})
    staff_id = r.json["id"]
    client.post(f"/api/v1/staff/{staff_id}/assignments", headers=admin, json={"grid_code": G1})

    r = locate(client, worker, 121.405, 31.21)
    assert r.status_code == 200, r.json
    assert r.json["code"] == G1 and r.json["level"] == "grid" and r.json["name"] == f"网格{G1}"
    assert [c["code"] for c in r.json["chain"]] == [D, S1, C1, G1]
    assert [c["level"] for c in r.json["chain"]] == ["district", "street", "community", "grid"]
    assert [w["id"] for w in r.json["workers"]] == [staff_id]
    assert r.json["workers"][0]["name"] == "刘七"


def test_deeper_level_wins_and_street_without_children(client, worker, loaded):
    # inside grid, community, street and district: the grid wins
    assert locate(client, worker, 121.415, 31.21).json["code"] == G2
    # street 2 has no communities below it: the street is the deepest cover
    r = locate(client, worker, 121.43, 31.21)
    assert r.json["code"] == S2 and r.json["level"] == "street"
    assert [c["code"] for c in r.json["chain"]] == [D, S2]


def test_shared_edge_goes_to_the_smaller_code(client, worker, loaded):
    # lon 121.41 is the edge between G1 and G2: both cover it, the smaller code wins
    r = locate(client, worker, 121.41, 31.21)
    assert r.status_code == 200
    assert r.json["code"] == G1
    # a shared vertex on the outer boundary too
    assert locate(client, worker, 121.41, 31.20).json["code"] == G1
    # the edge between streets 1 and 2 at the district level: the grid G2 also touches it
    # (deeper wins over the street S2)
    assert locate(client, worker, 121.42, 31.21).json["code"] == G2


def test_point_outside_is_404(client, worker, loaded):
    r = locate(client, worker, 121.50, 31.21)
    assert r.status_code == 404
    assert r.json["code"] == "point_outside"
    assert "121.5" in r.json["message"] and "31.21" in r.json["message"]
    r = locate(client, worker, 121.50, 31.21, lang="en")
    assert r.json["message"] == "The point (121.5, 31.21) is outside every grid"


@pytest.mark.parametrize("query, field", [
    ("lon=121.4&lat=31.2&crs=utm", "crs"),
    ("lon=121.4&lat=95", "lat"),
    ("lon=181&lat=31.2", "lon"),
    ("lat=31.2", "lon"),
    ("lon=abc&lat=31.2", "lon"),
])
def test_bad_query_is_422_naming_the_field(client, worker, loaded, query, field):
    r = client.get(f"/api/v1/geo/locate?{query}", headers=worker)
    assert r.status_code == 422
    assert r.json["code"] == "validation_error"
    assert field in r.json["fields"]
    assert field in r.json["message"]


def test_crs_aliases_accepted(client, worker, loaded):
    for name in ("WGS84", "wgs-84", "EPSG:4326"):
        assert locate(client, worker, 121.405, 31.21, crs=name).json["code"] == G1


def test_batch_locate_keeps_order_and_nulls(client, worker, loaded):
    points = [{"lon": 121.415, "lat": 31.21}, {"lon": 0, "lat": 0}, {"lon": 121.405, "lat": 31.21},
              {"lon": 121.43, "lat": 31.21}, {"lon": 121.41, "lat": 31.21}]
    r = client.post("/api/v1/geo/locate", headers=worker, json={"points": points})
    assert r.status_code == 200, r.json
    assert [None if x is None else x["code"] for x in r.json["results"]] == [G2, None, G1, S2, G1]
    assert r.json["results"][0] == {"code": G2, "name": f"网格{G2}", "level": "grid"}


def test_batch_locate_in_gcj02(client, worker, loaded):
    gcj = [wgs84_to_gcj02(121.405, 31.21), wgs84_to_gcj02(121.415, 31.21)]
    r = client.post("/api/v1/geo/locate", headers=worker,
                    json={"crs": "gcj02", "points": [{"lon": x, "lat": y} for x, y in gcj]})
    assert [x["code"] for x in r.json["results"]] == [G1, G2]


@pytest.mark.parametrize("body, field", [
    ({"points": []}, "points"),
    ({}, "points"),
    ({"points": [{"lon": 121.4, "lat": 95}]}, "points"),
    ({"points": [{"lon": 121.4, "lat": 31.2}], "crs": "mars"}, "crs"),
])
def test_batch_locate_validation(client, worker, loaded, body, field):
    r = client.post("/api/v1/geo/locate", headers=worker, json=body)
    assert r.status_code == 422 and field in r.json["fields"]


def test_index_follows_new_grids_without_restart(client, admin, worker, loaded):
    r = locate(client, worker, 121.505, 31.205)
    assert r.status_code == 404
    r = import_doc(client, admin, [feat("NEW-1", "grid", None, box(121.50, 31.20, 121.51, 31.21))])
    assert r.status_code == 200 and r.json["created"] == 1
    r = locate(client, worker, 121.505, 31.205)
    assert r.status_code == 200 and r.json["code"] == "NEW-1"
    # a retired grid disappears from the index as well
    assert client.delete("/api/v1/grids/NEW-1", headers=admin).status_code == 200
    assert locate(client, worker, 121.505, 31.205).status_code == 404


def test_index_follows_a_redraw(client, admin, worker, loaded):
    assert locate(client, worker, 121.425, 31.21).json["code"] == S2
    # G2 grows into street 2's area (a topology problem, but the lookup must follow)
    r = import_doc(client, admin, [feat(G2, "grid", C1, box(121.41, 31.20, 121.43, 31.22))])
    assert r.json["redrawn"] == 1
    assert locate(client, worker, 121.425, 31.21).json["code"] == G2


# --- GCJ-02 / BD-09 --------------------------------------------------------------------------

# A small WGS-84 square: the GCJ-02 offset here (~+0.0046 lon, -0.0019 lat) is larger than
# the square, so its GCJ-02 drawing and its true position do not overlap at all.
TRUE_WGS = box(121.600, 31.300, 121.603, 31.303)
DRAWN_GCJ = convert_geometry(TRUE_WGS, "wgs84", "gcj02")


@pytest.fixture
def gcj_grid(client, admin):
    assert not DRAWN_GCJ.intersects(TRUE_WGS)
    r = import_doc(client, admin, [feat("GCJ-1", "grid", None, DRAWN_GCJ, name="高德底图网格")], crs="gcj02")
    assert r.status_code == 200, r.json
    return r.json


def test_gcj02_polygons_are_stored_in_wgs84(db_session, gcj_grid):
    stored = db_session.scalar(select(Grid.geom).where(Grid.code == "GCJ-1"))
    assert stored.equals_exact(TRUE_WGS, 1e-7)


def test_same_place_in_three_systems_same_grid(client, worker, gcj_grid):
    lon, lat = 121.6015, 31.3015
    assert TRUE_WGS.contains(Point(lon, lat))
    r = locate(client, worker, lon, lat)
    assert r.status_code == 200 and r.json["code"] == "GCJ-1"
    glon, glat = wgs84_to_gcj02(lon, lat)
    r = locate(client, worker, glon, glat, crs="gcj02")
    assert r.status_code == 200 and r.json["code"] == "GCJ-1"
    blon, blat = wgs84_to_bd09(lon, lat)
    r = locate(client, worker, blon, blat, crs="bd09")
    assert r.status_code == 200 and r.json["code"] == "GCJ-1"
    # the default system is WGS-84: the GCJ-02 numbers given as WGS-84 miss the grid
    assert locate(client, worker, glon, glat).status_code == 404


def test_raw_gcj_coordinates_are_not_used_for_wgs_points(client, worker, gcj_grid):
    inside_raw = DRAWN_GCJ.centroid
    assert DRAWN_GCJ.contains(inside_raw) and not TRUE_WGS.contains(inside_raw)
    r = locate(client, worker, inside_raw.x, inside_raw.y, crs="wgs84")
    assert r.status_code == 404, r.json
    assert r.json["code"] == "point_outside"


def test_bd09_polygons_are_converted_too(client, admin, db_session):
    drawn_bd = convert_geometry(TRUE_WGS, "wgs84", "bd09")
    r = import_doc(client, admin, [feat("BD-1", "grid", None, drawn_bd)], crs="bd09")
    assert r.status_code == 200
    stored = db_session.scalar(select(Grid.geom).where(Grid.code == "BD-1"))
    # BD-09 -> GCJ-02 is the usual closed form, good to ~2e-6 degrees
    assert stored.equals_exact(TRUE_WGS, 1e-5)
    assert db_session.scalar(select(func.count(Grid.id))) == 1
