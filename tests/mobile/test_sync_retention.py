"""The change feed's retention (mobile_api.sync.retention), with committed data: the worker's
tick and ``wangge sync prune`` delete old feed rows in batches and raise the horizon; a phone
whose cursor needs a deleted row gets ``reset`` and a fresh snapshot, one whose cursor is
newer carries on with its delta. On PostgreSQL and on the embedded SQLite file (where an
emptied feed must not hand out its old ids again)."""
from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import text

from grid import roles as R
from grid.accounts.service import issue_token
from tests.committed import own_app
from tests.conftest import make_settings
from tests.embedded.test_embedded_smoke import embedded_env, wangge
from tests.factories import CaseFactory, DepartmentFactory, StaffFactory
from tests.mobile.fixtures_inbox import pull_committed as _pull
from tests.mobile.fixtures_inbox import updated_descriptions as _updated
from wangge.config import Settings

JOB = "mobile_api.sync.retention.periodic"
RESET = ["cases", "enforcement"]


def _city(db):
    """ENV's handler and two of ENV's cases, committed."""
    env = DepartmentFactory(code="ENV", name="环卫所")
    handler = StaffFactory(roles=[R.DEPARTMENT_HANDLER], department_id=env.id)
    a = CaseFactory(state="dispatched", department_id=env.id)
    b = CaseFactory(state="dispatched", department_id=env.id)
    headers = {"Authorization": f"Bearer {issue_token(db.session, handler, ttl_hours=2)[0]}"}
    ids = {"A": (a.id, a.number), "B": (b.id, b.number)}
    db.session.commit()
    return headers, ids


@pytest.fixture
def world(fresh_pg_url):
    from wangge.extensions import db

    with own_app(fresh_pg_url) as app:
        with app.app_context():
            headers, ids = _city(db)
        yield app, headers, ids, fresh_pg_url


def _pg(url, sql, *args):
    with psycopg.connect(url) as conn:
        cur = conn.execute(sql, args)
        return cur.fetchall() if cur.description else None


def _age_all(url, days=40):
    _pg(url, "UPDATE sync_feed SET created_at = created_at - make_interval(days => %s)", days)


def _tick(app):
    from wangge.extensions import db
    from wangge.ticker import run_periodic

    with app.app_context():
        return run_periodic(db.session)[JOB]


def test_a_cursor_before_the_pruned_horizon_gets_a_reset_and_a_snapshot(world):
    app, headers, ids, url = world
    (a_id, a_number), (b_id, b_number) = ids["A"], ids["B"]
    old = _pull(app, headers)["cursor"]
    _pg(url, "UPDATE cases SET description = 'changed', version = version + 1 WHERE id = %s", a_id)
    rows = _pg(url, "SELECT count(*) FROM sync_feed")[0][0]
    _age_all(url)
    done = _tick(app)
    assert done["deleted"] == rows and done["more"] is False
    assert _pg(url, "SELECT count(*) FROM sync_feed")[0][0] == 0
    (pruned_id, pruned_txid, pruned_rows), = _pg(url, "SELECT pruned_id, pruned_txid, pruned_rows FROM sync_feed_horizon")
    assert pruned_rows == rows and pruned_id > 0 and pruned_txid > 0
    # the change to A is gone from the feed: the old cursor is answered with a reset and a snapshot
    answer = _pull(app, headers, old)
    assert answer["reset"] == RESET
    assert _updated(answer)[a_number] == "changed" and set(_updated(answer)) == {a_number, b_number}
    again = _pull(app, headers, answer["cursor"])
    assert again["reset"] == [] and _updated(again) == {}
    _pg(url, "UPDATE cases SET description = 'later', version = version + 1 WHERE id = %s", b_id)
    delta = _pull(app, headers, again["cursor"])
    assert delta["reset"] == [] and _updated(delta) == {b_number: "later"}


@pytest.mark.alone  # transaction ids are the cluster's: another worker's could cost a reset
def test_a_transaction_of_another_database_is_not_waited_for(world):
    """Transaction ids are the cluster's: one running in another database when the phone
    pulled, committed before the prune, never wrote this feed and must not cost a reset."""
    from tests.conftest import ADMIN_URL

    app, headers, ids, url = world
    (a_id, a_number), _ = ids["A"], ids["B"]
    c0 = _pull(app, headers)["cursor"]
    with psycopg.connect(ADMIN_URL) as elsewhere:
        foreign = int(elsewhere.execute("SELECT pg_current_xact_id()::text").fetchone()[0])
        _pg(url, "UPDATE cases SET description = 'seen', version = version + 1 WHERE id = %s", a_id)
        c1_answer = _pull(app, headers, c0)  # taken while that transaction runs
        top = _pg(url, "SELECT max(txid) FROM sync_feed")[0][0]
        assert foreign < top  # else the prune could not be mistaken about it anyway
    # committed now; then everything already pulled is pruned
    assert _updated(c1_answer) == {a_number: "seen"}
    _age_all(url)
    assert _tick(app)["deleted"] > 0
    answer = _pull(app, headers, c1_answer["cursor"])
    assert answer["reset"] == [] and _updated(answer) == {}


