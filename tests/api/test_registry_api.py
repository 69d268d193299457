"""Departments, staff and grid assignments, categories and their time limits over HTTP.
Every refused write must leave the database as it was."""
import pytest
from shapely.geometry import box
from sqlalchemy import func, select

from grid.models import Category, Department, GridAssignment, Staff, StaffRole, TimeLimit
from tests.factories import GridFactory


@pytest.fixture
def as_role(login, db_session):
    def _as(*roles, **fields):
        headers = login(*roles, **fields)
        db_session.commit()
        return headers

    return _as


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def snapshot(session, model, *columns):
    session.expire_all()
    return sorted(tuple(row) for row in session.execute(select(*columns)).all())


# --- departments ------------------------------------------------------------------------------


def test_department_create_list_get_patch(client, admin, as_role, db_session):
    r = client.post("/api/v1/departments", headers=admin, json={
        "code": "LH", "name": "区绿化和市容管理局", "kind": "functional", "phone": "021-1234"})
    assert r.status_code == 201, r.json
    assert r.json["code"] == "LH" and r.json["active"] is True and isinstance(r.json["id"], int)
    client.post("/api/v1/departments", headers=admin,
                json={"code": "ZF", "name": "综合执法大队", "kind": "enforcement_team"})

    reader = as_role("grid_worker")
    r = client.get("/api/v1/departments", headers=reader)
    assert r.status_code == 200
    assert [d["code"] for d in r.json] == ["LH", "ZF"]
    r = client.get("/api/v1/departments/ZF", headers=reader)
    assert r.json["kind"] == "enforcement_team"

    r = client.patch("/api/v1/departments/LH", headers=admin, json={"name": "区绿容局"})
    assert r.status_code == 200, r.json
    assert r.json["name"] == "区绿容局"
    assert r.json["kind"] == "functional" and r.json["phone"] == "021-1234"  # untouched
    assert r.json["active"] is True

    r = client.patch("/api/v1/departments/LH", headers=admin, json={"active": False, "code": "IGNORED"})
    assert r.status_code == 200 and r.json["active"] is False and r.json["code"] == "LH"
    db_session.expire_all()
    dept = db_session.scalar(select(Department).where(Department.code == "LH"))
    assert (dept.name, dept.active) == ("区绿容局", False)


def test_department_refusals_change_nothing(client, admin, as_role, db_session):
    client.post("/api/v1/departments", headers=admin, json={"code": "LH", "name": "绿化", "kind": "functional"})
    before = snapshot(db_session, Department, Department.code, Department.name, Department.kind,
                      Department.active)

    r = client.post("/api/v1/departments", headers=admin, json={"code": "LH", "name": "另一个", "kind": "functional"})
    assert r.status_code == 409 and r.json["code"] == "already_exists"
    assert r.json["message"] == "部门已存在：LH"
    r = client.post("/api/v1/departments?lang=en", headers=admin,
                    json={"code": "LH", "name": "另一个", "kind": "functional"})
    assert r.json["message"] == "department already exists: LH"

    r = client.post("/api/v1/departments", headers=admin, json={"code": "X", "name": "X", "kind": "ministry"})
    assert r.status_code == 422 and set(r.json["fields"]) == {"kind"}
    r = client.post("/api/v1/departments", headers=admin, json={"name": "X"})
    assert r.status_code == 422 and set(r.json["fields"]) == {"code", "kind"}
    r = client.patch("/api/v1/departments/LH", headers=admin, json={"kind": "ministry"})
    assert r.status_code == 422 and "kind" in r.json["fields"]

    r = client.patch("/api/v1/departments/NOPE", headers=admin, json={"name": "x"})
    assert r.status_code == 404 and r.json["code"] == "not_found"
    assert client.get("/api/v1/departments/NOPE", headers=admin).status_code == 404

    handler = as_role("department_handler", "leader")
    r = client.post("/api/v1/departments", headers=handler, json={"code": "Y", "name": "Y", "kind": "functional"})
    assert r.status_code == 403 and r.json["code"] == "forbidden_role"
    r = client.patch("/api/v1/departments/LH", headers=handler, json={"name": "hacked"})
    assert r.status_code == 403

    assert snapshot(db_session, Department, Department.code, Department.name, Department.kind,
                    Department.active) == before


