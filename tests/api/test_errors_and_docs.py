"""One error format everywhere, in the user's language; the OpenAPI document and the
Swagger UI page (served offline from the installed package)."""
import re

import pytest
from sqlalchemy import func, select

from grid.models import CalendarDay, Department, Staff


def assert_error(r, status, code):
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == "application/json"
    body = r.json
    assert body["status"] == status and body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"status", "code", "message", "fields", "details"}
    return body


def is_chinese(text):
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def test_every_kind_of_error_has_the_same_shape(client, admin, login, db_session):
    worker = login("grid_worker")
    db_session.commit()
    assert_error(client.get("/api/v1/grids"), 401, "unauthorized")
    assert_error(client.get("/api/v1/grids", headers={"Authorization": "Bearer nope"}), 401, "unauthorized")
    assert_error(client.post("/api/v1/departments", headers=worker,
                             json={"code": "X", "name": "X", "kind": "functional"}), 403, "forbidden_role")
    assert_error(client.get("/api/v1/departments/NOPE", headers=admin), 404, "not_found")
    assert_error(client.get("/api/v1/geo/locate?lon=0&lat=0", headers=admin), 404, "point_outside")
    assert_error(client.get("/api/v1/no/such/route"), 404, "route_not_found")
    assert_error(client.get("/nowhere", headers=admin), 404, "route_not_found")
    assert_error(client.delete("/api/v1/grids", headers=admin), 405, "method_not_allowed")
    assert_error(client.post("/api/v1/departments", headers=admin, data="{oops",
                             content_type="application/json"), 400, "bad_request")
    body = assert_error(client.get("/api/v1/geo/locate?lat=95", headers=admin), 422, "validation_error")
    assert set(body["fields"]) == {"lon", "lat"}
    client.post("/api/v1/departments", headers=admin, json={"code": "LH", "name": "绿化", "kind": "functional"})
    assert_error(client.post("/api/v1/departments", headers=admin,
                             json={"code": "LH", "name": "绿化", "kind": "functional"}), 409, "already_exists")
    body = assert_error(client.post("/api/v1/grids/import?crs=wgs84", headers=admin, data="[]",
                                    content_type="application/json"), 400, "invalid_file")
    assert "details" not in body


def test_chinese_by_default_english_on_request(client, admin):
    url = "/api/v1/departments/NOPE"
    zh = client.get(url, headers=admin).json["message"]
    assert zh == "找不到部门：NOPE"
    assert client.get(url + "?lang=en", headers=admin).json["message"] == "No department found: NOPE"
    # an unsupported ?lang falls back
    assert client.get(url + "?lang=fr", headers=admin).json["message"] == zh


