"""Responsibility matrix over HTTP: rules at every level, explain, CSV export and import."""
import csv
import io
import json

import pytest
from shapely.geometry import mapping
from sqlalchemy import select

from geo.crs import wgs84_to_gcj02
from grid.models import Responsibility
from tests.api.layer import BOXES, C1, G1, G2, LEVELS, NAMES, PARENTS, S1, S2, D

DEPTS = [("LH", "区绿化和市容管理局", "functional"), ("JD1", "一号街道办事处", "street_office"),
         ("JD2", "二号街道办事处", "street_office"), ("SW", "区水务局", "functional")]



@pytest.fixture
def dispatcher(login):
    return login("dispatcher")


@pytest.fixture
def registry(client, admin):
    features = [{"type": "Feature", "geometry": mapping(BOXES[c]),
                 "properties": {"code": c, "name": NAMES[c], "level": LEVELS[c], "parent": PARENTS[c]}}
                for c in BOXES]
    r = client.post("/api/v1/grids/import?crs=wgs84", headers=admin, content_type="application/json",
                    data=json.dumps({"type": "FeatureCollection", "features": features}))
    assert r.status_code == 200, r.json
    for code, name, kind in DEPTS:
        r = client.post("/api/v1/departments", headers=admin, json={"code": code, "name": name, "kind": kind})
        assert r.status_code == 201, r.json


def set_rule(client, headers, category, grid, dept, note=None):
    r = client.post("/api/v1/matrix", headers=headers, json={
        "category_code": category, "grid_code": grid, "department_code": dept, "note": note})
    return r


@pytest.fixture
def rules(client, admin, registry):
    for category, grid, dept in [("E0102", "*", "LH"), ("E0102", D, "LH"), ("E0102", S1, "JD1"),
                                 ("E0102", S2, "JD2"), ("C0101", "*", "SW")]:
        r = set_rule(client, admin, category, grid, dept)
        assert r.status_code == 200, r.json


def rule_rows(session):
    session.expire_all()
    return sorted((r.category_code, r.grid_code, r.department.code, r.note)
                  for r in session.scalars(select(Responsibility)))


def explain(client, headers, query):
    r = client.get(f"/api/v1/matrix/explain?{query}", headers=headers)
    assert r.status_code == 200, r.json
    return r.json


def test_rules_list_and_filters(client, dispatcher, rules):
    r = client.get("/api/v1/matrix", headers=dispatcher)
    assert r.status_code == 200
    assert len(r.json) == 5
    assert [(x["category_code"], x["grid_code"]) for x in r.json] == [
        ("C0101", "*"), ("E0102", "*"), ("E0102", D), ("E0102", S1), ("E0102", S2)]
    assert [x["grid_code"] for x in client.get("/api/v1/matrix?department=JD1", headers=dispatcher).json] == [S1]
    assert len(client.get("/api/v1/matrix?category=E0102", headers=dispatcher).json) == 4
    assert [x["department_code"] for x in client.get(f"/api/v1/matrix?grid={S2}", headers=dispatcher).json] == [
        "JD2"]


def test_explain_picks_most_specific_and_lists_every_level(client, dispatcher, rules):
    e = explain(client, dispatcher, f"category=E0102&grid={G1}")
    assert e["department"]["code"] == "JD1"
    assert e["grid_code"] == G1 and e["rule_id"] is not None
    assert [(c["grid_code"], c["level"], c["department_code"], c["chosen"]) for c in e["checked"]] == [
        (G1, "grid", None, False),
        (C1, "community", None, False),
        (S1, "street", "JD1", True),
        (D, "district", "LH", False),
        ("*", None, "LH", False),
    ]
    assert e["checked"][2]["grid_name"] == "一号街道"
    assert "一号街道办事处" in e["reason"]

    e = explain(client, dispatcher, f"category=E0102&grid={S2}")
    assert e["department"]["code"] == "JD2"
    assert [c["chosen"] for c in e["checked"]] == [True, False, False]

    # only the everywhere rule exists for C0101
    e = explain(client, dispatcher, f"category=C0101&grid={G2}")
    assert e["department"]["code"] == "SW"
    assert [c["grid_code"] for c in e["checked"]] == [G2, C1, S1, D, "*"]
    assert [c["chosen"] for c in e["checked"]] == [False, False, False, False, True]
    assert "全域" in e["reason"]


def test_grid_level_rule_wins(client, admin, dispatcher, rules):
    assert set_rule(client, admin, "E0102", G2, "SW", note="河道旁").status_code == 200
    assert explain(client, dispatcher, f"category=E0102&grid={G2}")["department"]["code"] == "SW"
    assert explain(client, dispatcher, f"category=E0102&grid={G1}")["department"]["code"] == "JD1"
    # changing a rule updates it in place
    assert set_rule(client, admin, "E0102", G2, "LH").status_code == 200
    assert explain(client, dispatcher, f"category=E0102&grid={G2}")["department"]["code"] == "LH"