def test_an_ended_transaction_that_left_no_feed_row_is_not_waited_for(world):
    """A transaction in the snapshot that has ended by the time the mark is made: waited for
    only if it left rows in our feed (they may be missing from this pull); one that ended
    without any (another database's, whose session ``_running_elsewhere`` can no longer see)
    writes nothing more. One still running is waited for."""
    from mobile_api.sync.feed import _ended_without_rows
    from tests.conftest import ADMIN_URL
    from wangge.extensions import db

    app, _, ids, url = world
    with psycopg.connect(ADMIN_URL) as elsewhere:  # another database, committed at once
        ended_elsewhere = int(elsewhere.execute("SELECT pg_current_xact_id()::text").fetchone()[0])
    _pg(url, "UPDATE cases SET description = 'wrote', version = version + 1 WHERE id = %s", ids["A"][0])
    wrote_here = _pg(url, "SELECT max(txid) FROM sync_feed")[0][0]
    running = psycopg.connect(ADMIN_URL)
    try:
        still_running = int(running.execute("SELECT pg_current_xact_id()::text").fetchone()[0])
        with app.app_context():
            done = _ended_without_rows(db.session, [ended_elsewhere, wrote_here, still_running])
            db.session.remove()
    finally:
        running.close()
    assert done == {ended_elsewhere}


@pytest.mark.alone  # transaction ids are the cluster's: another worker's could cost a reset
def test_a_cursor_after_the_horizon_carries_on_with_its_delta(world):
    app, headers, ids, url = world
    (a_id, a_number), (b_id, b_number) = ids["A"], ids["B"]
    c0 = _pull(app, headers)["cursor"]
    _pg(url, "UPDATE cases SET description = 'seen', version = version + 1 WHERE id = %s", a_id)
    c1_answer = _pull(app, headers, c0)
    assert _updated(c1_answer) == {a_number: "seen"}
    _age_all(url)  # everything the phone has already pulled is old
    done = _tick(app)
    assert done["deleted"] > 0 and done["more"] is False
    answer = _pull(app, headers, c1_answer["cursor"])
    assert answer["reset"] == [] and _updated(answer) == {}
    _pg(url, "UPDATE cases SET description = 'new', version = version + 1 WHERE id = %s", b_id)
    answer = _pull(app, headers, answer["cursor"])
    assert answer["reset"] == [] and _updated(answer) == {b_number: "new"}
    # the new change is young: a second tick keeps it
    assert _tick(app)["deleted"] == 0
    assert _pg(url, "SELECT count(*) FROM sync_feed WHERE entity_id = %s", b_id)[0][0] >= 1


def test_young_rows_stay_and_batches_are_bounded(world):
    from mobile_api.sync import retention
    from wangge.extensions import db

    app, headers, ids, url = world
    for _n in range(2):
        _pg(url, "UPDATE cases SET version = version + 1 WHERE id IN (%s, %s)", ids["A"][0], ids["B"][0])
    total = _pg(url, "SELECT count(*) FROM sync_feed")[0][0]
    assert total == 6  # each case: its report and two changes
    _pg(url, "UPDATE sync_feed SET created_at = now() - interval '40 days' "
             "WHERE id IN (SELECT id FROM sync_feed ORDER BY id LIMIT 3)")
    with app.app_context():
        first = retention.prune(db.session, batch=1, max_batches=2)
        assert first["deleted"] == 2 and first["more"] is True
        rest = retention.prune(db.session, batch=1, max_batches=5)
        assert rest["deleted"] == 1 and rest["more"] is False
        assert retention.prune(db.session, batch=1)["deleted"] == 0
    assert _pg(url, "SELECT count(*) FROM sync_feed")[0][0] == total - 3
    assert _pg(url, "SELECT pruned_rows FROM sync_feed_horizon")[0][0] == 3


