"""Regression tests for what an attack review found after the first trust fixes (issue 7)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from dispatch.cases.models import Case
from tests.dispatch.conftest import POINT_G1, do, report
from tests.dispatch.test_open311_trust import api_key, new_case, post  # noqa: F401 - fixture
from tests.dispatch.test_trust_idempotency import staff_report


def test_open311_requests_are_rate_limited_per_address(client, city, app, monkeypatch):
    monkeypatch.setattr(app.config["WANGGE"], "open311_rate_limit", "3 per minute")
    me = {"REMOTE_ADDR": "10.9.8.7"}
    answers = [client.get("/open311/v2/requests.json", environ_base=me).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = client.get("/open311/v2/requests.json", environ_base=me)
    assert refused.json[0]["code"] == 429 and refused.headers["Retry-After"]  # Open311's own error shape
    assert client.get("/open311/v2/requests.json", environ_base={"REMOTE_ADDR": "10.9.8.8"}).status_code == 200


def test_password_spraying_from_one_address_is_throttled(client, app, monkeypatch):
    monkeypatch.setattr(app.config["WANGGE"], "login_address_rate_limit", "5 per 15 minutes")
    me = {"REMOTE_ADDR": "10.7.7.7"}
    answers = [client.post("/api/v1/auth/login", json={"username": f"user{i:03d}", "password": "123456"},
                           environ_base=me).status_code for i in range(6)]
    assert answers == [401] * 5 + [429]
    assert client.post("/api/v1/auth/login", json={"username": "user999", "password": "123456"},
                       environ_base={"REMOTE_ADDR": "10.7.7.8"}).status_code == 401


def test_self_handled_is_part_of_what_the_key_stands_for(client, city, db_session):
    body = {"description": "路边有暴露垃圾", "category_code": "E0102", "lon": POINT_G1[0], "lat": POINT_G1[1]}
    assert staff_report(client, city, body, "fp-self-0001").status_code == 201
    r = staff_report(client, city, {**body, "self_handled": True}, "fp-self-0001")
    assert r.status_code == 409 and r.json["code"] == "idempotency_key_reused"


def test_nobody_dispatches_to_the_dispatch_center(client, city, admin):
    n = report(client, city, category="C0101")["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")
    r = client.post(f"/api/v1/cases/{n}/actions/dispatch", json={"department_code": "DC"}, headers=city.h("dispatcher"))
    assert r.status_code == 422 and "department_code" in r.json["fields"]
    r = client.post("/api/v1/matrix", json={"category_code": "C0101", "grid_code": "*", "department_code": "DC"},
                    headers=admin)
    assert r.status_code == 422 and "department_code" in r.json["fields"]


def test_report_times_are_bounded_in_utc_and_not_in_the_future(client, city, db_session):
    before = db_session.scalar(select(func.count(Case.id)))
    desk = {"description": "电话反映", "address": "测试路1号"}
    for when in ("1970-01-01T00:00:00+14:00", "2200-12-31T23:59:59-14:00",
                 (datetime.now(UTC) + timedelta(days=2)).isoformat()):
        r = client.post("/api/v1/cases", json={**desk, "reported_at": when}, headers=city.h("clerk"))
        assert r.status_code == 422 and "reported_at" in r.json["fields"], when
    assert db_session.scalar(select(func.count(Case.id))) == before
    earlier = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    assert client.post("/api/v1/cases", json={**desk, "reported_at": earlier}, headers=city.h("clerk")).status_code == 201


def test_open311_keys_follow_the_same_rules(client, city, api_key):  # noqa: F811
    long_pair = post(client, api_key, device_id="d" * 64, request_key="r" * 64)
    assert long_pair.status_code == 201
    assert post(client, api_key, device_id="d" * 64, request_key="r" * 64).status_code == 200
    for bad in ("a", "abc\x01defgh"):
        r = post(client, api_key, headers={"Idempotency-Key": bad})
        assert r.status_code == 400, bad


def test_staff_see_an_open311_clients_media_url(client, city, api_key):  # noqa: F811
    number = new_case(client, api_key, media_url="https://example.org/p.jpg")
    detail = client.get(f"/api/v1/cases/{number}", headers=city.h("clerk")).json
    assert detail["media_url"] == "https://example.org/p.jpg"


def test_the_tracking_page_shows_only_what_a_citizen_may_see(client, city):
    from dispatch.cases.lifecycle import STATES
    from dispatch.workflow.presenters import PUBLIC_STATE_OF

    assert set(PUBLIC_STATE_OF) == set(STATES)  # every state has a public word
    r = client.post("/api/v1/public/reports", json={"description": "井盖缺失", "category_code": "C0101",
                                                    "lon": POINT_G1[0], "lat": POINT_G1[1], "phone": "13800001111"},
                    environ_base={"REMOTE_ADDR": "10.5.5.5"})
    code, n = r.json["tracking_code"], r.json["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")
    do(client, city, "leader", n, "supervise", note="督办：三天内修好")
    do(client, city, "dispatcher", n, "dispatch", department_code="ROAD")
    do(client, city, "road", n, "return", note="不是我们的")
    do(client, city, "dispatcher", n, "rule_return", outcome="refuse", note="就是你们的")
    do(client, city, "road", n, "sign")
    do(client, city, "road", n, "request_extension", note="材料未到")
    page = client.get(f"/api/v1/public/reports/{code}", environ_base={"REMOTE_ADDR": "10.5.5.5"}).json
    assert page["state"] == "in_progress" and page["state_name"] == "处理中"
    assert {"clock", "supervised", "grid_code", "channel", "version", "reporter"}.isdisjoint(page)
    assert [e["verb"] for e in page["events"]] == ["submit", "accept", "dispatch"]
    assert "督办" not in str(page) and "不是我们的" not in str(page) and "13800001111" not in str(page)
    assert page["expected_by"] is not None  # the handling deadline, not the one-hour sign deadline


def test_a_department_the_matrix_names_cannot_become_the_enforcement_team(client, city, admin):
    r = client.patch("/api/v1/departments/ROAD", json={"kind": "enforcement_team"}, headers=admin)
    assert r.status_code == 409 and r.json["code"] == "in_use" and "C0101" in r.json["message"]
    assert client.get("/api/v1/departments/ROAD", headers=admin).json["kind"] == "functional"
    assert client.patch("/api/v1/departments/ROAD", json={"name": "路政所"}, headers=admin).status_code == 200