def test_explain_by_point(client, dispatcher, rules):
    e = explain(client, dispatcher, "category=E0102&lon=121.405&lat=31.21")
    assert e["grid_code"] == G1 and e["department"]["code"] == "JD1"
    lon, lat = wgs84_to_gcj02(121.43, 31.21)
    e = explain(client, dispatcher, f"category=E0102&lon={lon}&lat={lat}&crs=gcj02")
    assert e["grid_code"] == S2 and e["department"]["code"] == "JD2"
    r = client.get("/api/v1/matrix/explain?category=E0102&lon=100&lat=20", headers=dispatcher)
    assert r.status_code == 404 and r.json["code"] == "point_outside"


def test_no_rule_gives_null_department_with_reason(client, dispatcher, rules):
    e = explain(client, dispatcher, f"category=E0303&grid={G1}")
    assert e["department"] is None and e["rule_id"] is None
    assert [c["chosen"] for c in e["checked"]] == [False] * 5
    assert e["reason"].startswith("没有适用的责任规则")
    assert G1 in e["reason"] and "*" in e["reason"]
    e = explain(client, dispatcher, f"category=E0303&grid={G1}&lang=en")
    assert e["reason"].startswith("No rule applies")


@pytest.mark.parametrize("query, status, key", [
    ("grid=31010100100101", 422, "category"),
    ("category=E0102", 422, "grid"),
    ("category=E0102&lon=121.4", 422, "grid"),
    ("category=E0102&lon=121.4&lat=99", 422, "lat"),
    ("category=E0102&lon=121.4&lat=31.2&crs=xyz", 422, "crs"),
    ("category=NOPE&grid=31010100100101", 404, None),
    ("category=E0102&grid=NOPE", 404, None),
])
def test_explain_bad_queries(client, dispatcher, rules, query, status, key):
    r = client.get(f"/api/v1/matrix/explain?{query}", headers=dispatcher)
    assert r.status_code == status, r.json
    if key:
        assert key in r.json["fields"]


def test_explain_needs_a_dispatch_role(client, login, db_session, rules):
    worker = login("grid_worker")
    db_session.commit()
    r = client.get(f"/api/v1/matrix/explain?category=E0102&grid={G1}", headers=worker)
    assert r.status_code == 403 and r.json["code"] == "forbidden_role"


def test_rule_refusals_change_nothing(client, admin, dispatcher, db_session, rules):
    before = rule_rows(db_session)
    for body, status in [
        (("NOPE", G1, "LH"), 404),
        (("E0102", "NO-GRID", "LH"), 404),
        (("E0102", G1, "NO-DEPT"), 404),
    ]:
        r = set_rule(client, admin, *body)
        assert r.status_code == status, r.json
        assert r.json["code"] == "not_found"
    r = client.post("/api/v1/matrix", headers=admin, json={"category_code": "E0102"})
    assert r.status_code == 422 and set(r.json["fields"]) == {"grid_code", "department_code"}
    r = set_rule(client, dispatcher, "E0102", G1, "SW")
    assert r.status_code == 403
    rule_id = client.get("/api/v1/matrix?category=C0101", headers=admin).json[0]["id"]
    assert client.delete(f"/api/v1/matrix/{rule_id}", headers=dispatcher).status_code == 403
    assert client.delete("/api/v1/matrix/999999", headers=admin).status_code == 404
    assert rule_rows(db_session) == before

    assert client.delete(f"/api/v1/matrix/{rule_id}", headers=admin).status_code == 200
    assert ("C0101", "*", "SW", None) not in rule_rows(db_session)


# --- CSV ------------------------------------------------------------------------------------


def export(client, headers):
    r = client.get("/api/v1/matrix/export", headers=headers)
    assert r.status_code == 200
    return r


def import_csv(client, headers, text, replace=False, multipart=False):
    url = "/api/v1/matrix/import" + ("?replace=true" if replace else "")
    data = text.encode("utf-8") if isinstance(text, str) else text
    if multipart:
        return client.post(url, headers=headers, data={"file": (io.BytesIO(data), "matrix.csv")},
                           content_type="multipart/form-data")
    return client.post(url, headers=headers, data=data, content_type="text/csv")


