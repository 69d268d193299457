"""Grid layer over HTTP: GeoJSON import (all or nothing), listing, detail, history, retiring,
the national code rule. Every rejected import must leave the database untouched."""
import json

import pytest
from shapely.geometry import box, mapping, shape
from sqlalchemy import func, select

from grid.models import Grid, GridAssignment, LayerVersion
from tests.api.layer import BOXES, C1, G1, G2, LEVELS, NAMES, PARENTS, S1, S2, D
from tests.factories import AssignmentFactory, DepartmentFactory, StaffFactory

BOWTIE = {"type": "Polygon", "coordinates": [[[121.45, 31.20], [121.46, 31.21], [121.46, 31.20],
                                              [121.45, 31.21], [121.45, 31.20]]]}


def feat(code, level=None, parent=None, geometry=None, name=None, **props):
    properties = {"code": code, "name": name or NAMES.get(code, f"网格{code}"), "level": level,
                  "parent": parent, **props}
    properties = {k: v for k, v in properties.items() if v is not None}
    if geometry is not None and not isinstance(geometry, dict):
        geometry = mapping(geometry)
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def hierarchy():
    return collection(*(feat(c, LEVELS[c], PARENTS[c], BOXES[c]) for c in BOXES))


def import_doc(client, headers, doc, **query):
    query.setdefault("crs", "wgs84")
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    body = doc if isinstance(doc, (str, bytes)) else json.dumps(doc)
    return client.post(f"/api/v1/grids/import?{qs}", data=body, headers=headers,
                       content_type="application/json")


def grid_count(session, current_only=False):
    q = select(func.count(Grid.id))
    if current_only:
        q = q.where(Grid.valid_to.is_(None))
    return session.scalar(q)


def layer_token(session):
    return session.scalar(select(LayerVersion.version).where(LayerVersion.name == "grids"))



@pytest.fixture
def loaded(client, admin):
    r = import_doc(client, admin, hierarchy())
    assert r.status_code == 200, r.json
    return r.json


# --- import, list, detail ----------------------------------------------------------------


def test_import_hierarchy_and_list(client, admin, db_session, loaded):
    assert loaded["created"] == 6 and loaded["redrawn"] == 0 and loaded["skipped"] == 0
    assert grid_count(db_session) == 6
    g1 = db_session.scalar(select(Grid).where(Grid.code == G1))
    assert g1.level == "grid" and g1.parent_code == C1 and g1.name == "第一网格"
    assert g1.geom.equals_exact(BOXES[G1], 1e-9)
    # ~0.01 x 0.02 degrees at 31.2 N: about 952 m x 2218 m
    assert 2.0e6 < g1.area_m2 < 2.3e6

    r = client.get("/api/v1/grids", headers=admin)
    assert r.status_code == 200
    assert r.json["type"] == "FeatureCollection"
    assert [f["id"] for f in r.json["features"]] == sorted(BOXES)
    f = next(f for f in r.json["features"] if f["id"] == G2)
    assert f["type"] == "Feature"
    assert f["properties"]["code"] == G2 and f["properties"]["parent_code"] == C1
    assert f["properties"]["valid_to"] is None
    assert f["properties"]["valid_from"].endswith("+08:00")
    assert shape(f["geometry"]).equals_exact(BOXES[G2], 1e-9)

    def codes(query):
        r = client.get(f"/api/v1/grids?{query}", headers=admin)
        assert r.status_code == 200, r.json
        return [f["id"] for f in r.json["features"]]

    assert codes("level=street") == [S1, S2]
    assert codes(f"parent={C1}") == [G1, G2]
    assert codes("q=二号") == [S2]
    assert codes(f"q={G2}") == [G2]
    assert codes("level=grid&limit=1&offset=1") == [G2]
    r = client.get("/api/v1/grids?geometry=false&level=district", headers=admin)
    assert r.json["features"][0]["geometry"] is None
    r = client.get("/api/v1/grids?level=planet", headers=admin)
    assert r.status_code == 422 and "level" in r.json["fields"]


