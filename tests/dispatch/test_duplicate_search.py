"""The duplicate search of intake (dispatch.intake.service.find_duplicate): the nearest open
case of the same category within the configured geodesic distance and hours, ties by id; the
same answers on PostgreSQL (GiST index, ST_DWithin on geography) and SQLite (a bounded box
query, geo.area.distance_m), and an index scan on PostgreSQL."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from dispatch.cases.models import Case
from dispatch.intake.service import find_duplicate
from geo.area import GEOD, bounding_box, distance_m
from tests.factories import CaseFactory

RADIUS = 50.0  # the default setting (asserted below)
NOW = datetime.now(UTC).replace(microsecond=0)
AZIMUTHS = (0, 45, 90, 135, 180, 225, 270, 315)  # 0 and 180: the north and south edges of the box


def _at(lon, lat, metres, azimuth):
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return lon2, lat2


def _probe(session, point, category="C0101", at=NOW):
    """The case a new report at ``point`` is flagged against (None: none)."""
    return find_duplicate(session, Case(lon=point[0], lat=point[1], category_code=category, reported_at=at))


def _scenarios():
    """(name, probe point, probe category, [(label, point, category, state, hours ago)], expected
    label or None). Every scenario has its own place, kilometres from the others."""
    out = []
    for i, (lat0, name) in enumerate(((31.205, "city"), (0.0, "equator"), (-60.0, "south60"), (75.0, "north75"))):
        for j, az in enumerate(AZIMUTHS):
            for k, (metres, hit) in enumerate(((RADIUS - 0.05, True), (RADIUS + 0.05, False))):
                centre = (100.0 + i * 5 + j * 0.1 + k * 0.05, lat0)
                out.append((f"{name}-az{az}-{metres}", centre, "C0101",
                            [("edge", _at(*centre, metres, az), "C0101", "reported", 1)], "edge" if hit else None))
    c = (-70.0, 10.0)
    out.append(("other category", c, "C0101", [("x", _at(*c, 10, 90), "C0102", "reported", 1)], None))
    c = (-70.1, 10.0)
    out.append(("closed and voided", c, "C0101", [("x", _at(*c, 10, 90), "C0101", "closed", 1),
                                                  ("y", _at(*c, 5, 0), "C0101", "voided", 1)], None))
    c = (-70.2, 10.0)
    out.append(("open states count", c, "C0101", [("x", _at(*c, 10, 90), "C0101", "handling", 1)], "x"))
    c = (-70.3, 10.0)
    out.append(("too old", c, "C0101", [("x", _at(*c, 10, 90), "C0101", "reported", 24.5)], None))
    c = (-70.4, 10.0)
    out.append(("just recent", c, "C0101", [("x", _at(*c, 10, 90), "C0101", "reported", 23.5)], "x"))
    c = (-70.5, 10.0)
    out.append(("nearest of several", c, "C0101", [
        ("far", _at(*c, 40, 10), "C0101", "reported", 1), ("near", _at(*c, 20, 200), "C0101", "reported", 1),
        ("mid", _at(*c, 30, 300), "C0101", "reported", 2), ("nearer-closed", _at(*c, 5, 0), "C0101", "closed", 1),
        ("nearer-other", _at(*c, 5, 90), "C0102", "reported", 1), ("outside", _at(*c, 51, 90), "C0101", "reported", 1)],
        "near"))
    c = (-70.6, 10.0)
    out.append(("tie: the lower id", c, "C0101", [("first", _at(*c, 20, 90), "C0101", "reported", 3),
                                                   ("second", _at(*c, 20, 90), "C0101", "reported", 1)], "first"))
    # the box reaches the pole: a case across it (the other side of the world's longitudes)
    out.append(("across the pole", (10.0, 89.9998), "C0101",
                [("x", (-170.0, 89.9998), "C0101", "reported", 1)], "x"))
    # the antimeridian: -179.9998 is 44.5 m east of 179.9998 on the equator
    out.append(("across the antimeridian", (179.9998, 0.0), "C0101",
                [("x", (-179.9998, 0.0), "C0101", "reported", 1)], "x"))
    return out


SCENARIOS = _scenarios()


def _answers(session):
    labels = {}
    for _name, _probe_point, _cat, cases, _expected in SCENARIOS:
        for label, (lon, lat), category, state, hours in cases:
            case = CaseFactory(lon=lon, lat=lat, category_code=category, state=state,
                               reported_at=NOW - timedelta(hours=hours), submitted=None)
            session.flush()
            labels[case.id] = label
    got = {}
    for name, point, category, _cases, _expected in SCENARIOS:
        dup = _probe(session, point, category)
        got[name] = None if dup is None else labels[dup.id]
        if dup is not None:
            assert dup.number == session.get(Case, dup.id).number
    return got


EXPECTED = {name: expected for name, _p, _c, _cases, expected in SCENARIOS}


def test_the_scenarios_are_what_they_say():
    for name, point, _c, cases, _e in SCENARIOS:
        for label, other, *_ in cases:
            d = distance_m(*point, *other)
            if name.startswith(("city", "equator", "south60", "north75")):
                assert abs(d - RADIUS) == pytest.approx(0.05, abs=1e-6), name
            elif "pole" in name or "antimeridian" in name:
                assert 40 < d < RADIUS, (name, d)
            # every point within the radius lies in the box both backends search
            if d <= RADIUS:
                lo_lon, lo_lat, hi_lon, hi_lat = bounding_box(*point, RADIUS)
                assert lo_lon <= other[0] <= hi_lon and lo_lat <= other[1] <= hi_lat, (name, label)


def test_bounding_box_is_never_too_small():
    for lat in (-89.99, -75.0, -31.2, 0.0, 31.205, 60.0, 85.0, 89.9):
        for az in range(0, 360, 5):
            lon2, lat2 = _at(120.0, lat, RADIUS, az)
            lo_lon, lo_lat, hi_lon, hi_lat = bounding_box(120.0, lat, RADIUS)
            assert lo_lon <= lon2 <= hi_lon and lo_lat <= lat2 <= hi_lat, (lat, az)
        lo_lon, lo_lat, hi_lon, hi_lat = bounding_box(120.0, lat, RADIUS)
        if abs(lat) < 85:  # and not much larger than the circle (within 1%)
            assert (hi_lat - lo_lat) / 2 == pytest.approx(RADIUS / 110_574, rel=0.01)


def test_same_answers_on_postgresql(db_session, app):
    s = app.config["WANGGE"]
    assert (s.duplicate_distance_m, s.duplicate_hours) == (RADIUS, 24.0)
    assert _answers(db_session) == EXPECTED


def test_same_answers_on_sqlite(tmp_path):
    from tests.conftest import make_settings
    from wangge import create_app
    from wangge.cli import upgrade_database
    from wangge.extensions import db

    app = create_app(make_settings(f"sqlite:///{tmp_path / 'dup.sqlite3'}", redis_url="", data_dir=str(tmp_path)))
    with app.app_context():
        upgrade_database()
        from grid.catalog.service import load_catalog

        load_catalog(db.session)
        try:
            assert _answers(db.session) == EXPECTED
        finally:
            db.session.remove()
            db.engine.dispose()


def test_one_statement_of_ids_on_postgresql(db_session):
    """The search is one statement that selects no wide rows and uses the location index."""
    c = (121.3, 31.1)
    near = CaseFactory(lon=c[0] + 0.0002, lat=c[1], category_code="C0101", submitted=None)
    # a few thousand open C0101 cases of the last hours over ~50 x 50 km (cheaply, in SQL)
    db_session.execute(text("""
        INSERT INTO cases (number, tracking_code, channel, description, state, category_code,
                           lon, lat, location, reported_at, updated_at, version, supervised)
        SELECT 'DUPX' || g, 'dx' || g, 'web', 'x', 'reported', 'C0101',
               121.0 + (g % 70) * 0.007, 31.0 + (g / 70) * 0.007,
               ST_SetSRID(ST_MakePoint(121.0 + (g % 70) * 0.007, 31.0 + (g / 70) * 0.007), 4326),
               now() - interval '1 hour', now(), 1, false
        FROM generate_series(1, 4900) AS g"""))
    db_session.flush()
    db_session.execute(text("ANALYZE cases"))
    seen = []
    conn = db_session.connection()

    def record(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", record)
    try:
        dup = _probe(db_session, c)
    finally:
        event.remove(conn, "before_cursor_execute", record)
    assert dup is not None and dup.id == near.id
    assert len(seen) == 1, seen
    statement, parameters = seen[0]
    assert statement.lstrip().upper().startswith("SELECT CASES.ID, CASES.NUMBER")
    assert "LIMIT" in statement.upper()
    plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert "Seq Scan on cases" not in plan, plan
    assert "ix_cases_location" in plan, plan
