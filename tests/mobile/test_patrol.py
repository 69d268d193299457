"""Patrols through HTTP: start / end, GPS uploads filtered and counted, retries, coverage of a
known track computed independently, check-ins, role scoping, ?crs=, bad input, reports
linked to the open patrol, and the patrol indicators."""
from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from dispatch.cases.models import Case
from geo.crs import convert_point
from grid.patrol.models import Patrol, PatrolPoint
from tests.mobile.fixtures_patrol import (
    DESK,
    PHONE,
    begin,
    box_area_m2,
    geodesic_m,
    iso,
    line,
    local_day,
    start,
    upload,
)

LAT = 31.205
GRID1 = (121.40, 31.20, 121.41, 31.21)
D = 30.0  # WANGGE_PATROL_COVERAGE_M default


def test_start_end_and_one_open_patrol_at_a_time(client, city):
    patrol = start(client, city)
    assert patrol["open"] is True and patrol["totals"]["accepted"] == 0 and patrol["last"] is None
    again = client.post(PHONE, headers=city.h("worker1"))
    assert again.status_code == 409 and again.json["code"] == "patrol_open"
    assert again.json["details"]["patrol_id"] == patrol["id"]
    assert client.get(f"{PHONE}/current", headers=city.h("worker1")).json["id"] == patrol["id"]
    assert start(client, city, "worker2")["id"] != patrol["id"]  # one per worker, not one in all
    ended = client.post(f"{PHONE}/{patrol['id']}/end", headers=city.h("worker1"))
    assert ended.status_code == 200 and ended.json["open"] is False and ended.json["ended_at"]
    twice = client.post(f"{PHONE}/{patrol['id']}/end", headers=city.h("worker1"))
    assert twice.status_code == 200 and twice.json["ended_at"] == ended.json["ended_at"]
    r = client.get(f"{PHONE}/current", headers=city.h("worker1"))
    assert r.status_code == 404 and r.json["code"] == "not_found"
    assert start(client, city)["id"] != patrol["id"]  # a new one after the end


def test_coverage_of_a_known_track(client, city):
    """A straight walk along lat 31.205 inside 一号网格, then on into 二号网格 (not worker1's).
    Covered area in 一号网格 (computed here from geodesic lengths, not by the service): the
    first stretch's buffer is a stadium 2·D·L + π·D²; the second stretch's is cut by the
    border at lon 121.41: 2·D·L' + π·D²/2 of it lies in 一号网格."""
    patrol = start(client, city)
    t0 = begin()
    first = line(121.402, 121.404, LAT, 9, t0)  # 9 points, 10 s apart, ~24 m per step
    gap = t0 + timedelta(minutes=1, seconds=40)  # 20 s after the last one, beyond nothing: joined
    second = line(121.406, 121.4145, LAT, 12, gap, step_s=5, accuracy=5)  # ~73 m per 5 s: too fast
    out = upload(client, city, patrol["id"], first)
    assert out["accepted"] == 9 and sum(out["rejected"].values()) == 0
    # the second walk is fast (14.6 m/s) but legal (< 50 m/s); it starts 20 s and 190 m later
    out = upload(client, city, patrol["id"], second)
    assert out["accepted"] == 12, out
    figures = client.get(f"{PHONE}/figures", query_string={"day": local_day(t0).isoformat()},
                         headers=city.h("worker1")).json
    assert [g["code"] for g in figures["grids"]] == ["31010100100101"]
    grid = figures["grids"][0]
    area = box_area_m2(*GRID1)
    assert grid["area_m2"] == pytest.approx(area, rel=1e-3)
    # the whole track is one line (gaps <= 300 s): 121.402 -> 121.41 in 一号网格, cap at the start
    inside = geodesic_m(121.402, LAT, 121.41, LAT)
    expected = 2 * D * inside + math.pi * D * D / 2
    assert grid["covered_m2"] == pytest.approx(expected, rel=0.01)
    assert grid["coverage"] == pytest.approx(expected / area, rel=0.01)
    assert figures["coverage"] == pytest.approx(expected / area, rel=0.01)
    walked = geodesic_m(121.402, LAT, 121.4145, LAT)
    assert figures["distance_m"] == pytest.approx(walked, rel=0.005)
    assert figures["points"] == 21 and figures["patrols"] == 1 and figures["coverage_distance_m"] == D
    assert figures["patrol_seconds"] >= 0

    # a worker with no points covers nothing
    start(client, city, "worker2")
    other = client.get(f"{PHONE}/figures", headers=city.h("worker2")).json
    assert other["grids"][0]["code"] == "31010100100102" and other["grids"][0]["covered_m2"] == 0
    assert other["distance_m"] == 0 and other["coverage"] == 0