def test_any_staff_may_read_but_only_admin_imports(client, login, db_session, loaded):
    worker = login("grid_worker")
    db_session.commit()
    assert client.get("/api/v1/grids", headers=worker).status_code == 200
    before = grid_count(db_session)
    r = import_doc(client, worker, collection(feat("X1", "district", None, box(120, 30, 120.1, 30.1))))
    assert r.status_code == 403 and r.json["code"] == "forbidden_role"
    r = client.delete(f"/api/v1/grids/{G1}", headers=worker)
    assert r.status_code == 403
    assert grid_count(db_session) == before
    assert db_session.scalar(select(Grid.valid_to).where(Grid.code == G1)) is None


def test_detail_has_chain_and_workers(client, admin, db_session, loaded):
    r = client.post("/api/v1/staff", headers=admin, json={
        "username": "wangwu", "name": "王五", "password": "long-enough-pw", "roles": ["grid_worker"],
        "phone": "13800000000"})
    assert r.status_code == 201, r.json
    staff_id = r.json["id"]
    r = client.post(f"/api/v1/staff/{staff_id}/assignments", headers=admin, json={"grid_code": G1})
    assert r.status_code == 201, r.json

    r = client.get(f"/api/v1/grids/{G1}", headers=admin)
    assert r.status_code == 200
    props = r.json["properties"]
    assert [(c["code"], c["level"]) for c in props["chain"]] == [
        (D, "district"), (S1, "street"), (C1, "community"), (G1, "grid")]
    assert props["chain"][0]["name"] == "示范区"
    assert props["workers"] == [{"id": staff_id, "name": "王五", "phone": "13800000000"}]
    assert shape(r.json["geometry"]).equals_exact(BOXES[G1], 1e-9)

    # the neighbour has nobody; a worker of another grid does not leak in
    assert client.get(f"/api/v1/grids/{G2}", headers=admin).json["properties"]["workers"] == []
    r = client.get("/api/v1/grids/nope", headers=admin)
    assert r.status_code == 404 and r.json["code"] == "not_found"


def test_reimport_unchanged_is_a_no_op(client, admin, db_session, loaded):
    token = layer_token(db_session)
    r = import_doc(client, admin, hierarchy())
    assert r.status_code == 200
    assert r.json["unchanged"] == 6 and r.json["created"] == 0 and r.json["redrawn"] == 0
    assert grid_count(db_session) == 6
    assert layer_token(db_session) == token  # nothing changed: the index need not rebuild


def test_redraw_keeps_history(client, admin, db_session, loaded):
    old = db_session.scalar(select(Grid).where(Grid.code == G2, Grid.valid_to.is_(None)))
    old_id = old.id
    case_reference = old_id  # a case stores the grid row it was reported in

    moved = box(121.41, 31.20, 121.425, 31.22)
    r = import_doc(client, admin, collection(feat(G2, "grid", C1, moved)))
    assert r.status_code == 200, r.json
    assert r.json["redrawn"] == 1 and r.json["created"] == 0
    assert grid_count(db_session) == 7
    assert grid_count(db_session, current_only=True) == 6

    r = client.get(f"/api/v1/grids/{G2}/history", headers=admin)
    assert r.status_code == 200
    versions = r.json["features"]
    assert len(versions) == 2
    new, previous = versions
    assert new["properties"]["valid_to"] is None
    assert previous["properties"]["id"] == old_id
    assert previous["properties"]["valid_to"] is not None
    assert previous["properties"]["valid_to"] == new["properties"]["valid_from"]
    assert shape(new["geometry"]).equals_exact(moved, 1e-9)
    assert shape(previous["geometry"]).equals_exact(BOXES[G2], 1e-9)

    # the detail shows the current version only
    r = client.get(f"/api/v1/grids/{G2}", headers=admin)
    assert r.json["properties"]["id"] != old_id
    assert shape(r.json["geometry"]).equals_exact(moved, 1e-9)

    # the old row is still there for the case that points at it
    db_session.expire_all()
    row = db_session.get(Grid, case_reference)
    assert row is not None and row.code == G2 and row.valid_to is not None
    assert row.geom.equals_exact(BOXES[G2], 1e-9)
    assert client.get("/api/v1/grids/nope/history", headers=admin).status_code == 404


