"""Patrols against committed PostgreSQL: one open patrol per worker under a race of threads,
the day partitions made ahead and dropped after the retention by ``wangge patrol
partitions`` and by the worker's periodic job, and concurrent first points of a new day."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from grid import roles as R
from grid.accounts.service import issue_token
from tests.committed import own_app, post_race
from tests.factories import AssignmentFactory, GridFactory, StaffFactory
from tests.mobile.fixtures_patrol import PHONE, begin, line

WORKERS = 6


@pytest.fixture
def world(fresh_pg_url):
    from wangge.extensions import db

    with own_app(fresh_pg_url) as app:
        headers = []
        with app.app_context():
            GridFactory(code="G1", x=0, y=0)
            for _ in range(WORKERS):
                staff = StaffFactory(roles=[R.GRID_WORKER])
                AssignmentFactory(staff=staff, grid_code="G1", valid_from=datetime(2020, 1, 1, tzinfo=UTC))
                headers.append({"Authorization": f"Bearer {issue_token(db.session, staff, ttl_hours=2)[0]}"})
            db.session.commit()
        yield app, headers, fresh_pg_url


def children(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'patrol_points'::regclass")}


def test_one_open_patrol_per_worker_under_a_race(world):
    app, headers, url = world
    answers = post_race(app, [(PHONE, None, headers[0])] * 6)
    codes = sorted(status for status, _ in answers)
    assert codes == [201] + [409] * 5, answers
    opened = next(body["id"] for status, body in answers if status == 201)
    assert all(body["details"]["patrol_id"] == opened for status, body in answers if status == 409)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM patrols WHERE ended_at IS NULL").fetchone()[0] == 1


def test_first_points_of_a_new_day_from_many_phones_at_once(world):
    """Six workers' first batches race to create the same missing day partition: all land."""
    app, headers, url = world
    ids = [app.test_client().post(PHONE, headers=h).json["id"] for h in headers]
    t0 = begin()
    calls = [(f"{PHONE}/{pid}/points", {"points": line(121.402, 121.403, 31.205, 4, t0)}, h)
             for pid, h in zip(ids, headers, strict=True)]
    answers = post_race(app, calls)
    assert [status for status, _ in answers] == [200] * 6, answers
    assert all(body["accepted"] == 4 for _, body in answers)
    assert f"patrol_points_p{t0:%Y%m%d}" in children(url)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM patrol_points WHERE flag IS NULL").fetchone()[0] == 24


def test_partitions_ahead_and_dropped_after_the_retention(fresh_pg_url, run_cli):
    today = datetime.now(UTC).date()
    out = run_cli(fresh_pg_url, "patrol", "partitions", "--ensure-days", "3").stdout
    expected = {f"patrol_points_p{today + timedelta(days=n):%Y%m%d}" for n in range(-1, 4)}
    assert children(fresh_pg_url) == expected and "5 partitions" in out
    assert run_cli(fresh_pg_url, "patrol", "partitions", "--ensure-days", "3").stdout.count("created") == 0
    # a day past the retention (with a point in it) and one just inside it
    old, kept = today - timedelta(days=200), today - timedelta(days=170)
    with psycopg.connect(fresh_pg_url, autocommit=True) as conn:
        for day in (old, kept):
            conn.execute(f"CREATE TABLE patrol_points_p{day:%Y%m%d} PARTITION OF patrol_points "
                         f"FOR VALUES FROM ('{day}T00:00:00+00:00') TO ('{day + timedelta(days=1)}T00:00:00+00:00')")
        staff = conn.execute("INSERT INTO staff (username, name, password_hash, active, language, timezone, "
                             "created_at) VALUES ('w', 'w', 'x', true, 'zh', 'UTC', now()) RETURNING id").fetchone()[0]
        patrol = conn.execute("INSERT INTO patrols (staff_id, started_at, ended_at, distance_m, accepted, "
                              "rejected_speed, rejected_accuracy, rejected_outside, rejected_duplicate, rejected_time) "
                              "VALUES (%s, %s, %s, 0, 1, 0, 0, 0, 0, 0) RETURNING id",
                              (staff, datetime.combine(old, datetime.min.time(), UTC),
                               datetime.combine(old, datetime.min.time(), UTC) + timedelta(hours=1))).fetchone()[0]
        conn.execute("INSERT INTO patrol_points (patrol_id, t, lon, lat) VALUES (%s, %s, 121.4, 31.2)",
                     (patrol, datetime.combine(old, datetime.min.time(), UTC) + timedelta(minutes=5)))
    out = run_cli(fresh_pg_url, "patrol", "partitions", "--drop-expired",
                  WANGGE_PATROL_RETENTION_DAYS="180").stdout
    assert f"dropped patrol_points_p{old:%Y%m%d}" in out
    after = children(fresh_pg_url)  # the command also ensures the default 7 days ahead
    assert f"patrol_points_p{old:%Y%m%d}" not in after and f"patrol_points_p{kept:%Y%m%d}" in after
    assert after - {f"patrol_points_p{kept:%Y%m%d}"} == {
        f"patrol_points_p{today + timedelta(days=n):%Y%m%d}" for n in range(-1, 8)}
    with psycopg.connect(fresh_pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM patrol_points").fetchone()[0] == 0
        assert conn.execute("SELECT accepted FROM patrols WHERE id = %s", (patrol,)).fetchone()[0] == 1


def test_the_worker_tick_keeps_the_partitions(world):
    """The periodic function registered in hooks().periodic (run by wangge.ticker)."""
    from wangge.extensions import db
    from wangge.ticker import run_periodic

    app, _, url = world
    app.config["WANGGE"].patrol_partitions_ahead = 2
    with app.app_context():
        result = run_periodic(db.session)
    mine = result["grid.patrol.partitions.periodic"]
    today: date = datetime.now(UTC).date()
    assert mine["created"] == [(today + timedelta(days=n)).isoformat() for n in range(-1, 3)]
    assert children(url) == {f"patrol_points_p{today + timedelta(days=n):%Y%m%d}" for n in range(-1, 3)}
    with app.app_context():
        assert run_periodic(db.session)["grid.patrol.partitions.periodic"] == {"created": [], "dropped": []}