def test_a_long_gap_splits_the_track(client, city, app):
    """Two stretches 10 minutes apart are not joined: coverage is two stadiums."""
    patrol = start(client, city)
    t0 = begin() - timedelta(minutes=0)
    a = line(121.402, 121.403, LAT, 3, t0)
    b = line(121.407, 121.408, LAT, 3, t0 + timedelta(seconds=200))
    app.config["WANGGE"].patrol_gap_seconds = 60.0
    try:
        upload(client, city, patrol["id"], a + b)
        figures = client.get(f"{PHONE}/figures", query_string={"day": local_day(t0).isoformat()},
                             headers=city.h("worker1")).json
        track = client.get(f"{PHONE}/track", query_string={"day": local_day(t0).isoformat()},
                           headers=city.h("worker1")).json
    finally:
        app.config["WANGGE"].patrol_gap_seconds = 300.0
    one = 2 * D * geodesic_m(121.402, LAT, 121.403, LAT) + math.pi * D * D
    assert figures["grids"][0]["covered_m2"] == pytest.approx(2 * one, rel=0.01)
    assert len(track["features"]) == 2 and [f["properties"]["points"] for f in track["features"]] == [3, 3]


def test_every_filter_reason_is_counted_and_a_retry_adds_nothing(client, city, db_session):
    patrol = start(client, city)
    t0 = begin()
    good = line(121.402, 121.404, LAT, 5, t0)  # t0 .. t0+40 s
    bad = [
        {"time": iso(t0 + timedelta(seconds=41)), "lon": 121.409, "lat": LAT},  # 480 m in 1 s: a jump
        {"time": iso(t0 + timedelta(seconds=50)), "lon": 121.4042, "lat": LAT},  # back on track: kept
        {"time": iso(t0 + timedelta(seconds=55)), "lon": 121.4043, "lat": LAT, "accuracy": 150},
        {"time": iso(t0 + timedelta(seconds=56)), "lon": 121.45, "lat": LAT},  # ~3.8 km east of 一号网格
        {"time": iso(t0 + timedelta(seconds=60)), "lon": 121.4044, "lat": LAT},
        {"time": iso(t0 + timedelta(seconds=60)), "lon": 121.4045, "lat": LAT},  # same time again
        {"time": iso(t0 - timedelta(hours=1)), "lon": 121.4044, "lat": LAT},  # before the start
        {"time": iso(t0 + timedelta(hours=1)), "lon": 121.4044, "lat": LAT},  # in the future
    ]
    out = upload(client, city, patrol["id"], bad + good)  # any order
    assert out["accepted"] == 7
    assert out["rejected"] == {"speed": 1, "accuracy": 1, "outside": 1, "duplicate": 1, "time": 2}
    assert out["totals"] == {"accepted": 7, "rejected": out["rejected"]}
    stored = dict(db_session.execute(select(PatrolPoint.flag, func.count()).where(
        PatrolPoint.patrol_id == patrol["id"]).group_by(PatrolPoint.flag)).all())
    assert stored == {None: 7, "speed": 1, "accuracy": 1, "outside": 1, "time": 2}  # kept, flagged

    again = upload(client, city, patrol["id"], bad + good)
    assert again["accepted"] == 0 and again["rejected"] == {"speed": 0, "accuracy": 0, "outside": 0,
                                                            "duplicate": 13, "time": 0}
    assert again["totals"] == out["totals"]  # the retry changed nothing
    assert db_session.scalar(select(func.count()).select_from(PatrolPoint)
                             .where(PatrolPoint.patrol_id == patrol["id"])) == 12
    last = client.get(f"{PHONE}/current", headers=city.h("worker1")).json["last"]
    assert (last["lon"], last["lat"]) == (pytest.approx(121.4044), pytest.approx(LAT))

    # after the end, points taken before it are still accepted; later ones are "time"
    client.post(f"{PHONE}/{patrol['id']}/end", headers=city.h("worker1"))
    late = upload(client, city, patrol["id"], [
        {"time": iso(t0 + timedelta(seconds=70)), "lon": 121.4046, "lat": LAT},
        {"time": iso(t0 + timedelta(minutes=20)), "lon": 121.4047, "lat": LAT}])
    assert late["accepted"] == 1 and late["rejected"]["time"] == 1