# --- staff ------------------------------------------------------------------------------------


def new_staff(client, admin, **overrides):
    body = {"username": "zhangsan", "name": "张三", "password": "long-enough-pw", "roles": ["grid_worker"]}
    body.update(overrides)
    return client.post("/api/v1/staff", headers=admin, json=body)


def test_staff_create_list_patch(client, admin, db_session):
    client.post("/api/v1/departments", headers=admin, json={"code": "LH", "name": "绿化", "kind": "functional"})
    r = new_staff(client, admin, roles=["department_handler", "grid_worker"], department_code="LH",
                  phone="139")
    assert r.status_code == 201, r.json
    assert "password" not in r.json and "password_hash" not in r.json
    assert r.json["roles"] == ["department_handler", "grid_worker"]
    assert r.json["department"]["code"] == "LH"
    staff_id = r.json["id"]

    # the new account can sign in
    r = client.post("/api/v1/auth/login", json={"username": "zhangsan", "password": "long-enough-pw"})
    assert r.status_code == 200

    r = client.get("/api/v1/staff", headers=admin)
    assert r.status_code == 200 and "zhangsan" in [s["username"] for s in r.json]

    r = client.patch(f"/api/v1/staff/{staff_id}", headers=admin,
                     json={"roles": ["dispatcher"], "name": "张叁", "department_code": None})
    assert r.status_code == 200, r.json
    assert r.json["roles"] == ["dispatcher"] and r.json["name"] == "张叁" and r.json["department"] is None
    db_session.expire_all()
    assert sorted(db_session.scalars(select(StaffRole.role).where(StaffRole.staff_id == staff_id))) == [
        "dispatcher"]

    r = client.get(f"/api/v1/staff/{staff_id}", headers=admin)
    assert r.json["assignments"] == []


def test_staff_refusals_change_nothing(client, admin, as_role, db_session):
    assert new_staff(client, admin).status_code == 201
    leader = as_role("leader")
    before = snapshot(db_session, Staff, Staff.username, Staff.name, Staff.active)
    roles_before = count(db_session, StaffRole)

    r = new_staff(client, admin, name="另一个张三")
    assert r.status_code == 409 and r.json["code"] == "already_exists"
    assert "zhangsan" in r.json["message"]

    r = new_staff(client, admin, username="lisi", roles=["grid_worker", "superuser"])
    assert r.status_code == 422 and "roles" in r.json["fields"]
    assert "roles" in r.json["message"]

    r = new_staff(client, admin, username="lisi", password="short")
    assert r.status_code == 422 and set(r.json["fields"]) == {"password"}
    r = new_staff(client, admin, username="lisi", password="1234567")  # 7 characters
    assert r.status_code == 422 and "password" in r.json["fields"]
    r = new_staff(client, admin, username="li si")
    assert r.status_code == 422 and "username" in r.json["fields"]
    r = new_staff(client, admin, username="lisi", department_code="NOPE")
    assert r.status_code == 404 and r.json["code"] == "not_found"

    r = new_staff(client, leader, username="lisi")
    assert r.status_code == 403 and r.json["code"] == "forbidden_role"

    staff_id = db_session.scalar(select(Staff.id).where(Staff.username == "zhangsan"))
    r = client.patch(f"/api/v1/staff/{staff_id}", headers=admin, json={"roles": ["king"]})
    assert r.status_code == 422 and "roles" in r.json["fields"]
    r = client.patch(f"/api/v1/staff/{staff_id}", headers=admin, json={"password": "short"})
    assert r.status_code == 422 and "password" in r.json["fields"]
    r = client.patch(f"/api/v1/staff/{staff_id}", headers=admin, json={"department_code": "NOPE"})
    assert r.status_code == 404
    r = client.patch("/api/v1/staff/999999", headers=admin, json={"name": "x"})
    assert r.status_code == 404
    assert client.get("/api/v1/staff/999999", headers=admin).status_code == 404

    assert snapshot(db_session, Staff, Staff.username, Staff.name, Staff.active) == before
    assert count(db_session, StaffRole) == roles_before
    # the refused role change kept the old roles
    assert list(db_session.scalars(select(StaffRole.role).where(StaffRole.staff_id == staff_id))) == [
        "grid_worker"]