def test_retire_refuses_parent_then_retires_leaf(client, admin, db_session, loaded):
    r = client.delete(f"/api/v1/grids/{C1}", headers=admin)
    assert r.status_code == 409
    assert r.json["code"] == "in_use"
    assert db_session.scalar(select(Grid.valid_to).where(Grid.code == C1)) is None

    r = client.delete(f"/api/v1/grids/{G1}", headers=admin)
    assert r.status_code == 200, r.json
    assert r.json["code"] == G1 and r.json["valid_to"].endswith("+08:00")
    assert client.get(f"/api/v1/grids/{G1}", headers=admin).status_code == 404
    assert G1 not in [f["id"] for f in client.get("/api/v1/grids", headers=admin).json["features"]]
    # kept in history
    hist = client.get(f"/api/v1/grids/{G1}/history", headers=admin).json["features"]
    assert len(hist) == 1 and hist[0]["properties"]["valid_to"] is not None
    assert client.delete(f"/api/v1/grids/{G1}", headers=admin).status_code == 404


def test_retire_last_child_then_parent(client, admin, db_session, loaded):
    for code in (G1, G2):
        assert client.delete(f"/api/v1/grids/{code}", headers=admin).status_code == 200
    assert client.delete(f"/api/v1/grids/{C1}", headers=admin).status_code == 200


# --- bad files: nothing written ------------------------------------------------------------

GOOD = feat("G-OK", "grid", None, box(121.50, 31.30, 121.51, 31.31))

BAD_FEATURES = {
    "linestring": (feat("G-LINE", "grid", None, {"type": "LineString",
                                                 "coordinates": [[121.5, 31.3], [121.51, 31.31]]}),
                   "not_polygon"),
    "bowtie": (feat("G-BOW", "grid", None, BOWTIE), "self_intersection"),
    "empty": (feat("G-EMPTY", "grid", None, {"type": "Polygon", "coordinates": []}), "empty"),
    "lon200": (feat("G-FAR", "grid", None, box(200.0, 31.0, 200.01, 31.01)), "coordinates_out_of_range"),
    "unknown_parent": (feat("G-ORPHAN", "grid", "NO-SUCH-PARENT", box(121.52, 31.30, 121.53, 31.31)),
                       "unknown_parent"),
    "missing_code": (feat(None, "grid", None, box(121.52, 31.30, 121.53, 31.31)), "missing_code"),
    "no_geometry": (feat("G-NOGEOM", "grid", None, None), "missing_geometry"),
    "unknown_level": (feat("G-LVL", "planet", None, box(121.52, 31.30, 121.53, 31.31)), "unknown_level"),
    "missing_level": (feat("G-NOLVL", None, None, box(121.52, 31.30, 121.53, 31.31)), "unknown_level"),
    "long_name": (feat("G-LONG", "grid", None, box(121.52, 31.30, 121.53, 31.31), name="长" * 201),
                  "name_too_long"),
}


@pytest.mark.parametrize("case", sorted(BAD_FEATURES))
def test_bad_feature_rejects_whole_file(client, admin, db_session, loaded, case):
    bad, reason = BAD_FEATURES[case]
    before, token = grid_count(db_session), layer_token(db_session)
    r = import_doc(client, admin, collection(GOOD, bad))
    assert r.status_code == 422, r.json
    assert r.json["code"] == "invalid_features"
    assert r.json["status"] == 422 and r.json["message"]
    problems = [d for d in r.json["details"] if d["reason"] == reason]
    assert problems, r.json["details"]
    assert problems[0]["index"] == 1
    assert problems[0]["code"] == bad["properties"].get("code")
    assert problems[0]["reason_text"] and problems[0]["detail"]
    assert all(d["index"] == 1 for d in r.json["details"])  # the good feature is not blamed
    assert grid_count(db_session) == before
    assert layer_token(db_session) == token
    assert db_session.scalar(select(Grid.id).where(Grid.code == "G-OK")) is None