def test_settings_change_the_filters(client, city, app):
    patrol = start(client, city)
    t0 = begin()
    app.config["WANGGE"].patrol_max_accuracy_m = 5.0
    try:
        out = upload(client, city, patrol["id"], line(121.402, 121.403, LAT, 3, t0, accuracy=6))
    finally:
        app.config["WANGGE"].patrol_max_accuracy_m = 100.0
    assert out["accepted"] == 0 and out["rejected"]["accuracy"] == 3


def test_checkin_at_my_grid_only(client, city):
    patrol = start(client, city)
    r = client.post(f"{PHONE}/{patrol['id']}/checkins", json={"lon": 121.405, "lat": LAT}, headers=city.h("worker1"))
    assert r.status_code == 201 and r.json["grid_code"] == "31010100100101" and r.json["grid_name"] == "一号网格"
    r = client.post(f"{PHONE}/{patrol['id']}/checkins", json={"lon": 121.415, "lat": LAT}, headers=city.h("worker1"))
    assert r.status_code == 422 and r.json["code"] == "not_my_grid" and "31010100100102" in r.json["message"]
    r = client.post(f"{PHONE}/{patrol['id']}/checkins", json={"lon": 100, "lat": 10}, headers=city.h("worker1"))
    assert r.status_code == 404 and r.json["code"] == "point_outside"
    # gcj02 in, gcj02 out: the point is found where the phone drew it
    glon, glat = convert_point(121.405, LAT, "wgs84", "gcj02")
    r = client.post(f"{PHONE}/{patrol['id']}/checkins", json={"lon": glon, "lat": glat, "crs": "gcj02"},
                    headers=city.h("worker1"))
    assert r.status_code == 201 and r.json["lon"] == pytest.approx(glon, abs=1e-6)
    client.post(f"{PHONE}/{patrol['id']}/end", headers=city.h("worker1"))
    r = client.post(f"{PHONE}/{patrol['id']}/checkins", json={"lon": 121.405, "lat": LAT}, headers=city.h("worker1"))
    assert r.status_code == 409 and r.json["code"] == "patrol_ended"


def test_who_sees_what(client, city):
    patrol = start(client, city)
    t0 = begin()
    upload(client, city, patrol["id"], line(121.402, 121.404, LAT, 5, t0))
    day = local_day(t0).isoformat()
    # another worker cannot touch or read worker1's patrol
    for path, body in ((f"{PHONE}/{patrol['id']}/points", {"points": line(121.402, 121.403, LAT, 2, t0)}),
                       (f"{PHONE}/{patrol['id']}/end", None),
                       (f"{PHONE}/{patrol['id']}/checkins", {"lon": 121.405, "lat": LAT})):
        r = client.post(path, json=body, headers=city.h("worker2"))
        assert r.status_code == 404 and r.json["code"] == "not_found", path
    mine = client.get(f"{PHONE}/track", query_string={"day": day}, headers=city.h("worker2")).json
    assert mine["features"] == []
    r = client.get(f"{PHONE}/track", query_string={"day": day, "staff_id": city.staff["worker1"].id},
                   headers=city.h("worker2"))
    assert r.status_code == 422  # the phone's track is always my own: no staff_id
    # the desk views are for leaders, the shift leader, dispatchers and admins
    for who in ("worker1", "worker2", "env", "clerk"):
        assert client.get(f"{DESK}/active", headers=city.h(who)).status_code == 403, who
        assert client.get(f"{DESK}/track", query_string={"staff_id": city.staff["worker1"].id},
                          headers=city.h(who)).status_code == 403, who
    assert client.get(f"{DESK}/active").status_code == 401
    assert client.post(PHONE).status_code == 401
    for who in ("leader", "shift", "dispatcher"):
        r = client.get(f"{DESK}/track", query_string={"staff_id": city.staff["worker1"].id, "day": day},
                       headers=city.h(who))
        assert r.status_code == 200 and len(r.json["features"]) == 1, who
        assert r.json["features"][0]["geometry"]["type"] == "LineString"
        assert r.json["features"][0]["properties"]["points"] == 5
    r = client.get(f"{DESK}/track", query_string={"staff_id": 2**31 - 1}, headers=city.h("leader"))
    assert r.status_code == 404
    # leaders and the shift leader cannot start a patrol
    assert client.post(PHONE, headers=city.h("leader")).status_code == 403
    r = client.get(f"{DESK}/figures", query_string={"staff_id": city.staff["worker1"].id, "day": day},
                   headers=city.h("leader"))
    assert r.status_code == 200 and r.json["points"] == 5


