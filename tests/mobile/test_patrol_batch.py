"""The column-wise loader of a GPS batch (grid.patrol.batch.load_batch) against the schema it
stands in for (grid.patrol.schemas.TrackBatchIn, marshmallow's own load): the same verdict,
accept or refuse, and the same values, over good and bad points; through HTTP a refused
batch answers the schema's 422 (the field named down to the point), an accepted one stores
what the schema would have loaded."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from marshmallow import Schema, ValidationError

from grid.patrol.batch import PointBatch, load_batch
from grid.patrol.schemas import TrackBatchIn
from tests.mobile.fixtures_patrol import PHONE, begin, iso, line, start

LAT = 31.205
T0 = "2026-03-01T08:00:00+08:00"
GOOD = {"time": T0, "lon": 121.405, "lat": LAT}

GOOD_POINTS = [
    GOOD,
    {**GOOD, "accuracy": 5, "speed": 1.25},
    {**GOOD, "accuracy": None, "speed": None, "crs": None},
    {**GOOD, "crs": "GCJ02"},
    {**GOOD, "crs": " bd09 "},
    {**GOOD, "lon": -180, "lat": 90},
    {**GOOD, "lon": 180.0, "lat": -90.0, "accuracy": 100000, "speed": 1000},
    {**GOOD, "accuracy": 0, "speed": 0.0},
    {**GOOD, "lon": "121.5"},                       # marshmallow's Float reads numeric strings
    {**GOOD, "lat": " 31.2 ", "speed": "1e1"},
    {**GOOD, "lon": 121},                           # an integer
    {**GOOD, "time": "2026-03-01T00:00:00Z"},
    {**GOOD, "time": "2026-03-01T08:00:00.123456-05:30"},
    {**GOOD, "time": "1970-01-01T08:00:00+08:00"},  # 1970-01-01T00:00Z: the first moment allowed
    {**GOOD, "time": "2200-12-31T12:00:00+00:00"},
    {**GOOD, "time": "20260301T080000+0800"},       # basic ISO form, read by fromisoformat
]

BAD_POINTS = [
    {"lon": 121.4, "lat": LAT},                     # no time
    {"time": T0, "lat": LAT},                       # no lon
    {"time": T0, "lon": 121.4},                     # no lat
    {**GOOD, "time": "2026-03-01T08:00:00"},        # naive
    {**GOOD, "time": "yesterday"},
    {**GOOD, "time": 1772323200},
    {**GOOD, "time": None},
    {**GOOD, "time": "0001-01-01T00:00:00+00:00"},
    {**GOOD, "time": "9999-12-31T23:59:59+00:00"},
    {**GOOD, "time": "1970-01-01T07:59:59+08:00"},  # 1969 in UTC
    {**GOOD, "time": "2200-12-31T23:59:59-08:00"},  # 2201 in UTC
    {**GOOD, "lon": 180.0001},
    {**GOOD, "lat": -90.5},
    {**GOOD, "lon": None},
    {**GOOD, "lon": True},
    {**GOOD, "lat": False},
    {**GOOD, "lon": "east"},
    {**GOOD, "lon": "nan"},
    {**GOOD, "lon": float("nan")},
    {**GOOD, "lat": float("inf")},
    {**GOOD, "lon": 10**400},
    {**GOOD, "lon": [121.4]},
    {**GOOD, "lon": {"v": 1}},
    {**GOOD, "accuracy": -0.1},
    {**GOOD, "accuracy": 100000.5},
    {**GOOD, "accuracy": True},
    {**GOOD, "speed": 1000.01},
    {**GOOD, "speed": "fast"},
    {**GOOD, "crs": "utm"},
    {**GOOD, "crs": 4326},
    {**GOOD, "crs": ""},
    {**GOOD, "extra": 1},
    {**GOOD, "t": T0},                              # the attribute name is not a key
    "121.4,31.2",
    [121.4, 31.2],
    None,
]

GOOD_BODIES = [{"points": [p]} for p in GOOD_POINTS] + [
    {"points": GOOD_POINTS},
    {"points": [GOOD] * 500},
    {"points": [GOOD], "crs": "gcj02"},
    {"points": [GOOD], "crs": "WGS84"},
]
BAD_BODIES = [{"points": [GOOD, GOOD, p]} for p in BAD_POINTS] + [
    {},
    {"points": []},
    {"points": [GOOD] * 501},
    {"points": None},
    {"points": GOOD},
    {"points": "x"},
    {"points": [GOOD], "crs": None},
    {"points": [GOOD], "crs": "utm"},
    {"points": [GOOD], "crs": 1},
    {"points": [GOOD], "extra": True},
    {"crs": "wgs84"},
    [GOOD],
    "points",
    None,
]


def marshmallow_load(body):
    """The schema's own verdict (marshmallow's load, not the fast path in front of it)."""
    return Schema.load(TrackBatchIn(), body)


@pytest.mark.parametrize("body", GOOD_BODIES, ids=lambda b: json.dumps(b, default=str)[:70])
def test_good_batches_load_the_same(body):
    expected = marshmallow_load(body)
    fast = load_batch(body)
    assert fast is not None, body
    crs, points = fast
    assert crs == expected["crs"]
    assert points.dicts() == expected["points"]
    # and the schema's load (what the view calls) takes the fast path with the same result
    loaded = TrackBatchIn().load(body)
    assert isinstance(loaded["points"], PointBatch) and loaded["points"].dicts() == expected["points"]


@pytest.mark.parametrize("body", BAD_BODIES, ids=lambda b: json.dumps(b, default=str)[:70])
def test_bad_batches_are_refused_by_both(body):
    with pytest.raises(ValidationError):
        marshmallow_load(body)
    assert load_batch(body) is None
    with pytest.raises(ValidationError):  # what the view calls: the schema judges, the 422 is its
        TrackBatchIn().load(body)


def _keys(tree):
    """The shape of an error tree (keys as JSON writes them), without the messages."""
    if isinstance(tree, dict):
        return {str(k): _keys(v) for k, v in tree.items()}
    return None


def test_a_refused_batch_answers_the_schemas_422_naming_the_point(client, city):
    patrol = start(client, city)
    url = f"{PHONE}/{patrol['id']}/points"
    ok = line(121.402, 121.403, LAT, 20, begin())
    for k, bad in ((17, {"lat": 91}), (0, {"time": "2026-03-01T08:00:00"}), (19, {"speed": -1, "lon": "x"}),
                   (3, {"crs": "utm"}), (5, {"oops": 1})):
        points = [dict(p) for p in ok]
        points[k].update(bad)
        r = client.post(url, json={"points": points}, headers=city.h("worker1"))
        assert r.status_code == 422 and r.json["code"] == "validation_error", r.json
        with pytest.raises(ValidationError) as refused:
            marshmallow_load(json.loads(json.dumps({"points": points})))
        assert _keys(r.json["fields"]) == _keys(refused.value.messages)
        assert set(r.json["fields"]["points"][str(k)]) == set(bad), r.json
    # nothing was stored by the refused batches; the good one still goes in whole
    assert client.get(f"{PHONE}/current", headers=city.h("worker1")).json["totals"]["accepted"] == 0
    r = client.post(url, json={"points": ok}, headers=city.h("worker1"))
    assert r.status_code == 200 and r.json["accepted"] == 20


def test_numbers_as_strings_are_stored_as_the_schema_reads_them(client, city):
    patrol = start(client, city)
    t0 = begin()
    points = [{"time": iso(t0 + timedelta(seconds=10 * i)), "lon": f"{121.402 + 0.0001 * i}", "lat": str(LAT),
               "accuracy": "8", "speed": 1} for i in range(3)]
    r = client.post(f"{PHONE}/{patrol['id']}/points", json={"points": points}, headers=city.h("worker1"))
    assert r.status_code == 200 and r.json["accepted"] == 3, r.json
    current = client.get(f"{PHONE}/current", headers=city.h("worker1")).json
    assert current["last"]["lon"] == pytest.approx(121.4022) and current["last"]["lat"] == pytest.approx(LAT)


def test_nul_and_lone_surrogates_are_still_refused_before_the_loader(client, city):
    """The input guard skips its JSON walk for bodies without a \\u0000 / \\uD8xx..\\uDFxx escape
    or a surrogate's UTF-8 bytes: each way in is still refused (422 invalid_characters)."""
    patrol = start(client, city)
    url = f"{PHONE}/{patrol['id']}/points"
    head = '{"points": [{"time": "' + iso(begin()) + '", "lon": 121.405, "lat": 31.205'
    bodies = [
        (head + ', "crs": "wgs84\\u0000"}]}').encode(),
        (head + ', "crs\\u0000": 1}]}').encode(),
        (head + ', "crs": "\\uDC00"}]}').encode(),
        (head + ', "crs": "\\ud83d"}]}').encode(),
        (head + ', "crs": "\ud800"}]}').encode("utf-8", "surrogatepass"),
        (head + ', "crs": "wgs84\\u0000"}]}').encode("utf-16"),
    ]
    for body in bodies:
        r = client.post(url, data=body, content_type="application/json", headers=city.h("worker1"))
        assert r.status_code == 422 and r.json["code"] == "invalid_characters", (body, r.json)
    assert client.get(f"{PHONE}/current", headers=city.h("worker1")).json["totals"]["accepted"] == 0