def test_password_change_revokes_tokens(client, admin, db_session):
    staff_id = new_staff(client, admin).json["id"]
    token = client.post("/api/v1/auth/login",
                        json={"username": "zhangsan", "password": "long-enough-pw"}).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    r = client.patch(f"/api/v1/staff/{staff_id}", headers=admin, json={"password": "another-long-pw"})
    assert r.status_code == 200
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert client.post("/api/v1/auth/login",
                       json={"username": "zhangsan", "password": "another-long-pw"}).status_code == 200


# --- assignments ------------------------------------------------------------------------------


def test_assignment_lifecycle_keeps_history(client, admin, db_session):
    GridFactory(code="G1", geom=box(121.40, 31.20, 121.41, 31.21))
    db_session.commit()
    staff_id = new_staff(client, admin).json["id"]

    r = client.post(f"/api/v1/staff/{staff_id}/assignments", headers=admin, json={"grid_code": "G1"})
    assert r.status_code == 201, r.json
    assignment_id = r.json["id"]
    assert r.json["valid_to"] is None and r.json["valid_from"].endswith("+08:00")
    workers = client.get("/api/v1/grids/G1", headers=admin).json["properties"]["workers"]
    assert [w["id"] for w in workers] == [staff_id]

    r = client.delete(f"/api/v1/staff/{staff_id}/assignments/{assignment_id}", headers=admin)
    assert r.status_code == 200, r.json
    assert r.json["valid_to"] is not None
    assert client.get("/api/v1/grids/G1", headers=admin).json["properties"]["workers"] == []

    r = client.get(f"/api/v1/staff/{staff_id}", headers=admin)
    assert [(a["id"], a["grid_code"]) for a in r.json["assignments"]] == [(assignment_id, "G1")]
    assert r.json["assignments"][0]["valid_to"] is not None
    assert db_session.scalar(select(func.count(GridAssignment.id))) == 1  # kept, not deleted


def test_assignment_refusals_change_nothing(client, admin, db_session):
    GridFactory(code="G1", geom=box(121.40, 31.20, 121.41, 31.21))
    db_session.commit()
    staff_id = new_staff(client, admin).json["id"]
    other_id = new_staff(client, admin, username="other").json["id"]
    ok = client.post(f"/api/v1/staff/{staff_id}/assignments", headers=admin, json={"grid_code": "G1"}).json

    r = client.post(f"/api/v1/staff/{staff_id}/assignments", headers=admin, json={"grid_code": "NO-GRID"})
    assert r.status_code == 404 and r.json["code"] == "not_found"
    r = client.post("/api/v1/staff/999999/assignments", headers=admin, json={"grid_code": "G1"})
    assert r.status_code == 404
    r = client.post(f"/api/v1/staff/{staff_id}/assignments", headers=admin, json={})
    assert r.status_code == 422 and "grid_code" in r.json["fields"]
    r = client.post(f"/api/v1/staff/{staff_id}/assignments", headers=admin, json={
        "grid_code": "G1", "valid_from": "2026-01-02T08:00:00+08:00", "valid_to": "2026-01-01T08:00:00+08:00"})
    assert r.status_code == 422 and "valid_to" in r.json["fields"]
    r = client.post(f"/api/v1/staff/{staff_id}/assignments", headers=admin, json={
        "grid_code": "G1", "valid_from": "2026-01-02T08:00:00"})
    assert r.status_code == 422 and "valid_from" in r.json["fields"]
    # someone else's assignment id
    r = client.delete(f"/api/v1/staff/{other_id}/assignments/{ok['id']}", headers=admin)
    assert r.status_code == 404

    rows = db_session.execute(select(GridAssignment.id, GridAssignment.valid_to)).all()
    assert rows == [(ok["id"], None)]