def test_positions_and_tracks_in_every_crs(client, city):
    patrol = start(client, city)
    t0 = begin()
    wgs = line(121.402, 121.404, LAT, 5, t0)
    gcj = [{**p, **dict(zip(("lon", "lat"), convert_point(p["lon"], p["lat"], "wgs84", "gcj02"), strict=True))}
           for p in wgs]
    out = upload(client, city, patrol["id"], gcj, crs="gcj02")
    assert out["accepted"] == 5
    # stored in WGS-84: the track in wgs84 is the original line
    track = client.get(f"{PHONE}/track", query_string={"day": local_day(t0).isoformat()},
                       headers=city.h("worker1")).json
    coords = track["features"][0]["geometry"]["coordinates"]
    assert coords[0] == [pytest.approx(121.402, abs=1e-6), pytest.approx(LAT, abs=1e-6)]
    for crs in ("gcj02", "bd09"):
        track = client.get(f"{PHONE}/track", query_string={"day": local_day(t0).isoformat(), "crs": crs},
                           headers=city.h("worker1")).json
        expected = convert_point(121.404, LAT, "wgs84", crs)
        assert track["crs"] == crs
        assert track["features"][0]["geometry"]["coordinates"][-1] == [pytest.approx(expected[0], abs=1e-6),
                                                                       pytest.approx(expected[1], abs=1e-6)]
        active = client.get(f"{DESK}/active", query_string={"crs": crs}, headers=city.h("leader")).json
        item = next(i for i in active["items"] if i["patrol_id"] == patrol["id"])
        assert (item["last"]["lon"], item["last"]["lat"]) == (pytest.approx(expected[0], abs=1e-6),
                                                              pytest.approx(expected[1], abs=1e-6))
        assert item["staff"]["id"] == city.staff["worker1"].id
    # a point in bd09 inside the batch of another system
    bd = convert_point(121.4041, LAT, "wgs84", "bd09")
    out = upload(client, city, patrol["id"], [{"time": iso(t0 + timedelta(seconds=45)), "lon": bd[0], "lat": bd[1],
                                               "crs": "bd09"}], crs="gcj02")
    assert out["accepted"] == 1
    r = client.get(f"{DESK}/active", query_string={"crs": "utm"}, headers=city.h("leader"))
    assert r.status_code == 422 and "crs" in r.json["fields"]


def test_bad_input_is_refused(client, city):
    patrol = start(client, city)
    url = f"{PHONE}/{patrol['id']}/points"
    t0 = begin()
    ok = line(121.402, 121.403, LAT, 2, t0)
    cases = [
        ({"points": line(121.402, 121.403, LAT, 501, t0, step_s=0.01)}, "points"),
        ({"points": []}, "points"),
        ({"points": [{**ok[0], "time": "0001-01-01T00:00:00+00:00"}]}, "points"),
        ({"points": [{**ok[0], "time": "9999-12-31T23:59:59+00:00"}]}, "points"),
        ({"points": [{**ok[0], "time": "2026-01-01T00:00:00"}]}, "points"),  # no offset
        ({"points": [{**ok[0], "lon": 1e308}]}, "points"),
        ({"points": [{**ok[0], "accuracy": 10**400}]}, "points"),
        ({"points": [{**ok[0], "speed": -1}]}, "points"),
        ({"points": ok, "crs": "utm"}, "crs"),
        ({"points": ok, "extra": 1}, "extra"),
    ]
    for body, field in cases:
        r = client.post(url, json=body, headers=city.h("worker1"))
        assert r.status_code == 422 and field in r.json["fields"], (body if len(str(body)) < 300 else field, r.json)
    r = client.post(url, data='{"points": [{"time": "2026-01-01T00:00:00+08:00\\u0000", "lon": 1, "lat": 2}]}',
                    content_type="application/json", headers=city.h("worker1"))
    assert r.status_code == 422 and r.json["code"] == "invalid_characters"
    r = client.post(url, data='{"points": [{"time": "x", "lon": 1e999, "lat": 2}]}', content_type="application/json",
                    headers=city.h("worker1"))
    assert r.status_code == 422
    assert client.post(f"{PHONE}/{2**31}/points", json={"points": ok}, headers=city.h("worker1")).status_code == 404
    assert client.post(f"{PHONE}/999999/points", json={"points": ok}, headers=city.h("worker1")).json["code"] == "not_found"
    r = client.get(f"{PHONE}/figures", query_string={"day": "0001-01-01"}, headers=city.h("worker1"))
    assert r.status_code == 422 and "day" in r.json["fields"]
    # nothing of the refused batches was stored
    assert client.get(f"{PHONE}/current", headers=city.h("worker1")).json["totals"]["accepted"] == 0