def test_a_batch_partly_stored_before_counts_only_its_new_points(client, city):
    """The insert and the patrol's update go in one statement when every row is new; a batch
    overlapping an earlier one (a phone resending with new points) takes the other path: only
    the new points count, the track's distance and last point move by them alone."""
    patrol = start(client, city)
    pts = line(121.401, 121.4055, LAT, 15, begin(), step_s=10)
    first = client.post(f"{PHONE}/{patrol['id']}/points", json={"points": pts[:10]}, headers=city.h("worker1")).json
    assert first["accepted"] == 10 and first["totals"]["accepted"] == 10
    second = client.post(f"{PHONE}/{patrol['id']}/points", json={"points": pts[5:]}, headers=city.h("worker1")).json
    assert second["accepted"] == 5 and second["rejected"]["duplicate"] == 5
    assert second["totals"] == {"accepted": 15, "rejected": {"speed": 0, "accuracy": 0, "outside": 0,
                                                             "duplicate": 0, "time": 0}}
    again = client.post(f"{PHONE}/{patrol['id']}/points", json={"points": pts[5:]}, headers=city.h("worker1")).json
    assert again["accepted"] == 0 and again["rejected"]["duplicate"] == 10 and again["totals"] == second["totals"]
    current = client.get(f"{PHONE}/current", headers=city.h("worker1")).json
    assert current["last"]["lon"] == pytest.approx(121.4055)
    from tests.mobile.fixtures_patrol import geodesic_m
    # 428.8 m on the ellipsoid; the service's haversine (sphere) is within 0.3%. Counting the
    # overlap twice would add 5 steps of 30.6 m, losing it would take them away.
    assert current["distance_m"] == pytest.approx(geodesic_m(121.401, LAT, 121.4055, LAT), rel=0.003)