def test_duplicate_code_in_file(client, admin, db_session):
    dup = feat("G-OK", "grid", None, box(121.52, 31.30, 121.53, 31.31))
    r = import_doc(client, admin, collection(GOOD, dup))
    assert r.status_code == 422 and r.json["code"] == "invalid_features"
    assert r.json["details"][0]["index"] == 1 and r.json["details"][0]["code"] == "G-OK"
    assert r.json["details"][0]["reason"] == "duplicate_code"
    assert "#0" in r.json["details"][0]["detail"]
    assert grid_count(db_session) == 0


def test_every_problem_reported_in_one_pass(client, admin, db_session):
    doc = collection(GOOD, BAD_FEATURES["bowtie"][0], BAD_FEATURES["lon200"][0],
                     BAD_FEATURES["missing_code"][0])
    r = import_doc(client, admin, doc)
    assert r.status_code == 422
    assert [(d["index"], d["reason"]) for d in r.json["details"]] == [
        (1, "self_intersection"), (2, "coordinates_out_of_range"), (3, "missing_code")]
    assert r.json["message"].startswith("3 ")
    assert grid_count(db_session) == 0


@pytest.mark.parametrize("body, fragment", [
    ("this is not json", None),
    ("", None),
    (json.dumps({"type": "Feature", "properties": {}, "geometry": None}), "FeatureCollection"),
    (json.dumps([1, 2, 3]), "FeatureCollection"),
    (json.dumps({"type": "FeatureCollection"}), "features"),
    (json.dumps({"type": "FeatureCollection", "features": ["nope"]}), "feature #0"),
])
def test_unreadable_file_is_400(client, admin, db_session, body, fragment):
    r = import_doc(client, admin, body)
    assert r.status_code == 400, r.json
    assert r.json["code"] == "invalid_file"
    if fragment:
        assert fragment in r.json["message"]
    assert grid_count(db_session) == 0


def test_import_needs_a_valid_crs(client, admin, db_session):
    r = client.post("/api/v1/grids/import", data=json.dumps(collection(GOOD)), headers=admin,
                    content_type="application/json")
    assert r.status_code == 422 and "crs" in r.json["fields"]
    r = import_doc(client, admin, collection(GOOD), crs="utm50")
    assert r.status_code == 422 and "crs" in r.json["fields"]
    assert grid_count(db_session) == 0


def test_fix_repairs_bowtie_and_reports_it(client, admin, db_session):
    r = import_doc(client, admin, collection(feat("G-BOW", "grid", None, BOWTIE)), fix="true")
    assert r.status_code == 200, r.json
    assert r.json["created"] == 1
    assert len(r.json["fixes"]) == 1
    fix = r.json["fixes"][0]
    assert fix["index"] == 0 and fix["code"] == "G-BOW"
    assert "make_valid" in fix["what"]
    row = db_session.scalar(select(Grid).where(Grid.code == "G-BOW"))
    assert row.geom.is_valid and row.geom.geom_type == "MultiPolygon"
    assert row.area_m2 > 0


def test_skip_invalid_imports_the_good_ones(client, admin, db_session):
    doc = collection(GOOD, BAD_FEATURES["bowtie"][0],
                     feat("G-OK2", "grid", None, box(121.51, 31.30, 121.52, 31.31)),
                     BAD_FEATURES["linestring"][0])
    r = import_doc(client, admin, doc, skip_invalid="true")
    assert r.status_code == 200, r.json
    assert r.json["created"] == 2 and r.json["skipped"] == 2
    assert [(s["index"], s["code"], s["reason"]) for s in r.json["skipped_features"]] == [
        (1, "G-BOW", "self_intersection"), (3, "G-LINE", "not_polygon")]
    assert set(db_session.scalars(select(Grid.code))) == {"G-OK", "G-OK2"}


def test_skip_invalid_also_skips_children_of_a_skipped_parent(client, admin, db_session):
    doc = collection(feat("P", "community", None, BOWTIE),
                     feat("P-1", "grid", "P", box(121.45, 31.20, 121.455, 31.205)))
    r = import_doc(client, admin, doc, skip_invalid="true")
    assert r.status_code == 200
    assert r.json["created"] == 0
    assert [s["reason"] for s in r.json["skipped_features"]] == ["self_intersection", "unknown_parent"]
    assert grid_count(db_session) == 0


