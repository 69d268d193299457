"""Intake from every channel: idempotency, coordinate systems, grids, duplicates, numbering,
validation (docs/domain.md §2, §6)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, text

from dispatch.cases.models import Case, CaseEvent, CaseSequence
from geo.area import distance_m
from geo.crs import convert_point
from grid.accounts.service import issue_token
from tests.dispatch.conftest import POINT_G1, do, report
from tests.dispatch.test_paths import attachment, get, public_post

WGS_G1_NEAR_EDGE = (121.407, 31.205)  # in grid 1; its GCJ-02/BD-09 values lie in grid 2


def counts(db_session):
    db_session.expire_all()
    return (db_session.scalar(select(func.count()).select_from(Case)),
            db_session.scalar(select(func.count()).select_from(CaseEvent)),
            [(s.area, s.year, s.last) for s in db_session.scalars(select(CaseSequence).order_by(CaseSequence.area))],
            # PostgreSQL numbers from sequences (dispatch.intake.numbering): none drawn either
            db_session.execute(text("SELECT sequencename, last_value FROM pg_sequences "
                                    "WHERE sequencename LIKE 'case_seq%' ORDER BY 1")).all())


def submit_event(db_session, number) -> CaseEvent:
    case = db_session.scalar(select(Case).where(Case.number == number))
    return db_session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.verb == "submit"))


# --- idempotency ------------------------------------------------------------------------

def test_idempotency_key_in_header_returns_the_same_case(client, city, db_session):
    body = {"description": "井盖缺失", "category_code": "C0101", "lon": POINT_G1[0], "lat": POINT_G1[1]}
    h = {**city.h("worker1"), "Idempotency-Key": "phone-retry-0001"}
    first = client.post("/api/v1/cases", json=body, headers=h)
    assert first.status_code == 201
    before = counts(db_session)
    again = client.post("/api/v1/cases", json=body, headers=h)
    assert again.status_code == 200 and again.json["number"] == first.json["number"]
    assert again.json["tracking_code"] == first.json["tracking_code"]
    assert counts(db_session) == before  # no second case, no event, no number used
    # a different key is a different report
    other = client.post("/api/v1/cases", json=body, headers={**city.h("worker1"), "Idempotency-Key": "phone-retry-0002"})
    assert other.status_code == 201 and other.json["number"] != first.json["number"]


def test_idempotency_key_in_body_and_on_the_public_endpoint(client, city, db_session):
    body = {"description": "井盖缺失", "address": "测试路8号", "idempotency_key": "desk-entry-42"}
    first = client.post("/api/v1/cases", json=body, headers=city.h("clerk"))
    again = client.post("/api/v1/cases", json=body, headers=city.h("clerk"))
    assert (first.status_code, again.status_code) == (201, 200) and first.json["number"] == again.json["number"]
    r1 = public_post(client, "/api/v1/public/reports", description="垃圾", address="测试路9号",
                     idempotency_key="citizen-app-7777")
    r2 = public_post(client, "/api/v1/public/reports", description="垃圾", address="测试路9号",
                     idempotency_key="citizen-app-7777")
    assert (r1.status_code, r2.status_code) == (201, 200) and r1.json == r2.json
    short = client.post("/api/v1/cases", json={**body, "idempotency_key": "short"},
                        headers=city.h("clerk"))
    assert short.status_code == 422 and "idempotency_key" in short.json["fields"]
    short = client.post("/api/v1/cases", json={"description": "x", "address": "y"},
                        headers={**city.h("clerk"), "Idempotency-Key": "short"})
    assert short.status_code == 422 and "idempotency_key" in short.json["fields"]


# --- coordinates and grids ----------------------------------------------------------------

@pytest.mark.parametrize("crs", ["gcj02", "bd09", "GCJ-02"])
def test_map_sdk_points_are_converted_and_located(client, city, db_session, crs):
    lon, lat = convert_point(*WGS_G1_NEAR_EDGE, "wgs84", crs.lower().replace("-", ""))
    assert lon > 121.41  # taken as WGS-84 it would fall in grid 2
    c = report(client, city, point=(lon, lat), crs=crs)
    assert c["grid_code"] == "31010100100101"
    assert distance_m(c["lon"], c["lat"], *WGS_G1_NEAR_EDGE) < 0.05
    assert c["original"] == {"lon": lon, "lat": lat, "crs": crs.lower().replace("-", "")}
    assert submit_event(db_session, c["number"]).data["crs"] == crs.lower().replace("-", "")
    row = db_session.scalar(select(Case).where(Case.number == c["number"]))
    assert row.location is not None and abs(row.location.x - WGS_G1_NEAR_EDGE[0]) < 1e-6


def test_wgs84_is_kept_as_given(client, city, db_session):
    c = report(client, city, point=WGS_G1_NEAR_EDGE)
    assert (c["lon"], c["lat"]) == WGS_G1_NEAR_EDGE and c["original"]["crs"] == "wgs84"


def test_outside_every_grid_is_kept_and_flagged(client, city, db_session):
    c = report(client, city, point=(121.60, 31.30))
    assert c["state"] == "reported" and c["grid_code"] is None and c["lon"] == 121.60
    event = submit_event(db_session, c["number"])
    assert event.data["outside_all_grids"] is True and event.data["grid_code"] is None
    assert c["number"].startswith("000000")  # no grid: the deployment's area code
    inside = report(client, city)
    assert "outside_all_grids" not in submit_event(db_session, inside["number"]).data
    # an address-only report has no point: nothing to flag
    r = client.post("/api/v1/cases", json={"description": "x", "address": "测试路"}, headers=city.h("clerk"))
    assert "outside_all_grids" not in submit_event(db_session, r.json["number"]).data


# --- duplicates ---------------------------------------------------------------------------

def _offset(point, metres_east):
    return (point[0] + metres_east / (111_000 * 0.8555), point[1])  # cos(31.2°) ≈ 0.8555


def test_duplicate_flagged_near_an_open_case_of_the_same_category(client, city, db_session, app):
    s = app.config["WANGGE"]
    assert (s.duplicate_distance_m, s.duplicate_hours) == (50.0, 24.0)
    first = report(client, city, category="C0101")["number"]
    near = report(client, city, who="worker2", category="C0101", point=_offset(POINT_G1, 30))
    assert near["possible_duplicate_of"] == first
    assert submit_event(db_session, near["number"]).data["possible_duplicate_of"] == first
    far = report(client, city, category="C0101", point=_offset(POINT_G1, 80))
    assert far["possible_duplicate_of"] is None
    other = report(client, city, category="C0108")
    assert other["possible_duplicate_of"] is None
    assert "possible_duplicate_of" not in submit_event(db_session, far["number"]).data


def test_duplicate_window_and_open_cases_only(client, city, db_session):
    now = datetime.now(UTC)
    with time_machine.travel(now - timedelta(hours=25), tick=False):
        old = report(client, city, category="C0101")["number"]
    with time_machine.travel(now - timedelta(hours=23), tick=False):
        recent = report(client, city, category="C0102")["number"]
    with time_machine.travel(now, tick=False):
        assert report(client, city, category="C0101")["possible_duplicate_of"] is None
        assert report(client, city, category="C0102")["possible_duplicate_of"] == recent
    assert old
    # a closed or voided case is not a duplicate target
    done = report(client, city, category="C0103", point=_offset(POINT_G1, -200))["number"]
    do(client, city, "clerk", done, "reject", note="不属实")
    assert report(client, city, category="C0103", point=_offset(POINT_G1, -200))["possible_duplicate_of"] is None


def test_duplicate_from_the_public_endpoint_counts_too(client, city, db_session):
    first = report(client, city, category="E0102")["number"]
    lon, lat = convert_point(*_offset(POINT_G1, 10), "wgs84", "gcj02")
    r = public_post(client, "/api/v1/public/reports", description="垃圾", category_code="E0102",
                    lon=lon, lat=lat, crs="gcj02")
    assert r.status_code == 201
    assert get(client, city, "clerk", r.json["number"])["possible_duplicate_of"] == first


# --- numbering ----------------------------------------------------------------------------

def test_case_numbers_are_area_year_sequence_and_unique(client, city, db_session):
    year = datetime.now(UTC).year
    numbers = [report(client, city)["number"] for _ in range(3)]
    assert all(re.fullmatch(rf"310101{year}\d{{6}}", n) for n in numbers), numbers
    seqs = [int(n[-6:]) for n in numbers]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    outside = report(client, city, point=(121.60, 31.30))["number"]
    assert re.fullmatch(rf"000000{year}\d{{6}}", outside)
    all_numbers = db_session.scalars(select(Case.number)).all()
    assert len(all_numbers) == len(set(all_numbers))
    codes = db_session.scalars(select(Case.tracking_code)).all()
    assert len(codes) == len(set(codes)) and all(re.fullmatch(r"[2-9A-HJ-NP-Z]{10}", c) for c in codes)


def test_case_number_year_is_the_local_year(client, city, db_session):
    """00:30 on 1 January in Shanghai is still 31 December in UTC: the number says the new year."""
    with time_machine.travel(datetime(2026, 12, 31, 16, 30, tzinfo=UTC), tick=False):
        secret, _ = issue_token(db_session, city.staff["worker1"], ttl_hours=1)
        r = client.post("/api/v1/cases", json={"description": "新年第一案", "lon": POINT_G1[0], "lat": POINT_G1[1]},
                        headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 201, r.json
    assert r.json["number"] == "3101012027000001" and r.json["reported_at"].startswith("2027-01-01T00:30")


# --- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("body,fields", [
    ({}, {"description"}),
    ({"description": "   ", "address": "x"}, {"description"}),
    ({"description": "x", "lon": 121.4}, {"lat"}),
    ({"description": "x", "lat": 31.2}, {"lon", "address"}),
    ({"description": "x", "lon": 200, "lat": 31.2}, {"lon"}),
    ({"description": "x"}, {"address"}),
    ({"description": "x", "lon": 121.4, "lat": 31.2, "crs": "utm50"}, {"crs"}),
    ({"description": "x", "address": "y", "category_code": "C01"}, {"category_code"}),
    ({"description": "x", "address": "y", "category_code": "Z9999"}, {"category_code"}),
    ({"description": "x", "address": "y", "channel": "pigeon"}, {"channel"}),
    ({"description": "x", "address": "y", "attachments": [987654]}, {"attachments"}),
    ({"description": "x", "address": "y", "reported_at": "2026-01-01T08:00:00"}, {"reported_at"}),
])
def test_bad_input_is_422_naming_fields_and_writes_nothing(client, city, db_session, body, fields):
    report(client, city)  # the sequence row exists
    before = counts(db_session)
    r = client.post("/api/v1/cases", json=body, headers=city.h("clerk"))
    assert r.status_code == 422 and r.json["code"] == "validation_error", r.json
    assert set(r.json["fields"]) == fields, r.json
    for f in fields:
        assert f in r.json["message"]
    assert counts(db_session) == before


def test_public_bad_input_is_422_and_writes_nothing(client, city, db_session):
    before = counts(db_session)
    r = public_post(client, "/api/v1/public/reports", description="x", lon=121.4, lat=31.2, phone="call me")
    assert r.status_code == 422 and set(r.json["fields"]) == {"phone"}
    r = public_post(client, "/api/v1/public/reports", description="x")
    assert r.status_code == 422 and set(r.json["fields"]) == {"address"}
    assert counts(db_session) == before


def test_intake_links_attachments_and_records_the_reporter(client, city, db_session):
    photo = attachment(db_session, city)
    c = report(client, city, attachments=[photo])
    assert c["channel"] == "grid_worker" and c["reporter"]["staff_id"] == city.staff["worker1"].id
    assert c["reporter"]["phone"] == "13900000001"
    event = submit_event(db_session, c["number"])
    assert event.attachment_ids == [photo] and event.actor_role == "grid_worker"


def test_idempotency_keys_belong_to_their_sender(client, city, db_session):
    """The same key from another staff member is another submission, not a way to read theirs."""
    body = {"description": "井盖缺失", "category_code": "C0101", "lon": 121.405, "lat": 31.205}
    a = client.post("/api/v1/cases", json=body, headers={**city.h("worker1"), "Idempotency-Key": "same-key-123"})
    b = client.post("/api/v1/cases", json=body, headers={**city.h("worker2"), "Idempotency-Key": "same-key-123"})
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json["number"] != b.json["number"]


def test_public_tracking_page_hides_internal_notes(client, city, db_session):
    from tests.dispatch.conftest import do

    r = client.post("/api/v1/public/reports", json={"description": "路灯不亮", "category_code": "C0108",
                                                    "lon": 121.405, "lat": 31.205, "phone": "13812345678"})
    code, n = r.json["tracking_code"], r.json["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")
    do(client, city, "dispatcher", n, "dispatch", department_code="ROAD")
    do(client, city, "road", n, "return", note="内部：不归我们管，踢给供电")
    page = client.get(f"/api/v1/public/reports/{code}").json
    assert "内部" not in str(page)
    assert "return" not in [e["verb"] for e in page["events"]]  # an internal step: not shown at all
    assert page["state"] == "in_progress"


def test_english_messages_name_the_verb_in_english(client, city, db_session):
    n = client.post("/api/v1/cases", json={"description": "x", "category_code": "C0101", "lon": 121.405,
                                           "lat": 31.205}, headers=city.h("worker1")).json["number"]
    r = client.post(f"/api/v1/cases/{n}/actions/close?lang=en", json={}, headers=city.h("shift"))
    assert r.status_code == 409 and "'close'" in r.json["message"] and "结案" not in r.json["message"]
