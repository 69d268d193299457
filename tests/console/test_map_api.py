"""The console map's data over HTTP: ``GET /api/v1/map/cases`` (open cases in a box as pins
coloured by light, clustered by the server when dense, in the asked coordinate system, under
the case list's visibility) and ``GET /api/v1/map/grids``; the page itself and its menu entry."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import text

from dispatch.workflow import map_views
from geo.crs import wgs84_to_gcj02
from tests.factories import CaseFactory, DepartmentFactory, GridFactory
from wangge.timeutil import utcnow

BOX = "121.39,31.19,121.46,31.23"


def lights_case(**kw):
    """A case whose clock copy gives ``light`` (red, yellow, green, paused yellow, none)."""
    now = utcnow()
    light = kw.pop("light")
    clock = {"red": dict(clock_due_at=now - timedelta(hours=1), clock_warn_at=now - timedelta(hours=2)),
             "yellow": dict(clock_due_at=now + timedelta(hours=1), clock_warn_at=now - timedelta(minutes=5)),
             "green": dict(clock_due_at=now + timedelta(hours=3), clock_warn_at=now + timedelta(hours=2)),
             "paused": dict(clock_due_at=None, clock_warn_at=None, clock_paused_light="yellow"),
             "none": {}}[light]
    return CaseFactory(state=kw.pop("state", "handling"), **clock, **kw)


@pytest.fixture
def city(db_session):
    dept, other = DepartmentFactory(), DepartmentFactory()
    cases = {light: lights_case(light=light, lon=121.40 + i * 0.01, lat=31.20, department=dept)
             for i, light in enumerate(("red", "yellow", "green", "paused", "none"))}
    cases["other_dept"] = lights_case(light="green", lon=121.45, lat=31.21, department=other)
    cases["closed"] = lights_case(light="none", lon=121.41, lat=31.21, state="closed", department=dept)
    cases["outside"] = lights_case(light="red", lon=121.60, lat=31.30, department=dept)
    cases["no_point"] = lights_case(light="red", department=dept)
    db_session.flush()
    return dept, other, cases


def test_pins_carry_number_position_and_light_of_open_cases_in_the_box(client, login, city):
    _, _, cases = city
    r = client.get(f"/api/v1/map/cases?bbox={BOX}&zoom=14", headers=login("dispatcher"))
    assert r.status_code == 200, r.json
    body = r.json
    assert body["clustered"] is False and body["clusters"] == [] and body["crs"] == "wgs84"
    got = {p["number"]: p for p in body["pins"]}
    want = {"red": "red", "yellow": "yellow", "green": "green", "paused": "yellow", "none": "none",
            "other_dept": "green"}
    assert {n: got[n]["light"] for n in got} == {cases[k].number: v for k, v in want.items()}
    assert body["total"] == 6
    red = got[cases["red"].number]
    assert (red["lon"], red["lat"]) == (pytest.approx(121.40), pytest.approx(31.20))


def test_a_department_handler_sees_only_the_cases_the_case_list_shows_them(client, login, city):
    dept, _, cases = city
    r = client.get(f"/api/v1/map/cases?bbox={BOX}&zoom=14", headers=login("department_handler", department_id=dept.id))
    assert r.status_code == 200
    numbers = {p["number"] for p in r.json["pins"]}
    assert cases["other_dept"].number not in numbers and cases["red"].number in numbers
    listed = client.get("/api/v1/cases?limit=200", headers=login("department_handler", department_id=dept.id)).json
    assert numbers <= {c["number"] for c in listed["cases"]}


@pytest.mark.parametrize("roles", [("grid_worker",), ("enforcement_officer",)])
def test_the_roles_next_door_and_anonymous_are_refused(client, login, city, roles):
    for path in (f"/api/v1/map/cases?bbox={BOX}&zoom=14", "/api/v1/map/grids"):
        assert client.get(path, headers=login(*roles)).status_code == 403
        assert client.get(path).status_code == 401


def test_dense_boxes_are_clustered_per_cell_of_a_fixed_lattice(client, login, city, monkeypatch):
    _, _, cases = city
    for i in range(4):  # four cases in one cell near the red one
        lights_case(light="red" if i == 0 else "green", lon=121.4001 + i * 0.0001, lat=31.2001)
    monkeypatch.setattr(map_views, "PIN_LIMIT", 3)
    headers = login("leader")
    body = client.get(f"/api/v1/map/cases?bbox={BOX}&zoom=13", headers=headers).json
    assert body["clustered"] is True and body["cell"] > 0
    assert body["total"] == 10 == len(body["pins"]) + sum(c["count"] for c in body["clusters"])
    dense = max(body["clusters"], key=lambda c: c["count"])
    assert dense["count"] == 5 and (dense["red"], dense["green"], dense["yellow"], dense["none"]) == (2, 3, 0, 0)
    w, s, e, n = dense["bbox"]
    assert w <= 121.40 < 121.4004 <= e and s <= 31.20 < 31.2001 <= n
    assert all(p["light"] in map_views.LIGHTS for p in body["pins"])  # lone cases in a cell stay pins
    # a shifted view sees the same cells (the box is widened to whole cells)
    shifted = client.get("/api/v1/map/cases?bbox=121.3952,31.1948,121.4652,31.2348&zoom=13", headers=headers).json
    assert max(c["count"] for c in shifted["clusters"]) == 5
    # deeper: the cell splits
    deep = client.get("/api/v1/map/cases?bbox=121.3995,31.1995,121.4010,31.2010&zoom=22", headers=headers).json
    assert deep["clustered"] is True and deep["total"] == 5
    assert all(c["count"] < 5 for c in deep["clusters"]) and len(deep["pins"]) >= 2


def test_a_zoom_too_deep_for_the_box_never_answers_more_than_max_cells(app):
    cell = map_views.cell_size(22, -180, -90, 180, 90)
    assert 360 * 180 / cell ** 2 <= map_views.MAX_CELLS + 1


def test_gcj02_box_and_answer(client, login, city):
    _, _, cases = city
    lon, lat = wgs84_to_gcj02(121.40, 31.20)
    w, s = wgs84_to_gcj02(121.39, 31.19)
    e, n = wgs84_to_gcj02(121.46, 31.23)
    r = client.get(f"/api/v1/map/cases?bbox={w},{s},{e},{n}&zoom=14&crs=gcj02", headers=login("dispatcher"))
    assert r.status_code == 200 and r.json["crs"] == "gcj02"
    red = next(p for p in r.json["pins"] if p["number"] == cases["red"].number)
    assert (red["lon"], red["lat"]) == (pytest.approx(lon, abs=1e-7), pytest.approx(lat, abs=1e-7))
    assert r.json["total"] == 6


@pytest.mark.parametrize(("query", "field"), [
    ("zoom=14", "bbox"),
    (f"bbox={BOX}", "zoom"),
    ("bbox=1,2,3&zoom=3", "bbox"),
    ("bbox=3,2,1,4&zoom=3", "bbox"),            # west > east
    ("bbox=1,4,3,2&zoom=3", "bbox"),            # south > north
    ("bbox=-181,0,1,1&zoom=3", "bbox"),
    ("bbox=nan,0,1,1&zoom=3", "bbox"),
    ("bbox=1e400,0,1,1&zoom=3", "bbox"),
    ("bbox=a,b,c,d&zoom=3", "bbox"),
    (f"bbox={'1' * 500},0,1,1&zoom=3", "bbox"),
    (f"bbox={BOX}&zoom=99999999999999999999999", "zoom"),
    (f"bbox={BOX}&zoom=-1", "zoom"),
    (f"bbox={BOX}&zoom=1.5", "zoom"),
    (f"bbox={BOX}&zoom=3&crs=bd10", "crs"),
    (f"bbox={BOX}&zoom=3&colour=red", "colour"),
    ("bbox=121.39,31.19%00,121.46,31.23&zoom=3", "bbox"),
    (f"bbox={BOX}&zoom=1%004", "zoom"),
])
def test_bad_input_is_a_422_naming_the_field(client, login, query, field):
    r = client.get(f"/api/v1/map/cases?{query}", headers=login("dispatcher"))
    assert r.status_code == 422, (query, r.json)
    text = str(r.json)
    assert field in text, (query, r.json)


def test_grid_outlines_at_every_level_in_the_asked_system(client, login, db_session):
    GridFactory(x=0, y=0, code="S1", level="street")
    GridFactory(x=0, y=0, code="C1", level="community", parent_code="S1")
    GridFactory(x=0, y=0, code="U1", level="grid", parent_code="C1")
    db_session.flush()
    headers = login("intake_clerk")
    for level, code in (("street", "S1"), ("community", "C1"), ("grid", "U1")):
        r = client.get(f"/api/v1/map/grids?level={level}", headers=headers)
        assert r.status_code == 200 and [f["id"] for f in r.json["features"]] == [code]
    wgs = client.get("/api/v1/map/grids?level=grid", headers=headers).json["features"][0]["geometry"]["coordinates"][0][0]
    gcj = client.get("/api/v1/map/grids?level=grid&crs=gcj02", headers=headers).json["features"][0]["geometry"]["coordinates"][0][0]
    assert gcj == pytest.approx(list(wgs84_to_gcj02(*wgs)), abs=1e-7) and gcj != pytest.approx(wgs, abs=1e-4)
    r = client.get("/api/v1/map/grids?level=planet", headers=headers)
    assert r.status_code == 422 and "level" in str(r.json)


def test_the_map_page_for_desk_roles(client, login, app, monkeypatch):
    from tests.console.test_session import sign_in
    from tests.factories import StaffFactory

    StaffFactory(username="mapper", roles=["dispatcher"])
    StaffFactory(username="walker", roles=["grid_worker"])
    r = client.get("/console/map")
    assert r.status_code == 302 and r.headers["Location"].startswith("/console/login?next=/console/map")
    sign_in(client, "mapper")
    html = client.get("/console/queue").get_data(as_text=True)
    assert 'href="/console/map"' in html  # the menu entry
    r = client.get("/console/map?lang=en")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'aria-label="Case map: grid outlines and open cases"' in page
    assert 'id="map-as-list" href="/console/queue"' in page and 'data-crs="wgs84"' in page
    assert "img-src 'self' data: blob:;" in r.headers["Content-Security-Policy"]
    # a tile server: the page draws in its system, and the CSP lets its images in
    settings = dataclasses.replace(app.config["WANGGE"], map_tile_url="https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}",
                                   map_tile_crs="gcj02", map_tile_subdomains="1234")
    monkeypatch.setitem(app.config, "WANGGE", settings)
    r = client.get("/console/map")
    assert 'data-crs="gcj02"' in r.get_data(as_text=True) and 'data-tile-subdomains="1234"' in r.get_data(as_text=True)
    assert "img-src 'self' https://*.is.autonavi.com data:" in r.headers["Content-Security-Policy"]
    client.post("/console/logout", data={"csrf_token": ""})
    client.delete_cookie("wangge_session")
    sign_in(client, "walker")
    assert client.get("/console/map").status_code == 403
    assert 'href="/console/map"' not in client.get("/console/queue").get_data(as_text=True)


def test_only_wgs84_or_gcj02_tiles_are_accepted():
    from wangge.config import Settings

    with pytest.raises(ValueError, match="MAP_TILE_CRS"):
        Settings(map_tile_crs="bd09")


def test_every_map_query_is_planned_for_its_box(client, login, city, db_session, monkeypatch):
    """The pins' and the clusters' statements run unprepared (wangge.pg_cursor.PER_VALUES):
    one prepared statement's generic plan, chosen from the sixth run on, served the whole city
    and a few blocks alike (bench_map: the city from 160 to 700 ms)."""
    headers = login("dispatcher")
    first = client.get(f"/api/v1/map/cases?bbox={BOX}&zoom=14", headers=headers).json
    for _ in range(7):  # past psycopg's prepare threshold (5)
        assert client.get(f"/api/v1/map/cases?bbox={BOX}&zoom=14", headers=headers).json == first
    monkeypatch.setattr(map_views, "PIN_LIMIT", 3)
    clustered = client.get(f"/api/v1/map/cases?bbox={BOX}&zoom=13", headers=headers).json
    assert clustered["clustered"] is True
    for _ in range(7):
        assert client.get(f"/api/v1/map/cases?bbox={BOX}&zoom=13", headers=headers).json == clustered
    prepared = db_session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert prepared, "psycopg prepares the statements run 5 times on this connection (the token's, say)"
    assert not [sql for sql in prepared if "ST_MakeEnvelope" in sql], prepared