def test_skip_invalid_cascades_to_grandchildren(client, admin, db_session):
    """A parent left out for any reason takes its whole subtree with it: nothing may be
    imported under a parent that does not exist."""
    doc = collection(feat("P", None, None, box(121.45, 31.20, 121.46, 31.21)),           # no level
                     feat("P-1", "community", "P", box(121.45, 31.20, 121.455, 31.205)),
                     feat("P-1-1", "grid", "P-1", box(121.45, 31.20, 121.452, 31.202)),
                     feat("Q", "community", None, box(121.47, 31.20, 121.48, 31.21), name="名" * 201),
                     feat("Q-1", "grid", "Q", box(121.47, 31.20, 121.475, 31.205)),
                     GOOD)
    r = import_doc(client, admin, doc, skip_invalid="true")
    assert r.status_code == 200, r.json
    assert [(s["code"], s["reason"]) for s in r.json["skipped_features"]] == [
        ("P", "unknown_level"), ("P-1", "unknown_parent"), ("P-1-1", "unknown_parent"),
        ("Q", "name_too_long"), ("Q-1", "unknown_parent")]
    assert r.json["created"] == 1
    assert list(db_session.scalars(select(Grid.code))) == ["G-OK"]
    # without skip_invalid the same file is refused whole, every problem listed
    r = import_doc(client, admin, doc)
    assert r.status_code == 422 and len(r.json["details"]) == 5


def test_parent_may_be_an_existing_grid(client, admin, db_session, loaded):
    r = import_doc(client, admin, collection(
        feat("31010100100103", "grid", C1, box(121.40, 31.21, 121.41, 31.22))))
    assert r.status_code == 200 and r.json["created"] == 1
    chain = client.get("/api/v1/grids/31010100100103", headers=admin).json["properties"]["chain"]
    assert [c["code"] for c in chain] == [D, S1, C1, "31010100100103"]


def test_default_level_and_parent_and_custom_fields(client, admin, db_session, loaded):
    doc = collection({"type": "Feature", "properties": {"BM": "31010100200101", "MC": "二街一格"},
                      "geometry": mapping(box(121.42, 31.20, 121.43, 31.21))})
    r = import_doc(client, admin, doc, code_field="BM", name_field="MC", level="grid", parent=S2)
    assert r.status_code == 200, r.json
    row = db_session.scalar(select(Grid).where(Grid.code == "31010100200101"))
    assert (row.name, row.level, row.parent_code) == ("二街一格", "grid", S2)


# --- national code rule ----------------------------------------------------------------------


@pytest.fixture
def national(app):
    settings = app.config["WANGGE"]
    before = settings.grid_code_rule
    settings.grid_code_rule = "national"
    try:
        yield settings
    finally:
        settings.grid_code_rule = before


def test_national_rule_accepts_2_and_3_digit_grid_numbers(client, admin, db_session, national):
    doc = collection(*(feat(c, LEVELS[c], PARENTS[c], BOXES[c]) for c in (D, S1, C1)),
                     feat("31010100100101", "grid", C1, box(121.40, 31.20, 121.41, 31.21)),
                     feat("310101001001002", "grid", C1, box(121.41, 31.20, 121.42, 31.21)))
    r = import_doc(client, admin, doc)
    assert r.status_code == 200, r.json
    assert r.json["created"] == 5