# --- categories -------------------------------------------------------------------------------


def test_category_create_list_patch(client, admin, as_role, db_session):
    reader = as_role("grid_worker")
    r = client.get("/api/v1/categories", headers=reader)
    assert r.status_code == 200
    codes = [c["code"] for c in r.json]
    assert {"C01", "E01", "E0102"} <= set(codes)
    assert client.get("/api/v1/categories/E0102", headers=reader).json["parent_code"] == "E01"

    r = client.post("/api/v1/categories", headers=admin, json={
        "code": "E0199", "kind": "event", "parent_code": "E01", "name_zh": "乱拉横幅", "name_en": "Banners"})
    assert r.status_code == 201, r.json
    assert r.json["auto_dispatch"] is False and r.json["active"] is True

    r = client.patch("/api/v1/categories/E0199", headers=admin, json={"auto_dispatch": True})
    assert r.status_code == 200, r.json
    assert r.json["auto_dispatch"] is True and r.json["name_zh"] == "乱拉横幅" and r.json["active"] is True
    r = client.patch("/api/v1/categories/E0199", headers=admin, json={"name_zh": "乱挂横幅", "active": False})
    assert r.status_code == 200 and r.json["active"] is False and r.json["auto_dispatch"] is True
    db_session.expire_all()
    cat = db_session.get(Category, "E0199")
    assert (cat.name_zh, cat.auto_dispatch, cat.active, cat.parent_code) == ("乱挂横幅", True, False, "E01")


def test_category_refusals_change_nothing(client, admin, as_role, db_session):
    before = snapshot(db_session, Category, Category.code, Category.parent_code, Category.name_zh,
                      Category.active)
    r = client.post("/api/v1/categories", headers=admin, json={
        "code": "E0102", "kind": "event", "parent_code": "E01", "name_zh": "重复"})
    assert r.status_code == 409 and r.json["code"] == "already_exists"
    r = client.post("/api/v1/categories?lang=en", headers=admin, json={
        "code": "E0102", "kind": "event", "parent_code": "E01", "name_zh": "重复"})
    assert r.json["message"] == "category already exists: E0102"
    # a third level, a parent of the other kind, an unknown parent, an unknown kind
    for body, status in [
        ({"code": "E010201", "kind": "event", "parent_code": "E0102", "name_zh": "三级"}, 422),
        ({"code": "X01", "kind": "component", "parent_code": "E01", "name_zh": "错类"}, 422),
        ({"code": "X02", "kind": "event", "parent_code": "NOPE", "name_zh": "无父"}, 404),
        ({"code": "X03", "kind": "thing", "name_zh": "无类"}, 422),
        ({"code": "bad code", "kind": "event", "name_zh": "空格"}, 422),
    ]:
        r = client.post("/api/v1/categories", headers=admin, json=body)
        assert r.status_code == status, (body, r.json)
    r = client.patch("/api/v1/categories/E0102", headers=admin, json={"parent_code": "C01"})
    assert r.status_code == 422 and "parent_code" in r.json["fields"]
    r = client.patch("/api/v1/categories/NOPE", headers=admin, json={"name_zh": "x"})
    assert r.status_code == 404
    r = client.patch("/api/v1/categories/E0102", headers=as_role("dispatcher"), json={"name_zh": "x"})
    assert r.status_code == 403
    assert snapshot(db_session, Category, Category.code, Category.parent_code, Category.name_zh,
                    Category.active) == before


# --- time limits ------------------------------------------------------------------------------


def limits_of(client, headers, code):
    r = client.get(f"/api/v1/categories/{code}/limits", headers=headers)
    assert r.status_code == 200, r.json
    return {row["stage"]: row for row in r.json}