def test_a_report_made_during_a_patrol_links_to_it(client, city, db_session):
    body = {"description": "路边有暴露垃圾", "category_code": "E0102", "lon": 121.405, "lat": LAT}
    before = client.post("/api/v1/cases", json=body, headers=city.h("worker1")).json["number"]
    patrol = start(client, city)
    during = client.post("/api/v1/cases", json=body, headers=city.h("worker1")).json["number"]
    other = client.post("/api/v1/cases", json=body, headers=city.h("clerk")).json["number"]
    client.post(f"{PHONE}/{patrol['id']}/end", headers=city.h("worker1"))
    after = client.post("/api/v1/cases", json=body, headers=city.h("worker1")).json["number"]
    links = dict(db_session.execute(select(Case.number, Case.patrol_id)).all())
    assert links[during] == patrol["id"]
    assert links[before] is None and links[after] is None and links[other] is None


def test_patrol_figures_feed_the_indicators(client, city):
    patrol = start(client, city)
    t0 = begin()
    upload(client, city, patrol["id"], line(121.402, 121.404, LAT, 9, t0))
    day = local_day(t0).isoformat()
    r = client.get("/api/v1/kpi", query_string={"from": day, "to": day, "by": "worker"}, headers=city.h("leader"))
    assert r.status_code == 200, r.json
    row = next(row for row in r.json["rows"] if row["key"] == city.staff["worker1"].id)
    covered = 2 * D * geodesic_m(121.402, LAT, 121.404, LAT) + math.pi * D * D
    assert row["patrol_area_m2"] == pytest.approx(box_area_m2(*GRID1), rel=1e-3)
    assert row["patrol_covered_m2"] == pytest.approx(covered, rel=0.01)
    assert row["patrol_coverage_rate"] == pytest.approx(covered / box_area_m2(*GRID1), rel=0.01)
    assert row["patrol_distance_m"] == pytest.approx(geodesic_m(121.402, LAT, 121.404, LAT), abs=1)
    assert row["patrol_seconds"] >= 0
    by_grid = client.get("/api/v1/kpi", query_string={"from": day, "to": day, "by": "grid"},
                         headers=city.h("leader")).json["rows"]
    grid = next(row for row in by_grid if row["key"] == "31010100100101")
    assert grid["patrol_coverage_rate"] == pytest.approx(row["patrol_coverage_rate"])
    csv = client.get("/api/v1/kpi", query_string={"from": day, "to": day, "by": "worker", "format": "csv"},
                     headers=city.h("leader"))
    assert "patrol_coverage_rate" in csv.data.decode("utf-8-sig").splitlines()[0]


def test_points_go_to_a_day_partition_made_on_demand(client, city, db_session):
    """On PostgreSQL the points land in their UTC day's partition, created by the request
    when the job has not made it yet (this database has none)."""
    patrol = start(client, city)
    t0 = begin()
    upload(client, city, patrol["id"], line(121.402, 121.403, LAT, 3, t0))
    parent = db_session.scalar(text("SELECT relkind FROM pg_class WHERE relname = 'patrol_points'"))
    assert parent == "p"  # a partitioned table
    name = f"patrol_points_p{t0.strftime('%Y%m%d')}"
    children = set(db_session.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'patrol_points'::regclass")))
    assert name in children
    where = db_session.scalar(text(f"SELECT count(*) FROM {name} WHERE patrol_id = :p"), {"p": patrol["id"]})
    assert where == 3
    assert db_session.scalar(select(Patrol.accepted).where(Patrol.id == patrol["id"])) == 3