@pytest.mark.parametrize("code, level, parent, reason", [
    ("31010100", "street", D, "bad_code_shape"),             # 8 digits, a street needs 9
    ("31010100100A", "community", S1, "bad_code_shape"),     # not all digits
    ("3101010010011", "grid", C1, "bad_code_shape"),         # 1-digit grid number
    ("3101010010010001", "grid", C1, "bad_code_shape"),      # 4-digit grid number
    ("310101002001", "community", S1, "code_not_under_parent"),
    ("31010100200101", "grid", C1, "code_not_under_parent"),
])
def test_national_rule_rejects(client, admin, db_session, national, code, level, parent, reason):
    doc = collection(*(feat(c, LEVELS[c], PARENTS[c], BOXES[c]) for c in (D, S1, C1)),
                     feat(code, level, parent, box(121.40, 31.20, 121.41, 31.21)))
    r = import_doc(client, admin, doc)
    assert r.status_code == 422, r.json
    assert r.json["code"] == "invalid_features"
    assert [(d["index"], d["code"], d["reason"]) for d in r.json["details"]] == [(3, code, reason)]
    assert grid_count(db_session) == 0


def test_free_rule_is_the_default(client, admin, db_session, app):
    assert app.config["WANGGE"].grid_code_rule == "free"
    r = import_doc(client, admin, collection(feat("abc", "district", None, BOXES[D])))
    assert r.status_code == 200
    r = import_doc(client, admin, collection(feat("has space", "district", None, BOXES[S2])))
    assert r.status_code == 422 and r.json["details"][0]["reason"] == "bad_code_shape"


def test_import_messages_in_english(client, admin, db_session):
    r = import_doc(client, admin, collection(feat("G-BOW", "grid", None, BOWTIE)), lang="en")
    assert r.status_code == 422
    assert r.json["message"] == "1 feature(s) are invalid; nothing was written"
    assert r.json["details"][0]["reason_text"] == "self-intersection"
    r = import_doc(client, admin, collection(feat("G-BOW", "grid", None, BOWTIE)))
    assert r.json["message"] == "1 个图斑有误，未写入任何数据"
    assert r.json["details"][0]["reason_text"] == "自相交"


def test_assignment_survives_redraw(client, admin, db_session, loaded):
    r = client.post("/api/v1/staff", headers=admin, json={
        "username": "zhaoliu", "name": "赵六", "password": "long-enough-pw", "roles": ["grid_worker"]})
    staff_id = r.json["id"]
    assert client.post(f"/api/v1/staff/{staff_id}/assignments", headers=admin,
                       json={"grid_code": G2}).status_code == 201
    r = import_doc(client, admin, collection(feat(G2, "grid", C1, box(121.41, 31.20, 121.42, 31.215))))
    assert r.json["redrawn"] == 1
    workers = client.get(f"/api/v1/grids/{G2}", headers=admin).json["properties"]["workers"]
    assert [w["id"] for w in workers] == [staff_id]
    assert db_session.scalar(select(func.count(GridAssignment.id))) == 1


def test_retire_refuses_while_matrix_rules_name_the_grid_and_ends_assignments(client, admin, db_session,
                                                                             loaded):
    dept = DepartmentFactory(code="RET")
    AssignmentFactory(staff=StaffFactory(roles=["grid_worker"]), grid_code=G1)
    r = client.post("/api/v1/matrix", json={"category_code": "E0102", "grid_code": G1,
                                            "department_code": dept.code}, headers=admin)
    assert r.status_code == 200, r.json
    r = client.delete(f"/api/v1/grids/{G1}", headers=admin)
    assert r.status_code == 409 and r.json["code"] == "in_use" and "E0102" in r.json["message"]
    assert db_session.scalar(select(Grid.valid_to).where(Grid.code == G1)) is None

    client.delete(f"/api/v1/matrix/{r_id(client, admin, G1)}", headers=admin)
    assert client.delete(f"/api/v1/grids/{G1}", headers=admin).status_code == 200
    assignment = db_session.scalar(select(GridAssignment).where(GridAssignment.grid_code == G1))
    db_session.refresh(assignment)
    assert assignment.valid_to is not None


def r_id(client, headers, grid_code):
    rules = client.get(f"/api/v1/matrix?grid={grid_code}", headers=headers).json
    return rules[0]["id"]


def test_empty_feature_collection_is_refused(client, admin, db_session):
    before = grid_count(db_session)
    r = import_doc(client, admin, collection())
    assert r.status_code == 422 and r.json["code"] == "validation_error" and "features" in r.json["fields"]
    assert grid_count(db_session) == before