def test_points_are_stored_exactly_as_sent(client, city, db_session):
    """The columns travel as array literals (repr of floats, isoformat of times): what is
    stored reads back equal, to the last bit and the microsecond."""
    from sqlalchemy import select

    from grid.patrol.models import PatrolPoint

    patrol = start(client, city)
    t = begin() + timedelta(microseconds=123457)
    sent = [{"time": iso(t), "lon": 121.40512345678901, "lat": 31.205000000000002, "accuracy": 4.999999999999999,
             "speed": 1e-07},
            {"time": iso(t + timedelta(seconds=1, microseconds=1)), "lon": 121.4051235, "lat": LAT}]
    r = client.post(f"{PHONE}/{patrol['id']}/points", json={"points": sent}, headers=city.h("worker1"))
    assert r.status_code == 200 and r.json["accepted"] == 2
    rows = db_session.execute(select(PatrolPoint.t, PatrolPoint.lon, PatrolPoint.lat, PatrolPoint.accuracy,
                                     PatrolPoint.speed, PatrolPoint.flag)
                              .where(PatrolPoint.patrol_id == patrol["id"]).order_by(PatrolPoint.t)).all()
    assert [tuple(row) for row in rows] == [
        (t, 121.40512345678901, 31.205000000000002, 4.999999999999999, 1e-07, None),
        (t + timedelta(seconds=1, microseconds=1), 121.4051235, LAT, None, None, None)]