def test_export_is_excel_friendly_csv(client, dispatcher, rules):
    r = export(client, dispatcher)
    assert r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    raw = r.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["category_code", "grid_code", "department_code", "note",
                       "category_name", "grid_name", "department_name"]
    body = list(csv.DictReader(io.StringIO(text)))
    assert len(body) == 5
    s1 = next(x for x in body if x["grid_code"] == S1)
    assert (s1["category_code"], s1["department_code"], s1["grid_name"], s1["department_name"]) == (
        "E0102", "JD1", "一号街道", "一号街道办事处")
    assert next(x for x in body if x["grid_code"] == "*")["grid_name"] == "全域"


def test_export_import_round_trip(client, admin, db_session, rules):
    assert set_rule(client, admin, "E0102", G2, "SW", note="含逗号, 和\"引号\"").status_code == 200
    before = rule_rows(db_session)
    exported = export(client, admin).get_data()

    # wipe the matrix, then load the export back
    for rule in client.get("/api/v1/matrix", headers=admin).json:
        assert client.delete(f"/api/v1/matrix/{rule['id']}", headers=admin).status_code == 200
    assert rule_rows(db_session) == []
    r = import_csv(client, admin, exported)
    assert r.status_code == 200, r.json
    assert r.json == {"created": 6, "updated": 0, "unchanged": 0, "removed": 0}
    assert rule_rows(db_session) == before

    # loading the same file again changes nothing
    r = import_csv(client, admin, exported, multipart=True)
    assert r.json == {"created": 0, "updated": 0, "unchanged": 6, "removed": 0}
    assert rule_rows(db_session) == before


def test_import_updates_and_creates(client, admin, db_session, rules):
    text = ("category_code,grid_code,department_code,note\n"
            f"E0102,{S1},SW,改派\n"
            f"E0102,{G1},LH,\n")
    r = import_csv(client, admin, text)
    assert r.status_code == 200, r.json
    assert r.json == {"created": 1, "updated": 1, "unchanged": 0, "removed": 0}
    rows = rule_rows(db_session)
    assert ("E0102", S1, "SW", "改派") in rows and ("E0102", G1, "LH", None) in rows
    assert len(rows) == 6  # nothing removed without replace


def test_import_replace_removes_rules_not_in_file(client, admin, db_session, rules):
    text = ("category_code,grid_code,department_code\n"
            "E0102,*,LH\n"
            f"E0102,{S1},JD1\n")
    r = import_csv(client, admin, text, replace=True)
    assert r.status_code == 200, r.json
    assert r.json == {"created": 0, "updated": 0, "unchanged": 2, "removed": 3}
    assert rule_rows(db_session) == [("E0102", "*", "LH", None), ("E0102", S1, "JD1", None)]


def test_import_bad_rows_write_nothing(client, admin, db_session, rules):
    before = rule_rows(db_session)
    text = ("category_code,grid_code,department_code,note\n"
            f"E0102,{G1},SW,fine\n"             # line 2: good, must not be written either
            f"E0102,{G2},NO-DEPT,\n"            # line 3: bad department
            "E0102,NO-GRID,LH,\n"               # line 4: unknown grid
            f"E0102,{G1},LH,\n"                 # line 5: duplicate of line 2
            f"NOPE,{G1},LH,\n")                 # line 6: unknown category
    r = import_csv(client, admin, text, replace=True)
    assert r.status_code == 422, r.json
    assert r.json["code"] == "invalid_rows"
    assert r.json["message"] == "4 行有误，未写入任何数据"
    got = [(e["line"], e["column"], e["value"]) for e in r.json["details"]]
    assert got == [(3, "department_code", "NO-DEPT"), (4, "grid_code", "NO-GRID"), (5, "grid_code", G1),
                   (6, "category_code", "NOPE")]
    assert "第 2 行" in r.json["details"][2]["message"]  # in the reader's language (zh by default)
    assert all(e["message"] for e in r.json["details"])
    assert rule_rows(db_session) == before


def test_import_missing_columns_and_bad_encoding(client, admin, db_session, rules):
    before = rule_rows(db_session)
    r = import_csv(client, admin, "category,grid\nE0102,*\n")
    assert r.status_code == 422 and "columns" in r.json["fields"]
    assert "department_code" in r.json["fields"]["columns"][0]
    r = import_csv(client, admin, "category_code,grid_code,department_code\nE0102,*,绿化\n".encode("gbk"))
    assert r.status_code == 400 and r.json["code"] == "invalid_file"
    assert rule_rows(db_session) == before


def test_import_needs_admin(client, dispatcher, db_session, rules):
    before = rule_rows(db_session)
    r = import_csv(client, dispatcher, "category_code,grid_code,department_code\nE0102,*,SW\n", replace=True)
    assert r.status_code == 403
    assert rule_rows(db_session) == before