def test_accept_language(client):
    # Before sign-in (and on public endpoints) the header decides.
    r = client.get("/api/v1/departments/NOPE", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.json["message"] == "Sign in first (missing or invalid access token)"
    r = client.get("/api/v1/departments/NOPE", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert r.json["message"] == "请先登录（缺少或无效的访问令牌）"
    r = client.post("/api/v1/auth/login", json={}, headers={"Accept-Language": "en"})
    assert r.json["message"] == "Invalid input: username、password"
    # ?lang wins over the header
    r = client.get("/api/v1/nope?lang=zh", headers={"Accept-Language": "en"})
    assert r.json["message"] == "没有这个接口"


def test_signed_in_staff_preference_wins_over_accept_language(client, login, db_session):
    """Documented order: ?lang, then the staff member's stored language, then the header.
    (Staff.language defaults to zh, so for signed-in staff the header never decides.)"""
    zh_staff = login("admin")
    db_session.commit()
    r = client.get("/api/v1/departments/NOPE", headers={**zh_staff, "Accept-Language": "en"})
    assert r.json["message"] == "找不到部门：NOPE"
    r = client.get("/api/v1/departments/NOPE?lang=en", headers={**zh_staff, "Accept-Language": "zh"})
    assert r.json["message"] == "No department found: NOPE"


def test_languages_for_errors_before_sign_in(client):
    assert is_chinese(client.get("/api/v1/grids").json["message"])
    r = client.get("/api/v1/grids", headers={"Accept-Language": "en"})
    assert r.json["message"] == "Sign in first (missing or invalid access token)"
    assert client.get("/api/v1/nope?lang=en").json["message"] == "No such endpoint"
    assert client.get("/api/v1/nope").json["message"] == "没有这个接口"


def test_forbidden_names_the_roles_in_the_users_language(client, login, db_session):
    worker = login("grid_worker")
    db_session.commit()
    r = client.put("/api/v1/calendar/days/2026-10-12", headers=worker, json={"is_workday": False})
    assert r.json["message"] == "该操作需要以下角色之一：系统管理员"
    r = client.put("/api/v1/calendar/days/2026-10-12?lang=en", headers=worker, json={"is_workday": False})
    assert r.json["message"] == "This needs one of these roles: Administrator"
    r = client.get("/api/v1/matrix/explain?category=E0102&grid=x&lang=en", headers=worker)
    assert r.status_code == 403
    assert "Dispatcher" in r.json["message"] and "Administrator" in r.json["message"]


def test_staff_language_preference(client, login, db_session):
    english = login("grid_worker", language="en")
    db_session.commit()
    r = client.get("/api/v1/departments/NOPE", headers=english)
    assert r.json["message"] == "No department found: NOPE"
    # ?lang still wins over the preference
    assert client.get("/api/v1/departments/NOPE?lang=zh", headers=english).json["message"] == "找不到部门：NOPE"


def test_validation_messages_translated(client, admin):
    r = client.post("/api/v1/departments", headers=admin, json={"name": "X", "kind": "functional"})
    assert r.json["message"] == "提交的内容有误：code"
    assert r.json["fields"] == {"code": ["必填"]}
    r = client.post("/api/v1/departments?lang=en", headers=admin, json={"name": "X", "kind": "functional"})
    assert r.json["message"] == "Invalid input: code"
    assert r.json["fields"] == {"code": ["Missing data for required field."]}


def test_overlong_values_are_422_not_500(client, admin, db_session):
    counts = lambda: (db_session.scalar(select(func.count(Department.id))),  # noqa: E731
                      db_session.scalar(select(func.count(Staff.id))),
                      db_session.scalar(select(func.count()).select_from(CalendarDay)))
    before = counts()
    r = client.post("/api/v1/departments", headers=admin,
                    json={"code": "LH", "name": "绿化", "kind": "functional", "phone": "1" * 40})
    assert_error(r, 422, "validation_error")
    assert "phone" in r.json["fields"]
    r = client.post("/api/v1/staff", headers=admin,
                    json={"username": "u1", "name": "U", "password": "long-enough-pw", "phone": "1" * 40})
    assert_error(r, 422, "validation_error")
    r = client.put("/api/v1/calendar/days/2026-10-12", headers=admin, json={"is_workday": False, "name": "x" * 101})
    assert_error(r, 422, "validation_error")
    r = client.post("/api/v1/calendar/schedule", headers=admin, content_type="text/csv",
                    data=("date,kind,name\n2027-01-05,holiday," + "x" * 150 + "\n").encode())
    assert_error(r, 422, "validation_error")
    assert counts() == before


def test_unexpected_error_is_json_and_leaves_the_session_usable(app, client, admin, db_session, monkeypatch):
    from grid.matrix import service as matrix

    def boom(*args, **kwargs):
        db_session.add(Department(code="X" * 40, name="too long", kind="functional"))
        db_session.flush()  # fails in the database: value too long for varchar(32)

    monkeypatch.setattr(matrix, "export_csv", boom)
    r = client.get("/api/v1/matrix/export", headers=admin)
    body = assert_error(r, 500, "internal_error")
    assert body["message"] == "服务器内部错误"
    # the next request works
    assert client.get("/api/v1/departments", headers=admin).status_code == 200


# --- OpenAPI and docs -----------------------------------------------------------------------

EXPECTED_PATHS = {
    "/api/v1/auth/login", "/api/v1/auth/me", "/api/v1/grids", "/api/v1/grids/import", "/api/v1/grids/{code}",
    "/api/v1/grids/{code}/history", "/api/v1/geo/locate", "/api/v1/departments", "/api/v1/departments/{code}",
    "/api/v1/staff", "/api/v1/staff/{staff_id}", "/api/v1/staff/{staff_id}/assignments",
    "/api/v1/categories", "/api/v1/categories/{code}/limits", "/api/v1/categories/{code}/limits/{stage}",
    "/api/v1/matrix", "/api/v1/matrix/explain", "/api/v1/matrix/export", "/api/v1/matrix/import",
    "/api/v1/calendar", "/api/v1/calendar/days/{day}", "/api/v1/calendar/schedule", "/api/v1/calendar/deadline",
}
METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def _resolve(doc, ref):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        assert part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def _walk_refs(doc, node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                _resolve(doc, value)
            else:
                _walk_refs(doc, value)
    elif isinstance(node, list):
        for item in node:
            _walk_refs(doc, item)


def test_openapi_document(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.json
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] and doc["info"]["version"] == "v1"
    assert EXPECTED_PATHS <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/api/v1/auth/login"]["post"]["security"] == []  # signing in needs no token

    # structurally valid: every operation has responses, every path parameter is declared,
    # operation ids are unique, every $ref resolves
    op_ids = []
    for path, item in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, op in item.items():
            if method == "parameters":
                continue
            assert method in METHODS, (path, method)
            assert op["responses"], (path, method)
            params = item.get("parameters", []) + op.get("parameters", [])
            declared = {p["name"] for p in params if p.get("in") == "path"}
            assert names == declared, (path, method, declared)
            assert all(p.get("required") for p in params if p.get("in") == "path")
            if "operationId" in op:
                op_ids.append(op["operationId"])
    assert len(op_ids) == len(set(op_ids))
    _walk_refs(doc, doc)

    locate = doc["paths"]["/api/v1/geo/locate"]["get"]
    params = {p["name"]: p for p in locate["parameters"]}
    assert params["lat"]["schema"]["maximum"] == 90 and params["lon"]["required"] is True

    # the documented error body is the one the API sends
    error = doc["components"]["schemas"]["Error"]
    assert error["properties"]["status"]["type"] == "integer"
    assert error["properties"]["code"]["type"] == "string"
    assert {"message", "fields", "details"} <= set(error["properties"])


def test_openapi_document_validates_when_a_validator_is_installed(client):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(client.get("/api/openapi.json").json)


def test_swagger_ui_served_from_local_assets(client):
    r = client.get("/api/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "/api/openapi.json" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/api/docs/assets/") for a in assets), assets
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"swagger-ui.css", "swagger-ui-bundle.js"}
    for asset in assets:
        a = client.get(asset)
        assert a.status_code == 200, asset
        assert len(a.get_data()) > 1000
    assert client.get("/api/docs/assets/no-such-file.js").status_code == 404
    assert client.get("/api/docs/assets/../../wangge/config.py").status_code == 404


def test_json_is_sent_as_utf8_not_escapes(client, admin):
    r = client.get("/api/v1/departments/NOPE", headers=admin)
    assert "找不到部门".encode() in r.get_data() and b"\\u" not in r.get_data()
    assert r.mimetype == "application/json"