def test_limits_inherit_own_big_class_default(client, admin, as_role, db_session):
    reader = as_role("department_handler")
    e0102 = limits_of(client, reader, "E0102")
    assert len(e0102) == 12
    # own limit from the shipped catalog: exposed garbage, 4 working hours
    assert e0102["handle"] == {"stage": "handle", "amount": 4.0, "unit": "work_hours", "from": "E0102"}
    assert e0102["verify"]["from"] == "*" and e0102["verify"]["unit"] == "work_hours"

    # a big-class limit reaches the small classes that have none of their own
    r = client.put("/api/v1/categories/E01/limits", headers=admin,
                   json={"stage": "handle", "amount": 1, "unit": "work_days"})
    assert r.status_code == 200, r.json
    assert r.json == {"category_code": "E01", "stage": "handle", "amount": 1.0, "unit": "work_days"}
    assert limits_of(client, reader, "E0101")["handle"]["from"] == "E01"
    assert limits_of(client, reader, "E0102")["handle"]["from"] == "E0102"  # own still wins
    assert limits_of(client, reader, "E0201")["handle"]["from"] == "*"  # other big class

    # own limit, then revert to inherited
    r = client.put("/api/v1/categories/E0101/limits", headers=admin,
                   json={"stage": "handle", "amount": 2.5, "unit": "urgent_hours"})
    assert r.status_code == 200
    assert limits_of(client, reader, "E0101")["handle"] == {
        "stage": "handle", "amount": 2.5, "unit": "urgent_hours", "from": "E0101"}
    r = client.put("/api/v1/categories/E0101/limits", headers=admin,
                   json={"stage": "handle", "amount": 3, "unit": "calendar_days"})
    assert r.status_code == 200
    assert db_session.scalar(select(func.count(TimeLimit.id)).where(TimeLimit.category_code == "E0101")) == 1

    r = client.delete("/api/v1/categories/E0101/limits/handle", headers=admin)
    assert r.status_code == 200
    assert limits_of(client, reader, "E0101")["handle"] == {
        "stage": "handle", "amount": 1.0, "unit": "work_days", "from": "E01"}
    r = client.delete("/api/v1/categories/E0101/limits/handle", headers=admin)
    assert r.status_code == 404 and r.json["code"] == "not_found"


@pytest.mark.parametrize("body, field", [
    ({"stage": "handle", "amount": 0, "unit": "work_days"}, "amount"),
    ({"stage": "handle", "amount": -1, "unit": "work_days"}, "amount"),
    ({"stage": "handle", "amount": "soon", "unit": "work_days"}, "amount"),
    ({"stage": "handle", "amount": 1, "unit": "fortnights"}, "unit"),
    ({"stage": "lunch", "amount": 1, "unit": "work_days"}, "stage"),
    ({"stage": "handle", "amount": 1}, "unit"),
])
def test_bad_limit_is_422_and_changes_nothing(client, admin, db_session, body, field):
    before = snapshot(db_session, TimeLimit, TimeLimit.category_code, TimeLimit.stage, TimeLimit.amount,
                      TimeLimit.unit)
    r = client.put("/api/v1/categories/E0102/limits", headers=admin, json=body)
    assert r.status_code == 422, r.json
    assert field in r.json["fields"]
    assert snapshot(db_session, TimeLimit, TimeLimit.category_code, TimeLimit.stage, TimeLimit.amount,
                    TimeLimit.unit) == before


def test_limit_writes_need_admin_and_a_known_category(client, admin, as_role, db_session):
    before = count(db_session, TimeLimit)
    body = {"stage": "handle", "amount": 1, "unit": "work_days"}
    r = client.put("/api/v1/categories/E0101/limits", headers=as_role("dispatcher"), json=body)
    assert r.status_code == 403 and r.json["code"] == "forbidden_role"
    r = client.delete("/api/v1/categories/E0102/limits/handle", headers=as_role("leader"))
    assert r.status_code == 403
    r = client.put("/api/v1/categories/NOPE/limits", headers=admin, json=body)
    assert r.status_code == 404
    assert client.get("/api/v1/categories/NOPE/limits", headers=admin).status_code == 404
    assert count(db_session, TimeLimit) == before
