"""Idempotency keys live in the sender's namespace (issue 7): no anonymous client reaches a
grid worker's case or a 12345 order through a key, a key reused with another body is a 409,
and a refused request (a self-handle without its photo) leaves nothing behind for a retry."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from dispatch.cases.models import Case
from tests.dispatch.conftest import POINT_G1
from tests.dispatch.test_hotline import GOOD, csv_bytes
from tests.dispatch.test_hotline import post as hotline_post
from tests.factories import AttachmentFactory


def address() -> dict:
    """A public client of its own (the public endpoints are rate limited per address)."""
    n = uuid.uuid4().int
    return {"REMOTE_ADDR": f"10.{n % 250 + 1}.{n // 250 % 250}.{n // 62500 % 250 + 1}"}


def public_report(client, body: dict, key: str | None = None, *, in_body: bool = False):
    headers = {}
    if key is not None and in_body:
        body = {**body, "idempotency_key": key}
    elif key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/public/reports", json=body, headers=headers, environ_base=address())


def staff_report(client, city, body: dict, key: str, who="worker1", *, in_body: bool = False):
    headers = dict(city.h(who))
    if in_body:
        body = {**body, "idempotency_key": key}
    else:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/cases", json=body, headers=headers)


def case_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Case))


WORKER_BODY = {"description": "路边有暴露垃圾", "category_code": "E0102", "lon": POINT_G1[0], "lat": POINT_G1[1]}
CITIZEN_BODY = {"description": "小区门口垃圾堆积", "address": "测试路 1 号"}


def test_an_anonymous_report_cannot_reach_a_grid_workers_case_by_key(client, city, db_session):
    r = staff_report(client, city, WORKER_BODY, "my-first-report-1")
    assert r.status_code == 201, r.json
    worker_case = r.json
    worker_id = city.staff["worker1"].id
    # even with the very body the worker sent, the anonymous client gets a case of its own
    for key, body in ((f"staff:{worker_id}:my-first-report-1", CITIZEN_BODY), ("my-first-report-1", WORKER_BODY)):
        r = public_report(client, body, key)
        assert r.status_code == 201, r.json
        assert r.json["number"] != worker_case["number"]
        assert r.json["tracking_code"] != worker_case["tracking_code"]
    # the worker's own retry still finds the worker's case
    r = staff_report(client, city, WORKER_BODY, "my-first-report-1")
    assert r.status_code == 200 and r.json["number"] == worker_case["number"]


@pytest.mark.parametrize("key", ["hotline:12345-0001", "12345-0001"])
def test_an_anonymous_report_cannot_block_a_hotline_order(client, city, db_session, key):
    r = public_report(client, CITIZEN_BODY, key)
    assert r.status_code == 201, r.json
    squatter = r.json["number"]
    r = hotline_post(client, city.h("clerk"), csv_bytes(GOOD))
    assert r.status_code == 200, r.json
    assert (r.json["created"], r.json["already_imported"]) == (3, 0)
    imported = {c["order_no"]: c["number"] for c in r.json["cases"]}
    assert imported["12345-0001"] != squatter
    case = db_session.scalar(select(Case).where(Case.number == imported["12345-0001"]))
    assert case.channel == "hotline" and case.external_id == "12345-0001"
    assert case.reporter_name == "张三"


def test_staff_key_reused_with_another_body_is_a_conflict(client, city, db_session):
    r = staff_report(client, city, WORKER_BODY, "retry-key-0001")
    assert r.status_code == 201, r.json
    number = r.json["number"]
    before = case_count(db_session)
    r = staff_report(client, city, {**WORKER_BODY, "description": "另一件事：井盖缺失"}, "retry-key-0001")
    assert r.status_code == 409 and r.json["code"] == "idempotency_key_reused", r.json
    assert "retry-key-0001" in r.json["message"]
    assert case_count(db_session) == before
    r = staff_report(client, city, WORKER_BODY, "retry-key-0001", in_body=True)
    assert r.status_code == 200 and r.json["number"] == number
    assert case_count(db_session) == before
    # another staff member's identical key is another namespace: a case of their own
    r = staff_report(client, city, WORKER_BODY, "retry-key-0001", who="worker2")
    assert r.status_code == 201
    assert case_count(db_session) == before + 1


def test_public_key_reused_with_another_body_is_a_conflict(client, city, db_session):
    r = public_report(client, CITIZEN_BODY, "citizen-key-0001")
    assert r.status_code == 201, r.json
    first = r.json
    before = case_count(db_session)
    r = public_report(client, {**CITIZEN_BODY, "description": "路灯不亮"}, "citizen-key-0001", in_body=True)
    assert r.status_code == 409 and r.json["code"] == "idempotency_key_reused", r.json
    assert case_count(db_session) == before
    r = public_report(client, CITIZEN_BODY, "citizen-key-0001")
    assert r.status_code == 200 and r.json["tracking_code"] == first["tracking_code"]
    assert case_count(db_session) == before


@pytest.mark.parametrize("length", [120, 127, 128])
@pytest.mark.parametrize("in_body", [False, True])
def test_long_keys_work_on_both_endpoints(client, city, db_session, length, in_body):
    key = ("k" * length)[:length - 8] + uuid.uuid4().hex[:8]
    r = staff_report(client, city, WORKER_BODY, key, in_body=in_body)
    assert r.status_code == 201, r.json
    assert staff_report(client, city, WORKER_BODY, key, in_body=in_body).json["number"] == r.json["number"]
    r = public_report(client, CITIZEN_BODY, key, in_body=in_body)
    assert r.status_code == 201, r.json
    assert public_report(client, CITIZEN_BODY, key, in_body=in_body).status_code == 200


@pytest.mark.parametrize("in_body", [False, True])
def test_a_key_of_129_characters_is_refused_naming_the_field(client, city, db_session, in_body):
    before = case_count(db_session)
    key = "k" * 129
    for r in (staff_report(client, city, WORKER_BODY, key, in_body=in_body),
              public_report(client, CITIZEN_BODY, key, in_body=in_body)):
        assert r.status_code == 422 and "idempotency_key" in r.json["fields"], r.json
    assert case_count(db_session) == before


# --- a refused self-handle changes nothing -------------------------------------------------

def photo(db_session, staff_id: int) -> int:
    return AttachmentFactory(uploaded_by=staff_id).id


SELF_HANDLED = {"description": "小广告已清除", "category_code": "E0202", "lon": POINT_G1[0], "lat": POINT_G1[1],
                "self_handled": True}


def test_self_handle_without_photo_changes_nothing_then_retry_creates(client, city, db_session):
    before = case_count(db_session)
    r = staff_report(client, city, SELF_HANDLED, "self-handle-0001")
    assert r.status_code == 422 and "attachments" in r.json["fields"], r.json
    assert case_count(db_session) == before
    body = {**SELF_HANDLED, "attachments": [photo(db_session, city.staff["worker1"].id)]}
    r = staff_report(client, city, body, "self-handle-0001")
    assert r.status_code == 201, r.json
    assert r.json["state"] == "closed" and [e["verb"] for e in r.json["events"]] == ["submit", "self_handle"]
    again = staff_report(client, city, body, "self-handle-0001")  # the phone retries: the same case
    assert again.status_code == 200 and again.json["number"] == r.json["number"]
    # someone else's photo, or a self-handle by a clerk: refused before anything is written
    before = case_count(db_session)
    r = staff_report(client, city, {**SELF_HANDLED, "attachments": [photo(db_session, city.staff["worker2"].id)]},
                     "self-handle-0002")
    assert r.status_code == 422 and "attachments" in r.json["fields"]
    r = staff_report(client, city, {**SELF_HANDLED, "attachments": [photo(db_session, city.staff["clerk"].id)]},
                     "self-handle-0003", who="clerk")
    assert r.status_code == 403, r.json
    assert case_count(db_session) == before


@pytest.fixture
def embedded(tmp_path):
    """The embedded default (SQLite file, no Redis), where a savepoint released at the start of
    a transaction commits it: the request must fail before anything is written."""
    from grid import roles as R
    from grid.accounts.service import issue_token
    from grid.catalog.service import load_catalog
    from tests.conftest import make_settings
    from tests.factories import StaffFactory
    from wangge import create_app
    from wangge.cli import upgrade_database
    from wangge.extensions import db

    app = create_app(make_settings(f"sqlite:///{tmp_path}/wangge.sqlite3", redis_url=None,
                                   data_dir=str(tmp_path)))
    with app.app_context():
        upgrade_database()
        load_catalog(db.session)
        worker = StaffFactory(roles=[R.GRID_WORKER])
        headers = {"Authorization": f"Bearer {issue_token(db.session, worker, ttl_hours=1)[0]}"}
        db.session.commit()
        worker_id = worker.id
    yield app, headers, worker_id
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_embedded_self_handle_without_photo_changes_nothing(embedded):
    from wangge.extensions import db

    app, headers, worker_id = embedded
    client = app.test_client()
    body = {**SELF_HANDLED, "lon": None, "lat": None, "address": "测试路 1 号"}
    body = {k: v for k, v in body.items() if v is not None}
    r = client.post("/api/v1/cases", json=body, headers={**headers, "Idempotency-Key": "self-handle-0001"})
    assert r.status_code == 422 and "attachments" in r.json["fields"], r.json
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0
        photo_id = photo(db.session, worker_id)
        db.session.commit()
    r = client.post("/api/v1/cases", json={**body, "attachments": [photo_id]},
                    headers={**headers, "Idempotency-Key": "self-handle-0001"})
    assert r.status_code == 201, r.json
    assert r.json["state"] == "closed"
