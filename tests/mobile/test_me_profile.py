"""GET /api/m/v1/me and /me/grids: profile, my grids and their parents as GeoJSON in the
client's coordinate system, strong ETag with 304, gzip of large answers (Flask-Compress)."""
from __future__ import annotations

import gzip
import json

import pytest
from shapely.geometry import Point, box, shape

from geo.crs import convert_geometry, convert_point
from tests.factories import AssignmentFactory, GridFactory
from tests.mobile.fixtures_me import ME


def test_profile_has_roles_with_labels_department_and_my_grids(client, city):
    r = client.get(f"{ME}/me", headers=city.h("worker1"))
    assert r.status_code == 200, r.json
    me = r.json
    w = city.staff["worker1"]
    assert (me["id"], me["username"], me["name"], me["phone"]) == (w.id, w.username, w.name, "13900000001")
    assert me["roles"] == [{"code": "grid_worker", "label": "网格员"}]
    assert me["department"] is None
    assert me["grid_codes"] == ["31010100100101"]
    assert me["language"] == "zh"

    env = client.get(f"{ME}/me?lang=en", headers=city.h("env")).json
    assert env["roles"] == [{"code": "department_handler", "label": "Department handler"}]
    assert env["department"] == {"code": "ENV", "name": "环卫所", "kind": "functional"}
    assert env["grid_codes"] == []


def test_profile_grid_codes_follow_assignment_periods(client, city, db_session):
    from datetime import UTC, datetime

    w = city.staff["worker1"]
    AssignmentFactory(staff=w, grid_code="31010100100102", valid_from=datetime(2020, 1, 1, tzinfo=UTC),
                      valid_to=datetime(2021, 1, 1, tzinfo=UTC))  # ended
    AssignmentFactory(staff=w, grid_code="31010100100102", valid_from=datetime(2199, 1, 1, tzinfo=UTC))  # not yet
    assert client.get(f"{ME}/me", headers=city.h("worker1")).json["grid_codes"] == ["31010100100101"]


