"""POST /api/m/v1/reports: the phone's single report, composed from intake (the desk's
rules), with the phone's client id; and the desk's POST /api/v1/cases keeps the same promise
(a key reused with another body is a 409, never the old case)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dispatch.cases.models import Case
from geo.crs import convert_point
from tests.dispatch.conftest import POINT_G1
from tests.mobile.fixtures_push import BODY, REPORT, cid


def count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Case))


def send(client, headers, body, key=None, *, in_body=False, path=REPORT, query=""):
    headers = dict(headers)
    if key is not None and in_body:
        body = {**body, ("client_id" if path == REPORT else "idempotency_key"): key}
    elif key is not None:
        headers["Idempotency-Key"] = key
    return client.post(path + query, json=body, headers=headers)


def test_a_report_from_the_phone_is_a_case_and_a_retry_is_the_same_case(client, city, db_session):
    key = cid("rep")
    r = send(client, city.h("worker1"), BODY, key, in_body=True)
    assert r.status_code == 201, r.json
    first = r.json
    assert first["state"] == "reported" and first["grid_code"] == "31010100100101"
    assert first["crs"] == "wgs84" and (first["lon"], first["lat"]) == POINT_G1
    assert first["version"] >= 1 and "self_handle" in first["allowed_verbs"]
    case = db_session.scalar(select(Case).where(Case.number == first["number"]))
    assert case.channel == "grid_worker" and case.reporter_staff_id == city.staff["worker1"].id
    before = count(db_session)
    # the same key again, in the header this time: the same case, 200, nothing new
    r = send(client, city.h("worker1"), BODY, key)
    assert r.status_code == 200 and r.json["number"] == first["number"]
    assert count(db_session) == before


@pytest.mark.parametrize("path", [REPORT, "/api/v1/cases"])
def test_a_client_id_reused_with_another_body_is_409_on_both_endpoints(client, city, db_session, path):
    key = cid("reuse")
    r = send(client, city.h("worker1"), BODY, key, path=path)
    assert r.status_code == 201, r.json
    number = r.json["number"]
    before = count(db_session)
    r = send(client, city.h("worker1"), {**BODY, "description": "井盖缺失"}, key, path=path)
    assert r.status_code == 409 and r.json["code"] == "idempotency_key_reused", r.json
    assert key in r.json["message"]
    assert count(db_session) == before
    r = send(client, city.h("worker1"), BODY, key, path=path)
    assert r.status_code == 200 and r.json["number"] == number


def test_the_phone_and_the_desk_share_the_senders_namespace(client, city, db_session):
    """A report the phone could not confirm (timeout) and sent again by the other endpoint is
    one case; another worker's identical key is another namespace."""
    key = cid("shared")
    r = send(client, city.h("worker1"), BODY, key, path="/api/v1/cases")
    assert r.status_code == 201
    r2 = send(client, city.h("worker1"), BODY, key)
    assert r2.status_code == 200 and r2.json["number"] == r.json["number"]
    r3 = send(client, city.h("worker2"), BODY, key)
    assert r3.status_code == 201 and r3.json["number"] != r.json["number"]


def test_the_answer_is_in_the_clients_crs(client, city):
    r = send(client, city.h("worker1"), BODY, cid("crs"), query="?crs=gcj02")
    assert r.status_code == 201, r.json
    assert r.json["crs"] == "gcj02"
    assert (r.json["lon"], r.json["lat"]) == pytest.approx(convert_point(*POINT_G1, "wgs84", "gcj02"))
    r = send(client, city.h("worker1"), BODY, cid("crs"), query="?crs=mars")
    assert r.status_code == 422 and "crs" in r.json["fields"]
    r = send(client, city.h("worker1"), BODY, cid("crs"), query="?sate=1")
    assert r.status_code == 422 and "sate" in r.json["fields"]


@pytest.mark.parametrize("key", ["short", "x" * 129, "tab\there-key"])
def test_bad_client_ids_are_refused(client, city, db_session, key):
    before = count(db_session)
    for in_body in (False, True):
        r = send(client, city.h("worker1"), BODY, key, in_body=in_body)
        assert r.status_code == 422, r.json
        assert set(r.json["fields"]) & {"idempotency_key", "client_id"}
    assert count(db_session) == before


def test_who_may_report_from_the_phone(client, city, db_session):
    assert client.post(REPORT, json=BODY).status_code == 401
    for who in ("env", "leader", "officer"):
        r = send(client, city.h(who), BODY, cid("who"))
        assert r.status_code == 403 and r.json["code"] == "forbidden_role", who
    r = send(client, city.h("clerk"), BODY, cid("who"))
    assert r.status_code == 201 and r.json["state"] == "reported"


@pytest.mark.parametrize("change,field", [
    ({"description": "a\u0000b"}, None),
    ({"lon": 1e308, "lat": 1e308}, "lon"),
    ({"reported_at": "9999-12-31T23:59:59+08:00"}, "reported_at"),
    ({"reported_at": "0001-01-01T00:00:00+00:00"}, "reported_at"),
    ({"attachments": [2**31]}, "attachments"),
    ({"attachments": [987654]}, "attachments"),
    ({"category_code": {"nested": ["garbage"]}}, "category_code"),
    ({"channel": "hotline"}, "channel"),
    ({"idempotency_key": "someone-elses"}, "idempotency_key"),
])
def test_garbage_is_refused_and_leaves_nothing(client, city, db_session, change, field):
    before = count(db_session)
    r = send(client, city.h("worker1"), {**BODY, **change}, cid("bad"))
    assert r.status_code == 422, r.json
    if field:
        assert field in r.json["fields"], r.json
    assert count(db_session) == before
