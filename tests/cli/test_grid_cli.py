"""The ``wangge`` CLI as a user runs it, in a subprocess, against a PostGIS database of its own."""
from __future__ import annotations

import csv
import json

import pytest
import shapefile
from shapely.geometry import box, mapping
from sqlalchemy import create_engine, text

from geo.crs import convert_point
from tests.conftest import make_settings, shared_file


def count_grids(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM grids"))
    finally:
        engine.dispose()


def write_geojson(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def feat(code, geom, **props):
    return {"type": "Feature", "properties": {"code": code, **props}, "geometry": geom}


@pytest.fixture
def api_client(fresh_pg_url):
    """An app in this process on the same database, with a signed-in grid worker (made in this
    process: ``wangge staff create`` is run by tests/dispatch/test_languages.py)."""
    from grid.accounts.service import create_staff
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(fresh_pg_url))
    with app.app_context():
        create_staff(db.session, username="tester", name="测试", password="secret-password", roles=["grid_worker"])
        db.session.commit()
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"username": "tester", "password": "secret-password"}).json["token"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    yield client
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.mark.shared  # reads ../shared/data
def test_sf311_tracts_imported_and_every_case_located(fresh_pg_url, run_cli, api_client):
    tracts = shared_file("data", "sf311", "city_analysis_neighbor.geojson")
    cases = shared_file("data", "sf311", "cases_sample.csv")
    out = run_cli(fresh_pg_url, "grid", "import", str(tracts), "--code-field", "tractce10",
                  "--name-field", "nhood", "--level", "grid")
    assert "created 195," in out.stdout
    assert "importing" in out.stderr  # progress shown

    with cases.open(newline="", encoding="utf-8") as fp:
        rows = [r for r in csv.DictReader(fp) if r["Lat"].strip() and r["Long"].strip()]
    assert len(rows) > 4000
    located = []
    for start in range(0, len(rows), 5000):
        chunk = rows[start:start + 5000]
        r = api_client.post("/api/v1/geo/locate", json={
            "crs": "wgs84", "points": [{"lon": float(x["Long"]), "lat": float(x["Lat"])} for x in chunk]})
        assert r.status_code == 200, r.json
        located += r.json["results"]
    disagreements = [(row["CaseID"] if "CaseID" in row else i, row["tractce10"], got and got["code"])
                     for i, (row, got) in enumerate(zip(rows, located, strict=True))
                     if got is None or got["code"] != row["tractce10"].strip().zfill(6)]
    assert disagreements == []

    one = rows[0]
    out = run_cli(fresh_pg_url, "grid", "locate", one["Long"], one["Lat"], "--json")
    assert json.loads(out.stdout)["code"] == one["tractce10"].zfill(6)


# WGS-84 points well inside a district (checked against the outlines, >= 750 m from any border)
SHANGHAI_POINTS = {
    "310101": (121.4737, 31.2304),   # People's Square, Huangpu
    "310115": (121.5055, 31.2352),   # Jin Mao Tower, Pudong
    "310117": (121.1873, 31.0968),   # Sheshan, Songjiang
}


@pytest.mark.shared  # reads ../shared/data
def test_shanghai_gcj02_outlines_located_from_wgs84_points(fresh_pg_url, run_cli, api_client):
    outlines = shared_file("data", "cn", "shanghai_districts_gcj02.geojson")
    out = run_cli(fresh_pg_url, "grid", "import", str(outlines), "--crs", "gcj02", "--code-field", "adcode",
                  "--name-field", "district", "--level", "district")
    assert "created 16," in out.stdout
    points = {crs: {code: convert_point(lon, lat, "wgs84", crs) for code, (lon, lat) in SHANGHAI_POINTS.items()}
              for crs in ("wgs84", "gcj02", "bd09")}
    # every point in every coordinate system, asked of an app on the imported outlines ...
    for crs, located in points.items():
        for code, (lon, lat) in located.items():
            r = api_client.get(f"/api/v1/geo/locate?lon={lon}&lat={lat}&crs={crs}")
            assert r.status_code == 200 and r.json["code"] == code, (crs, code, r.json)
    # ... and of `wangge grid locate`, once per system (each time another district)
    for (crs, located), code in zip(points.items(), SHANGHAI_POINTS, strict=True):
        lon, lat = located[code]
        args = ("--crs", crs) if crs != "wgs84" else ()  # WGS-84 is the default
        answer = json.loads(run_cli(fresh_pg_url, "grid", "locate", str(lon), str(lat), *args, "--json").stdout)
        assert answer["code"] == code, (crs, answer)


def test_invalid_file_writes_nothing_and_names_each_feature(fresh_pg_url, run_cli, tmp_path):
    bowtie = {"type": "Polygon", "coordinates": [[[121.40, 31.20], [121.41, 31.21], [121.41, 31.20],
                                                  [121.40, 31.21], [121.40, 31.20]]]}
    path = write_geojson(tmp_path / "bad.geojson", [
        feat("A1", mapping(box(121.40, 31.20, 121.41, 31.21)), level="grid"),
        feat("A2", {"type": "LineString", "coordinates": [[121.4, 31.2], [121.5, 31.3]]}, level="grid"),
        feat("A3", bowtie, level="grid"),
        feat("A1", mapping(box(121.42, 31.20, 121.43, 31.21)), level="grid"),
        feat("A5", mapping(box(200, 31.20, 201, 31.21)), level="grid"),
    ])
    proc = run_cli(fresh_pg_url, "grid", "import", str(path), check=False)
    assert proc.returncode == 2
    assert "invalid_features" in proc.stderr
    for fragment in ("#1 code=A2", "#2 code=A3", "#3 code=A1", "#4 code=A5"):
        assert fragment in proc.stderr
    assert count_grids(fresh_pg_url) == 0

    fixed = run_cli(fresh_pg_url, "grid", "import", str(path), "--fix", "--skip-invalid")
    assert "fixed feature #2 code=A3" in fixed.stdout
    assert "created 2," in fixed.stdout  # A1 and the repaired A3; A2, duplicate A1 and A5 skipped
    assert "skipped 3" in fixed.stdout
    assert count_grids(fresh_pg_url) == 2


def test_unreadable_file_is_a_clear_error(fresh_pg_url, run_cli, tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text("{not json", encoding="utf-8")
    proc = run_cli(fresh_pg_url, "grid", "import", str(path), check=False)
    assert proc.returncode == 2 and "invalid_file" in proc.stderr
    assert count_grids(fresh_pg_url) == 0


def test_national_codes_checked_when_asked(fresh_pg_url, run_cli, tmp_path):
    path = write_geojson(tmp_path / "codes.geojson", [
        feat("310101", mapping(box(121.40, 31.20, 121.50, 31.30)), level="district"),
        feat("310101002", mapping(box(121.40, 31.20, 121.45, 31.25)), level="street", parent="310101"),
        feat("310102002", mapping(box(121.45, 31.20, 121.50, 31.25)), level="street", parent="310101"),
        feat("31010100", mapping(box(121.45, 31.25, 121.50, 31.30)), level="street", parent="310101"),
    ])
    proc = run_cli(fresh_pg_url, "grid", "import", str(path), check=False, WANGGE_GRID_CODE_RULE="national")
    assert proc.returncode == 2
    assert "code=310102002" in proc.stderr and "code=31010100" in proc.stderr
    assert count_grids(fresh_pg_url) == 0
    # free codes (the default) accept the same file
    run_cli(fresh_pg_url, "grid", "import", str(path))
    assert count_grids(fresh_pg_url) == 4


def test_shapefile_with_gbk_names(fresh_pg_url, run_cli, tmp_path):
    base = tmp_path / "grids"
    with shapefile.Writer(str(base), shapeType=shapefile.POLYGON, encoding="gbk") as w:
        w.field("CODE", "C", 20)
        w.field("NAME", "C", 50)
        for i in range(3):
            x = 121.40 + i * 0.01
            w.poly([[[x, 31.20], [x, 31.21], [x + 0.01, 31.21], [x + 0.01, 31.20], [x, 31.20]]])
            w.record(f"S{i}", f"第{i}网格")
    (tmp_path / "grids.cpg").write_text("GBK")
    out = run_cli(fresh_pg_url, "grid", "import", str(base) + ".shp", "--level", "grid")
    assert "created 3," in out.stdout
    located = json.loads(run_cli(fresh_pg_url, "grid", "locate", "121.415", "31.205", "--json").stdout)
    assert located == {"code": "S1", "name": "第1网格", "level": "grid", "chain": [["S1", "第1网格", "grid"]],
                       "workers": []}


def test_check_reports_overlaps_and_escapes(fresh_pg_url, run_cli, tmp_path):
    path = write_geojson(tmp_path / "topo.geojson", [
        feat("P", mapping(box(121.40, 31.20, 121.42, 31.22)), level="community"),
        feat("P01", mapping(box(121.40, 31.20, 121.411, 31.22)), level="grid", parent="P"),
        feat("P02", mapping(box(121.41, 31.20, 121.425, 31.22)), level="grid", parent="P"),
    ])
    run_cli(fresh_pg_url, "grid", "import", str(path))
    proc = run_cli(fresh_pg_url, "grid", "check", check=False)
    assert proc.returncode == 1
    assert "overlap  P01 / P02" in proc.stdout
    assert "escape   P02 leaves P" in proc.stdout
    clean = write_geojson(tmp_path / "clean.geojson", [
        feat("P01", mapping(box(121.40, 31.20, 121.41, 31.22)), level="grid", parent="P"),
        feat("P02", mapping(box(121.41, 31.20, 121.42, 31.22)), level="grid", parent="P"),
    ])
    out = run_cli(fresh_pg_url, "grid", "import", str(clean))
    assert "redrawn 2" in out.stdout
    assert run_cli(fresh_pg_url, "grid", "check").stdout.strip().endswith("0 overlaps, 0 gaps, 0 escapes")


def test_index_refreshes_in_a_running_process_after_another_process_imports(fresh_pg_url, run_cli,
                                                                              tmp_path, api_client):
    """The already-running app picks up grids another process imported, without a restart."""
    first = write_geojson(tmp_path / "one.geojson", [feat("R1", mapping(box(121.40, 31.20, 121.41, 31.21)),
                                                          level="grid")])
    run_cli(fresh_pg_url, "grid", "import", str(first))
    assert api_client.get("/api/v1/geo/locate?lon=121.405&lat=31.205").json["code"] == "R1"
    assert api_client.get("/api/v1/geo/locate?lon=121.415&lat=31.205").status_code == 404
    second = write_geojson(tmp_path / "two.geojson", [feat("R2", mapping(box(121.41, 31.20, 121.42, 31.21)),
                                                           level="grid")])
    run_cli(fresh_pg_url, "grid", "import", str(second))
    assert api_client.get("/api/v1/geo/locate?lon=121.415&lat=31.205").json["code"] == "R2"


def test_demo_and_matrix_csv_round_trip(fresh_pg_url, run_cli, tmp_path):
    out = run_cli(fresh_pg_url, "demo", "load")
    assert "'grids': 317" in out.stdout
    located = json.loads(run_cli(fresh_pg_url, "grid", "locate", "121.4751", "31.2112", "--json").stdout)
    assert [c[2] for c in located["chain"]] == ["district", "street", "community", "grid"]
    assert located["workers"]

    exported = tmp_path / "matrix.csv"
    run_cli(fresh_pg_url, "matrix", "export", str(exported))
    text_ = exported.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text_.splitlines()))
    assert len(rows) == 73
    out = run_cli(fresh_pg_url, "matrix", "import", str(exported))
    assert "created 0, updated 0, unchanged 73" in out.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("category_code,grid_code,department_code\nE0102,*,NOPE\nE9999,*,LH\n", encoding="utf-8")
    proc = run_cli(fresh_pg_url, "matrix", "import", str(bad), check=False)
    assert proc.returncode == 2
    assert "line 2 department_code='NOPE'" in proc.stderr and "line 3 category_code='E9999'" in proc.stderr
    again = tmp_path / "again.csv"
    run_cli(fresh_pg_url, "matrix", "export", str(again))
    assert again.read_text(encoding="utf-8-sig") == text_