def test_anonymous_and_bad_tokens_are_401(client, city):
    for path in ("/me", "/me/grids", "/me/devices"):
        r = client.get(ME + path)
        assert r.status_code == 401, path
        assert r.json["code"] == "unauthorized"
        assert client.get(ME + path, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.delete(f"{ME}/me/devices/1").status_code == 401


def test_my_grids_are_mine_and_their_parents(client, city):
    r = client.get(f"{ME}/me/grids", headers=city.h("worker1"))
    assert r.status_code == 200, r.json
    assert r.json["type"] == "FeatureCollection"
    props = [f["properties"] for f in r.json["features"]]
    assert props == [
        {"code": "310101001", "name": "测试街道", "level": "street", "parent_code": None, "mine": False},
        {"code": "31010100100101", "name": "一号网格", "level": "grid", "parent_code": "310101001", "mine": True},
    ]
    assert [f["id"] for f in r.json["features"]] == ["310101001", "31010100100101"]
    # another worker's grid is never in my answer; a person without grids gets an empty collection
    assert all(p["code"] != "31010100100102" for p in props)
    assert client.get(f"{ME}/me/grids", headers=city.h("env")).json == {"type": "FeatureCollection", "features": []}


@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09"])
def test_my_grids_geometry_in_the_asked_coordinate_system(client, city, crs):
    r = client.get(f"{ME}/me/grids?crs={crs}", headers=city.h("worker1"))
    assert r.status_code == 200, r.json
    grid = shape(r.json["features"][1]["geometry"])
    expected = convert_geometry(box(121.40, 31.20, 121.41, 31.21), "wgs84", crs)
    assert grid.equals_exact(expected, tolerance=1e-9)
    # one corner, against the point conversion: a real offset (hundreds of metres) unless wgs84
    lon, lat = convert_point(121.40, 31.20, "wgs84", crs)
    assert min(Point(c).distance(Point(lon, lat)) for c in grid.exterior.coords) < 1e-9
    if crs != "wgs84":
        assert abs(lon - 121.40) > 1e-3 or abs(lat - 31.20) > 1e-3


def test_crs_is_checked_and_unknown_parameters_refused(client, city):
    h = city.h("worker1")
    assert client.get(f"{ME}/me/grids?crs=mercator", headers=h).status_code == 422
    r = client.get(f"{ME}/me/grids?crs=wgs84&since=1", headers=h)
    assert r.status_code == 422 and list(r.json["fields"]) == ["since"]
    r = client.get(f"{ME}/me/grids?crs=gcj%0002", headers=h)
    assert r.status_code == 422 and r.json["code"] == "invalid_characters"


def test_etag_and_if_none_match(client, city, db_session):
    h = city.h("worker1")
    first = client.get(f"{ME}/me/grids", headers=h)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith('W/')  # strong
    assert "private" in first.headers["Cache-Control"]
    again = client.get(f"{ME}/me/grids", headers={**h, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    # the same content is the same ETag; another crs is another answer
    assert client.get(f"{ME}/me/grids", headers=h).headers["ETag"] == etag
    gcj = client.get(f"{ME}/me/grids?crs=gcj02", headers={**h, "If-None-Match": etag})
    assert gcj.status_code == 200 and gcj.headers["ETag"] != etag
    # a stale tag, or one among others
    assert client.get(f"{ME}/me/grids", headers={**h, "If-None-Match": '"stale"'}).status_code == 200
    assert client.get(f"{ME}/me/grids", headers={**h, "If-None-Match": f'"x", {etag}'}).status_code == 304
    # another person's ETag for the same crs is not mine
    other = client.get(f"{ME}/me/grids", headers=city.h("worker2")).headers["ETag"]
    assert other != etag
    assert client.get(f"{ME}/me/grids", headers={**h, "If-None-Match": other}).status_code == 200
    # a new assignment changes the content, so the old ETag no longer matches
    AssignmentFactory(staff=city.staff["worker1"], grid_code="31010100100102")
    changed = client.get(f"{ME}/me/grids", headers={**h, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert [f["properties"]["mine"] for f in changed.json["features"]] == [False, True, True]


@pytest.fixture
def big_grid(city):
    """worker1 also looks after a round grid of 256 vertices (a large answer)."""
    GridFactory(code="31010100100103", name="三号网格", parent_code="310101001",
                geom=Point(121.405, 31.2075).buffer(0.002, 64), area_m2=1)
    AssignmentFactory(staff=city.staff["worker1"], grid_code="31010100100103")
    return city


def test_large_answers_are_gzipped_and_decompress_to_the_same_json(client, big_grid):
    h = big_grid.h("worker1")
    plain = client.get(f"{ME}/me/grids?crs=gcj02", headers=h)
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert len(plain.data) > 5000
    zipped = client.get(f"{ME}/me/grids?crs=gcj02", headers={**h, "Accept-Encoding": "gzip"})
    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert int(zipped.headers["Content-Length"]) == len(zipped.data) < len(plain.data) / 2
    assert json.loads(gzip.decompress(zipped.data)) == plain.json


def test_etag_and_304_work_when_compressed(client, big_grid):
    h = {**big_grid.h("worker1"), "Accept-Encoding": "gzip"}
    zipped = client.get(f"{ME}/me/grids", headers=h)
    assert zipped.headers["Content-Encoding"] == "gzip"
    etag = zipped.headers["ETag"]  # Flask-Compress marks the encoding: "<etag>:gzip"
    assert etag.endswith(':gzip"')
    # the tag the client received answers 304, compressed or not
    not_modified = client.get(f"{ME}/me/grids", headers={**h, "If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.data == b""
    assert not_modified.headers["ETag"] == etag
    plain_tag = client.get(f"{ME}/me/grids", headers=big_grid.h("worker1")).headers["ETag"]
    assert etag == plain_tag[:-1] + ':gzip"'
    r = client.get(f"{ME}/me/grids", headers={**big_grid.h("worker1"), "If-None-Match": etag})
    assert r.status_code == 304
    r = client.get(f"{ME}/me/grids", headers={**h, "If-None-Match": plain_tag})
    assert r.status_code == 304
    # a changed answer is sent again, compressed, with a new tag
    r = client.get(f"{ME}/me/grids?crs=bd09", headers={**h, "If-None-Match": etag})
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip" and r.headers["ETag"] != etag


def test_small_answers_stay_uncompressed(client, city):
    r = client.get(f"{ME}/me", headers={**city.h("worker1"), "Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert len(r.data) < 1024
    assert "Content-Encoding" not in r.headers
    assert r.json["grid_codes"] == ["31010100100101"]
    # errors are small and never compressed either
    r = client.get(f"{ME}/me", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 401 and "Content-Encoding" not in r.headers


def test_other_large_json_answers_are_compressed_too(client, admin):
    """gzip is app-wide: the OpenAPI document is a large JSON answer."""
    plain = client.get("/api/openapi.json")
    zipped = client.get("/api/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.data)) == plain.json
    # a client that accepts only identity gets it
    assert "Content-Encoding" not in client.get("/api/openapi.json", headers={"Accept-Encoding": "identity"}).headers


def test_my_grids_takes_as_many_statements_for_many_grids_as_for_one(client, city, app):
    """The chain up is read one level at a time, not once per grid and level."""
    from sqlalchemy import event

    from wangge.extensions import db

    for n in range(3, 8):
        GridFactory(code=f"3101010010010{n}", name=f"{n}号网格", parent_code="310101001", x=n, area_m2=1)
        AssignmentFactory(staff=city.staff["worker2"], grid_code=f"3101010010010{n}")
    counts = {}
    for who in ("worker1", "worker2"):
        client.get(f"{ME}/me/grids", headers=city.h(who))  # warm: same path both times
        seen: list = []
        listener = lambda *args, seen=seen: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            r = client.get(f"{ME}/me/grids", headers=city.h(who))
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        counts[who] = (len(r.json["features"]), len(seen))
    assert counts["worker1"][0] == 2 and counts["worker2"][0] == 7
    assert counts["worker1"][1] == counts["worker2"][1], counts
