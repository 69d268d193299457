"""Bad input is a 4xx naming what was wrong, never a 500: ids beyond the database's integer
range, NUL bytes and lone surrogates anywhere, absurdly nested JSON, dates in year 1 or 9999,
time amounts without an upper bound."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from grid.models import Staff, TimeLimit
from wangge.input_guard import MAX_JSON_DEPTH

HUGE = 2**40


# --- ids beyond the integer range -----------------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("get", f"/api/v1/staff/{HUGE}"),
    ("delete", f"/api/v1/staff/1/assignments/{HUGE}"),
    ("delete", f"/api/v1/staff/{HUGE}/assignments/1"),
    ("get", f"/api/v1/enforcement/groups/{HUGE}"),
    ("get", f"/api/v1/attachments/{HUGE}"),
    ("delete", f"/api/v1/matrix/{HUGE}"),
])
def test_an_id_beyond_the_integer_range_in_a_path_is_no_such_route(client, admin, method, path):
    r = getattr(client, method)(path, headers=admin)
    assert r.status_code == 404, r.json
    assert r.json["code"] == "route_not_found"


def test_patching_a_huge_staff_id_is_a_404(client, admin):
    r = client.patch(f"/api/v1/staff/{HUGE}", headers=admin, json={"active": False})
    assert r.status_code == 404
    assert r.json["code"] == "route_not_found"


def test_the_largest_database_id_is_still_routed(client, admin):
    r = client.get(f"/api/v1/staff/{2**31 - 1}", headers=admin)
    assert r.status_code == 404
    assert r.json["code"] == "not_found"


def test_the_bound_is_in_the_openapi_document(client):
    doc = client.get("/api/openapi.json").json
    params = doc["paths"]["/api/v1/staff/{staff_id}"]["parameters"]
    schema = next(p["schema"] for p in params if p["name"] == "staff_id")
    assert schema["type"] == "integer" and schema["maximum"] == 2**31 - 1


def test_ids_and_offsets_beyond_range_in_bodies_and_queries(client, admin, login):
    leader = login("leader", "dispatcher")
    r = client.get(f"/api/v1/enforcement?group={HUGE}", headers=leader)
    assert r.status_code == 422 and "group" in r.json["fields"]
    r = client.get(f"/api/v1/cases?offset={HUGE}", headers=leader)
    assert r.status_code == 422 and "offset" in r.json["fields"]
    r = client.get(f"/api/v1/grids?offset={HUGE}", headers=admin)
    assert r.status_code == 422 and "offset" in r.json["fields"]
    r = client.post("/api/v1/cases", headers=leader, json={"description": "路灯不亮", "attachments": [HUGE]})
    assert r.status_code == 422 and "attachments" in r.json["fields"]
    r = client.post("/api/v1/categories", headers=admin, json={
        "code": "X1", "kind": "event", "name_zh": "测试", "sort": HUGE})
    assert r.status_code == 422 and "sort" in r.json["fields"]


# --- NUL bytes and lone surrogates ----------------------------------------------------

def test_nul_in_a_json_body_is_refused_naming_the_field(client, admin, db_session):
    r = client.post("/api/v1/staff", headers=admin, json={
        "username": "nul_user", "name": "张\u0000三", "password": "long-enough-pw"})
    assert r.status_code == 422
    assert r.json["code"] == "invalid_characters"
    assert "name" in r.json["fields"]
    assert db_session.scalar(select(Staff).where(Staff.username == "nul_user")) is None


def test_nul_in_login_is_a_4xx(client):
    r = client.post("/api/v1/auth/login", json={"username": "T\u0000x", "password": "whatever"})
    assert r.status_code == 422
    assert r.json["fields"] == {"username": [r.json["fields"]["username"][0]]}


def test_a_lone_surrogate_in_json_is_refused(client, admin):
    body = b'{"code": "LH", "name": "\\ud800x", "kind": "functional"}'
    r = client.post("/api/v1/departments", headers=admin, data=body, content_type="application/json")
    assert r.status_code == 422
    assert r.json["code"] == "invalid_characters" and "name" in r.json["fields"]


def test_a_surrogate_pair_is_an_ordinary_character(client, admin):
    body = '{"code": "LH", "name": "绿化 \\ud83c\\udf33", "kind": "functional"}'
    r = client.post("/api/v1/departments", headers=admin, data=body, content_type="application/json")
    assert r.status_code == 201, r.json
    assert r.json["name"] == "绿化 \U0001F333"


def test_an_escaped_backslash_before_u0000_is_just_text(client, admin):
    r = client.post("/api/v1/departments", headers=admin, data=r'{"code": "LH", "name": "a\\u0000", "kind": "functional"}',
                    content_type="application/json")
    assert r.status_code == 201, r.json
    assert r.json["name"] == "a\\u0000"


def test_nul_in_a_nested_json_key_path_is_named(client, admin):
    r = client.post("/api/v1/geo/locate", headers=admin, json={"points": [{"lon": 120, "lat": "3\u0000"}]})
    assert r.status_code == 422
    assert "points.0.lat" in r.json["fields"]


def test_nul_in_a_query_parameter(client, admin):
    r = client.get("/api/v1/grids?q=a%00b", headers=admin)
    assert r.status_code == 422
    assert r.json["code"] == "invalid_characters" and "q" in r.json["fields"]


def test_nul_in_a_path_segment(client, admin):
    r = client.get("/api/v1/departments/L%00H", headers=admin)
    assert r.status_code == 422
    assert r.json["code"] == "invalid_characters" and "code" in r.json["fields"]


def test_nul_in_a_form_field(client, admin):
    r = client.post("/api/v1/calendar/schedule", headers=admin, data={"note": "x\x00"})
    assert r.status_code == 422
    assert "note" in r.json["fields"]


# --- deep JSON ------------------------------------------------------------------------

def test_json_nested_ten_thousand_deep_is_a_400(client, admin):
    body = "[" * 10000 + "]" * 10000
    r = client.post("/api/v1/geo/locate", headers=admin, data=body, content_type="application/json")
    assert r.status_code == 400
    assert r.json["code"] == "json_too_deep"


def test_brackets_inside_strings_do_not_count(client, admin):
    name = "[" * (MAX_JSON_DEPTH + 10)
    r = client.post("/api/v1/departments", headers=admin, json={"code": "LH", "name": name, "kind": "functional"})
    assert r.status_code == 201, r.json


# --- dates ----------------------------------------------------------------------------

@pytest.mark.parametrize("year", ["0001", "9999"])
def test_dates_in_year_1_or_9999_are_422_naming_the_field(client, admin, login, year):
    r = client.post("/api/v1/cases", headers=login("dispatcher"), json={
        "description": "路灯不亮", "reported_at": f"{year}-01-01T00:00:00+08:00"})
    assert r.status_code == 422 and "reported_at" in r.json["fields"]
    staff_id = client.get("/api/v1/auth/me", headers=admin).json["staff"]["id"]
    r = client.post(f"/api/v1/staff/{staff_id}/assignments", headers=admin, json={
        "grid_code": "X", "valid_from": f"{year}-01-01T00:00:00+08:00"})
    assert r.status_code == 422 and "valid_from" in r.json["fields"]
    r = client.get(f"/api/v1/calendar?from={year}-01-01&to={year}-01-02", headers=admin)
    assert r.status_code == 422 and "from" in r.json["fields"]
    r = client.get(f"/api/v1/kpi?from={year}-01-01&to={year}-01-02", headers=login("leader"))
    assert r.status_code == 422 and "from" in r.json["fields"]
    r = client.put(f"/api/v1/calendar/days/{year}-01-01", headers=admin, json={"is_workday": True})
    assert r.status_code == 422 and "day" in r.json["fields"]
    r = client.post("/api/v1/calendar/deadline", headers=admin, json={
        "start": f"{year}-12-31T00:00:00+08:00", "amount": 1, "unit": "calendar_days"})
    assert r.status_code == 422 and "start" in r.json["fields"]


# --- time amounts ---------------------------------------------------------------------

def test_a_limit_of_1e300_hours_is_refused_and_not_stored(client, admin, db_session):
    r = client.put("/api/v1/categories/*/limits", headers=admin, json={
        "stage": "open", "amount": 1e300, "unit": "urgent_hours"})
    assert r.status_code == 422, r.json
    assert "amount" in r.json["fields"]
    db_session.expire_all()
    stored = db_session.scalar(select(TimeLimit).where(TimeLimit.category_code == "*", TimeLimit.stage == "open"))
    assert stored is None or stored.amount < 1e300


@pytest.mark.parametrize("amount, unit", [(366, "work_days"), (8761, "work_hours"), (1e7, "work_hours"),
                                          (3651, "calendar_days"), (7.4e306, "calendar_days")])
def test_deadline_amounts_are_bounded_per_unit(client, admin, amount, unit):
    r = client.post("/api/v1/calendar/deadline", headers=admin, json={
        "start": "2026-03-02T09:00:00+08:00", "amount": amount, "unit": unit})
    assert r.status_code == 422, r.json
    assert "amount" in r.json["fields"]


def test_a_year_of_work_days_is_computed(client, admin):
    r = client.post("/api/v1/calendar/deadline", headers=admin, json={
        "start": "2026-03-02T09:00:00+08:00", "amount": 365, "unit": "work_days"})
    assert r.status_code == 200, r.json
    assert "2027-08" <= r.json["due"][:7] <= "2027-09"


def test_a_login_body_that_is_a_list_is_a_4xx_and_still_rate_limited(client, caplog):
    r = client.post("/api/v1/auth/login", json=[{"username": "x"}])
    assert 400 <= r.status_code < 500
    assert "has no attribute 'get'" not in caplog.text


def test_sign_in_and_roles_are_checked_before_the_input(client, login):
    """The anonymous caller and the role next door get 401/403, not a verdict on their body."""
    r = client.post("/api/v1/categories", json={"name_zh": "a\u0000"})
    assert r.status_code == 401
    r = client.get("/api/v1/cases?state=%00")
    assert r.status_code == 401
    r = client.post("/api/v1/categories", json={"name_zh": "a\u0000"}, headers=login("grid_worker"))
    assert r.status_code == 403
    r = client.post("/api/v1/categories", json={"name_zh": "a\u0000"}, headers=login("admin"))
    assert r.status_code == 422 and r.json["code"] == "invalid_characters"


def test_an_operation_without_query_parameters_refuses_any(client, admin):
    """Nothing a client sends is silently ignored: ``?bogus=`` on one department is a 422 naming it."""
    r = client.get("/api/v1/departments?bogus=1&lang=en", headers=admin)
    assert r.status_code == 422 and r.json["code"] == "validation_error" and set(r.json["fields"]) == {"bogus"}
    assert client.get("/api/v1/departments?lang=en", headers=admin).status_code == 200
    assert client.get("/api/v1/auth/me?x=1", headers=admin).status_code == 422
    # Open311 clients may send parameters this server does not use (the spec allows it)
    assert client.get("/open311/v2/services.json?jurisdiction_id=sh").status_code == 200
    assert client.get("/healthz?probe=1").status_code == 200
