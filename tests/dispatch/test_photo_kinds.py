"""Photos that prove themselves (issue 8): each photo has a kind and belongs to the report or
action that listed it; a staff photo's capture time and place (kept as fields, gone from the
stored file) are checked against the case when it is attached, and what looks wrong is
flagged for the dispatcher. Every photo here is made with known capture data."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from dispatch.attachments.models import Attachment
from dispatch.cases.models import Case, CaseEvent
from tests.dispatch.conftest import POINT_G1, do, report
from tests.dispatch.fixtures_photos import (  # noqa: F401 - media_fixture is the fixture "media"
    exif_of_file,
    hours_ago,
    latitude_bytes,
    media_fixture,
    north_of,
    photo,
    plain_png,
    upload,
)


def uploaded(client, city, data, who="worker1", **form) -> int:
    r = upload(client, city.h(who), data, **form)
    assert r.status_code == 201, r.json
    return r.json["id"]


def detail(client, city, number, who="dispatcher") -> dict:
    r = client.get(f"/api/v1/cases/{number}", headers=city.h(who))
    assert r.status_code == 200, r.json
    return r.json


def photo_of(case: dict, attachment_id: int) -> dict:
    return next(p for p in case["photos"] if p["id"] == attachment_id)


def to_handling(client, city, number):
    do(client, city, "clerk", number, "accept")
    do(client, city, "shift", number, "open")  # E0102 is auto-dispatched to ENV
    do(client, city, "env", number, "sign")


# --- flags from known capture data ---------------------------------------------------------

CASES = {
    # name: (hours before the report, metres from the case, expected flags)
    "fine": (1, 40, []),
    "old": (72, 40, ["taken_long_before"]),
    "far": (1, 5000, ["far_from_case"]),
    "old and far": (30, 800, ["taken_long_before", "far_from_case"]),
    "future": (-3, 40, ["taken_after"]),
    "no time": (None, 40, ["no_capture_time"]),
    "no position": (1, None, ["no_capture_position"]),
}


@pytest.mark.parametrize("name", CASES)
def test_report_photo_flags_from_known_capture_data(client, city, media, db_session, name):
    hours, metres, flags = CASES[name]
    data = photo(taken=None if hours is None else hours_ago(hours),
                 at=None if metres is None else north_of(POINT_G1, metres))
    pid = uploaded(client, city, data)
    n = report(client, city, attachments=[pid])["number"]
    shown = photo_of(detail(client, city, n), pid)
    assert shown["flags"] == flags
    assert shown["kind"] == "before" and shown["verb"] == "submit" and shown["source"] == "staff"
    submit = db_session.scalar(select(CaseEvent).join(Case).where(Case.number == n, CaseEvent.verb == "submit"))
    assert shown["event_id"] == submit.id
    if metres is None:
        assert shown["distance_m"] is None and shown["captured_lon"] is None
    else:
        assert shown["distance_m"] == pytest.approx(metres, rel=0.02, abs=2)
        assert shown["captured_lat"] == pytest.approx(north_of(POINT_G1, metres)[1], abs=1e-6)
    assert (shown["captured_at"] is None) == (hours is None)


def test_png_without_any_exif_is_flagged_for_both_missing_data(client, city, media):
    pid = uploaded(client, city, plain_png(), filename="scan.png")
    n = report(client, city, attachments=[pid])["number"]
    shown = photo_of(detail(client, city, n), pid)
    assert shown["flags"] == ["no_capture_time", "no_capture_position"]
    assert shown["captured_at"] is None and shown["distance_m"] is None


def test_stored_copy_has_no_gps_but_the_row_keeps_it(client, city, media, db_session):
    at = north_of(POINT_G1, 30)
    original = photo(taken=hours_ago(2), at=at)
    assert exif_of_file(original)["gps"]  # the original does carry a position
    assert any(pattern in original for pattern in latitude_bytes(at[1]))
    pid = uploaded(client, city, original)
    row = db_session.get(Attachment, pid)
    stored = (media / row.path).read_bytes()
    served = client.get(f"/api/v1/attachments/{pid}", headers=city.h("worker1")).data
    assert served == stored
    found = exif_of_file(stored)
    assert found["gps"] == {} and found["exif"] == {} and found["ifd0"] == {}
    assert b"Huawei" not in stored
    assert not any(pattern in stored for pattern in latitude_bytes(at[1]))
    assert row.captured_lat == pytest.approx(at[1], abs=1e-6) and row.captured_at is not None


def test_flags_are_stored_when_attached_so_a_later_threshold_does_not_rewrite_them(client, city, media, app,
                                                                                     monkeypatch):
    first = uploaded(client, city, photo(taken=hours_ago(5), at=north_of(POINT_G1, 300)))
    n = report(client, city, attachments=[first])["number"]
    assert photo_of(detail(client, city, n), first)["flags"] == []
    settings = app.config["WANGGE"]
    monkeypatch.setattr(settings, "photo_max_age_hours", 1.0)
    monkeypatch.setattr(settings, "photo_max_distance_m", 100.0)
    assert photo_of(detail(client, city, n), first)["flags"] == []  # history stays as it was shown
    second = uploaded(client, city, photo(taken=hours_ago(5), at=north_of(POINT_G1, 300), color=(1, 2, 3)))
    n2 = report(client, city, attachments=[second])["number"]
    assert photo_of(detail(client, city, n2), second)["flags"] == ["taken_long_before", "far_from_case"]


def test_a_report_made_offline_is_measured_from_its_reported_time(client, city, media):
    # taken 50 h ago, reported (offline) 48 h ago: 2 h before the report is fine
    pid = uploaded(client, city, photo(taken=hours_ago(50), at=north_of(POINT_G1, 10)))
    n = report(client, city, attachments=[pid], reported_at=hours_ago(48).isoformat())["number"]
    assert photo_of(detail(client, city, n), pid)["flags"] == []


# --- kinds and the action a photo documents -------------------------------------------------

def test_action_photos_default_to_after_and_belong_to_their_event(client, city, media, db_session):
    before = uploaded(client, city, photo(taken=hours_ago(1), at=north_of(POINT_G1, 20)))
    n = report(client, city, attachments=[before])["number"]
    to_handling(client, city, n)
    after = uploaded(client, city, photo(taken=hours_ago(0.2), at=north_of(POINT_G1, 15), color=(9, 9, 9)), who="env")
    evidence = uploaded(client, city, photo(taken=hours_ago(0.1), at=north_of(POINT_G1, 2000), color=(8, 8, 8)),
                        who="env", kind="evidence")
    c = do(client, city, "env", n, "report_back", note="已清运", attachments=[after, evidence])
    back = c["events"][-1]
    assert back["verb"] == "report_back" and back["attachments"] == [after, evidence]
    photos = {p["id"]: p for p in c["photos"]}
    assert [photos[i]["kind"] for i in (before, after, evidence)] == ["before", "after", "evidence"]
    assert photos[after]["event_id"] == photos[evidence]["event_id"] == back["id"]
    assert photos[after]["verb"] == "report_back" and photos[after]["flags"] == []
    assert photos[evidence]["flags"] == ["far_from_case"]
    assert photos[before]["event_id"] != back["id"]


def test_listing_a_photo_again_keeps_the_event_it_first_documented(client, city, media):
    pid = uploaded(client, city, photo(taken=hours_ago(1), at=north_of(POINT_G1, 20)), kind="after")
    r = client.post("/api/v1/cases", headers=city.h("worker1"), json={
        "description": "井盖松动，已现场处理", "category_code": "E0102", "lon": POINT_G1[0], "lat": POINT_G1[1],
        "attachments": [pid], "self_handled": True})
    assert r.status_code == 201, r.json
    verbs = [e["verb"] for e in r.json["events"]]
    assert verbs[:1] == ["submit"] and "self_handle" in verbs
    shown = photo_of(r.json, pid)
    assert shown["verb"] == "submit" and shown["kind"] == "after"  # the kind the uploader gave is kept


@pytest.mark.parametrize("kind", ["later", "BEFORE", "before\x00", "x" * 300])
def test_unknown_kind_is_422(client, city, media, kind):
    r = upload(client, city.h("worker1"), photo(taken=hours_ago(1)), kind=kind)
    assert r.status_code == 422 and "kind" in r.json["fields"], r.json


def test_kind_is_answered_on_upload_and_a_retry_with_another_kind_is_another_photo(client, city, media):
    data = photo(taken=hours_ago(1))
    a = upload(client, city.h("worker1"), data, kind="before")
    again = upload(client, city.h("worker1"), data, kind="before")
    other = upload(client, city.h("worker1"), data, kind="evidence")
    assert (a.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert a.json["kind"] == "before" and again.json["id"] == a.json["id"] != other.json["id"]


# --- the dispatcher's list ----------------------------------------------------------------

def test_dispatcher_lists_flagged_photos_and_filters_by_flag(client, city, media):
    fine = uploaded(client, city, photo(taken=hours_ago(1), at=north_of(POINT_G1, 10)))
    old = uploaded(client, city, photo(taken=hours_ago(100), at=north_of(POINT_G1, 10), color=(1, 1, 1)))
    far = uploaded(client, city, photo(taken=hours_ago(1), at=north_of(POINT_G1, 9000), color=(2, 2, 2)))
    n = report(client, city, attachments=[fine, old, far])["number"]
    r = client.get("/api/v1/attachments/flagged", headers=city.h("dispatcher"))
    assert r.status_code == 200, r.json
    listed = {p["id"]: p for p in r.json["photos"]}
    assert set(listed) == {old, far}
    assert listed[old]["case_number"] == n and listed[old]["flags"] == ["taken_long_before"]
    r = client.get("/api/v1/attachments/flagged?flag=far_from_case", headers=city.h("shift"))
    assert [p["id"] for p in r.json["photos"]] == [far]
    r = client.get("/api/v1/attachments/flagged?flag=far_from_case,taken_long_before&limit=1", headers=city.h("leader"))
    assert [p["id"] for p in r.json["photos"]] == [far]  # newest first
    for query in ("flag=fake", "flag=", "limit=0", "limit=99999999999", "offset=-1", "sort=id"):
        assert client.get(f"/api/v1/attachments/flagged?{query}", headers=city.h("dispatcher")).status_code == 422


def test_flagged_list_is_for_the_dispatch_center(client, city, media):
    assert client.get("/api/v1/attachments/flagged").status_code == 401
    for who in ("worker1", "env", "officer"):
        r = client.get("/api/v1/attachments/flagged", headers=city.h(who))
        assert r.status_code == 403 and r.json["code"] == "forbidden_role", who


# --- who sees a photo --------------------------------------------------------------------

def test_the_department_next_door_cannot_read_another_departments_photos(client, city, media):
    n = report(client, city)["number"]
    to_handling(client, city, n)
    pid = uploaded(client, city, photo(taken=hours_ago(0.5), at=north_of(POINT_G1, 5)), who="env")
    do(client, city, "env", n, "report_back", note="已清运", attachments=[pid])
    for who, status in (("env", 200), ("dispatcher", 200), ("road", 404), ("worker2", 404)):
        assert client.get(f"/api/v1/attachments/{pid}", headers=city.h(who)).status_code == status, who
        assert client.get(f"/api/v1/cases/{n}", headers=city.h(who)).status_code == status, who
    assert client.get(f"/api/v1/attachments/{pid}").status_code == 401


def test_a_photo_cannot_be_attached_by_someone_else_or_to_a_second_case(client, city, media):
    pid = uploaded(client, city, photo(taken=hours_ago(1), at=north_of(POINT_G1, 5)))
    body = {"description": "x", "lon": POINT_G1[0], "lat": POINT_G1[1], "attachments": [pid]}
    r = client.post("/api/v1/cases", headers=city.h("clerk"), json=body)
    assert r.status_code == 422 and "attachments" in r.json["fields"]
    n = report(client, city, attachments=[pid])["number"]
    r = client.post("/api/v1/cases", headers=city.h("worker1"), json=body)
    assert r.status_code == 422 and "attachments" in r.json["fields"]
    assert detail(client, city, n)["photos"][0]["id"] == pid


def test_every_verbs_answer_shows_the_photos_a_read_shows(client, city, media):
    """A verb's answer skips its photo SELECT when the case's row said it had none; the photos
    of the report, one uploaded to the case after it (not yet listed by an event) and one a
    verb lists must all show in the very answer, as in a fresh read."""
    plain = report(client, city)["number"]
    answer = do(client, city, "clerk", plain, "accept")
    assert answer["photos"] == [] == detail(client, city, plain)["photos"]

    first = uploaded(client, city, photo(taken=hours_ago(1), at=north_of(POINT_G1, 20)))
    n = report(client, city, attachments=[first])["number"]
    answer = do(client, city, "clerk", n, "accept")
    assert [p["id"] for p in answer["photos"]] == [first]
    assert answer["photos"] == detail(client, city, n)["photos"]

    to_handling_from_accepted = [("shift", "open"), ("env", "sign")]
    for who, verb in to_handling_from_accepted:
        do(client, city, who, n, verb)
    proof = uploaded(client, city, photo(taken=hours_ago(0), at=north_of(POINT_G1, 10)), who="env")
    answer = do(client, city, "env", n, "report_back", note="已清理", attachments=[proof])
    assert [p["id"] for p in answer["photos"]] == [first, proof]
    assert answer["photos"] == detail(client, city, n)["photos"]

    # a case read without photos, then given one in the same request by the verb itself
    late = report(client, city)["number"]
    for who, verb in [("clerk", "accept"), ("shift", "open"), ("env", "sign")]:
        assert do(client, city, who, late, verb)["photos"] == []
    fix = uploaded(client, city, photo(taken=hours_ago(0), at=north_of(POINT_G1, 10)), who="env")
    answer = do(client, city, "env", late, "report_back", note="已清理", attachments=[fix])
    assert [p["id"] for p in answer["photos"]] == [fix] and answer["photos"][0]["verb"] == "report_back"