def test_the_cli_prunes_with_progress_and_refuses_a_retention_below_one_day(world, run_cli):
    app, headers, ids, url = world
    rows = _pg(url, "SELECT count(*) FROM sync_feed")[0][0]
    _age_all(url, days=10)
    kept = run_cli(url, "sync", "prune")  # 30 days by default: nothing is that old
    assert "deleted 0 feed rows" in kept.stdout and "retention 30 days" in kept.stdout
    out = run_cli(url, "sync", "prune", "--days", "7", "--batch", "1")
    assert f"deleted {rows} feed rows" in out.stdout and "retention 7 days" in out.stdout
    assert "pruning" in out.stderr  # the progress bar
    assert _pg(url, "SELECT count(*) FROM sync_feed")[0][0] == 0
    refused = run_cli(url, "sync", "prune", "--days", "0", check=False)
    assert refused.returncode == 2 and "--days" in refused.stderr
    bad = run_cli(url, "sync", "prune", check=False, WANGGE_SYNC_FEED_RETENTION_DAYS="0")
    assert bad.returncode != 0 and "WANGGE_SYNC_FEED_RETENTION_DAYS must be at least 1" in bad.stderr


@pytest.mark.parametrize("days", [0, -1, -30])
def test_settings_refuse_a_retention_below_one_day(days):
    with pytest.raises(ValueError, match="WANGGE_SYNC_FEED_RETENTION_DAYS"):
        Settings(sync_feed_retention_days=days)
    with pytest.raises(ValueError, match="WANGGE_SYNC_FEED_RETENTION_DAYS"):
        Settings.from_env({"WANGGE_SYNC_FEED_RETENTION_DAYS": str(days)})
    assert Settings.from_env({"WANGGE_SYNC_FEED_RETENTION_DAYS": "1"}).sync_feed_retention_days == 1


def test_the_prune_refuses_a_retention_below_one_day_set_at_run_time(world):
    from mobile_api.sync import retention
    from wangge.extensions import db

    app, *_ = world
    with app.app_context():
        app.config["WANGGE"].sync_feed_retention_days = 0  # changed after the checks of Settings
        with pytest.raises(ValueError):
            retention.prune(db.session)
        with pytest.raises(ValueError):
            retention.cutoff(-1)


def test_on_sqlite_the_job_the_cli_and_the_pull(tmp_path):
    """The embedded file: the tick and ``wangge sync prune`` (a real embedded CLI run on the
    same file) prune; an old cursor gets a reset; an emptied feed never hands out a deleted
    id again, so a cursor taken after the prune still brings the next change."""
    from grid.catalog.service import load_catalog
    from wangge import create_app
    from wangge.cli import upgrade_database
    from wangge.extensions import db

    path = tmp_path / "wangge.sqlite3"
    # the test run's Redis all the same (see test_sync_pull_late_commit.test_the_same_walk_on_sqlite)
    app = create_app(make_settings(f"sqlite:///{path}", jobs_inline=True))
    try:
        with app.app_context():
            upgrade_database()
            load_catalog(db.session)
            headers, ids = _city(db)
            (a_id, a_number), (b_id, b_number) = ids["A"], ids["B"]

            def change(case_id, words):
                db.session.execute(text("UPDATE cases SET description = :d, version = version + 1 WHERE id = :i"),
                                   {"d": words, "i": case_id})
                db.session.commit()

            def age():
                db.session.execute(text("UPDATE sync_feed SET created_at = '2000-01-01 00:00:00'"))
                db.session.commit()

            old = _pull(app, headers)["cursor"]
            change(a_id, "changed")
            top = db.session.scalar(text("SELECT max(id) FROM sync_feed"))
            age()
            assert _tick(app)["deleted"] > 0
            assert db.session.scalar(text("SELECT count(*) FROM sync_feed")) == 0
            assert db.session.scalar(text("SELECT pruned_id FROM sync_feed_horizon")) == top
            answer = _pull(app, headers, old)
            assert answer["reset"] == RESET and set(_updated(answer)) == {a_number, b_number}
            fresh = answer["cursor"]
            # the feed is empty: the next row's id follows the deleted ones (AUTOINCREMENT) and
            # the cursor taken on the empty feed brings it, without a reset
            change(b_id, "after")
            assert db.session.scalar(text("SELECT min(id) FROM sync_feed")) > top
            delta = _pull(app, headers, fresh)
            assert delta["reset"] == [] and _updated(delta) == {b_number: "after"}
            cursor = delta["cursor"]
            change(a_id, "for the cli")
            age()
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
        # the embedded CLI on the same file (no database URL, no Redis)
        out = wangge(embedded_env(tmp_path), "sync", "prune", "--batch", "1")
        assert "deleted 2 feed rows" in out.stdout and "pruning" in out.stderr
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM sync_feed").fetchone()[0] == 0
        with app.app_context():
            # the phone's cursor needs the change that the CLI deleted: reset and snapshot
            answer = _pull(app, headers, cursor)
            assert answer["reset"] == RESET and _updated(answer)[a_number] == "for the cli"
            db.session.remove()
    finally:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()
