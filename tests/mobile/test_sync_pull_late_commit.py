"""The late-commit property of the pull, with committed data and real concurrent
transactions: a transaction that started earlier and commits after a pull is still brought
by the next pull (PostgreSQL: the cursor is a snapshot, not the largest id seen). And the
same walk on the embedded SQLite file, where one writer at a time makes ids the commit order
(with the inbox's query on SQLite)."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from grid import roles as R
from grid.accounts.service import issue_token
from tests.committed import own_app
from tests.conftest import make_settings
from tests.factories import CaseFactory, DepartmentFactory, StaffFactory
from tests.mobile.fixtures_inbox import pull_committed as _pull
from tests.mobile.fixtures_inbox import updated_descriptions as _updated


@pytest.fixture
def world(fresh_pg_url):
    """An app on a database of its own: ENV's handler and two of ENV's cases, committed."""
    from wangge.extensions import db

    with own_app(fresh_pg_url) as app:
        with app.app_context():
            env = DepartmentFactory(code="ENV", name="环卫所")
            handler = StaffFactory(roles=[R.DEPARTMENT_HANDLER], department_id=env.id)
            a = CaseFactory(state="dispatched", department_id=env.id)
            b = CaseFactory(state="dispatched", department_id=env.id)
            headers = {"Authorization": f"Bearer {issue_token(db.session, handler, ttl_hours=2)[0]}"}
            ids = {"A": (a.id, a.number), "B": (b.id, b.number)}
            db.session.commit()
        yield app, headers, ids, fresh_pg_url


def test_a_change_committed_late_by_an_earlier_transaction_comes_with_the_next_pull(world):
    app, headers, ids, url = world
    (a_id, a_number), (b_id, b_number) = ids["A"], ids["B"]
    c0 = _pull(app, headers)["cursor"]
    with psycopg.connect(url) as t1, psycopg.connect(url) as t2:
        # T1 starts first and changes A, but does not commit yet
        t1.execute("UPDATE cases SET description = 'slow', version = version + 1 WHERE id = %s", (a_id,))
        t1_txid = int(t1.execute("SELECT pg_current_xact_id()::text").fetchone()[0])
        # T2 starts later, changes B and commits
        t2.execute("UPDATE cases SET description = 'fast', version = version + 1 WHERE id = %s", (b_id,))
        t2_txid = int(t2.execute("SELECT pg_current_xact_id()::text").fetchone()[0])
        t2.commit()
        assert t1_txid < t2_txid  # a cursor of "the largest transaction seen" would skip T1
        first = _pull(app, headers, c0)
        assert _updated(first) == {b_number: "fast"}
        c1 = first["cursor"]
        t1.commit()
    second = _pull(app, headers, c1)
    assert _updated(second) == {a_number: "slow"}
    # and then nothing more
    assert _updated(_pull(app, headers, second["cursor"])) == {}


def test_a_rolled_back_change_never_arrives_and_does_not_block(world):
    app, headers, ids, url = world
    (a_id, _), (b_id, _) = ids["A"], ids["B"]
    c0 = _pull(app, headers)["cursor"]
    with psycopg.connect(url) as t1:
        t1.execute("UPDATE cases SET description = 'never', version = version + 1 WHERE id = %s", (a_id,))
        with psycopg.connect(url) as t2:
            t2.execute("UPDATE cases SET description = 'fast', version = version + 1 WHERE id = %s", (b_id,))
        c1 = _pull(app, headers, c0)["cursor"]
        t1.rollback()
    answer = _pull(app, headers, c1)
    assert _updated(answer) == {}
    assert _updated(_pull(app, headers, answer["cursor"])) == {}


def test_the_same_walk_on_sqlite(tmp_path):
    """On SQLite a second writer waits for the first, so the feed's ids are the commit order:
    the pull after each commit brings exactly that change."""
    from wangge import create_app
    from wangge.cli import upgrade_database
    from wangge.extensions import db

    # the test run's Redis all the same: an app without one re-points the process-wide rate
    # limiter (wangge.extensions.limiter) at memory, and tests/api/test_auth.py after it fails
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'w.sqlite3'}", jobs_inline=True))
    with app.app_context():
        upgrade_database()
        from grid.catalog.service import load_catalog
        load_catalog(db.session)
        env = DepartmentFactory(code="ENV", name="环卫所")
        handler = StaffFactory(roles=[R.DEPARTMENT_HANDLER], department_id=env.id)
        a = CaseFactory(state="dispatched", department_id=env.id)
        b = CaseFactory(state="dispatched", department_id=env.id)
        headers = {"Authorization": f"Bearer {issue_token(db.session, handler, ttl_hours=2)[0]}"}
        numbers = {"A": a.number, "B": b.number}
        a_id, b_id = a.id, b.id
        db.session.commit()
        first = _pull(app, headers)
        assert set(_updated(first)) == set(numbers.values())
        for case_id, number, words in ((b_id, numbers["B"], "fast"), (a_id, numbers["A"], "slow")):
            db.session.execute(text("UPDATE cases SET description = :d, version = version + 1 WHERE id = :i"),
                               {"d": words, "i": case_id})
            db.session.commit()
            answer = _pull(app, headers, first["cursor"])
            assert _updated(answer) == {number: words}
            first = answer
        # the inbox on SQLite (the same query; the deadlines copied by the SQLite triggers)
        inbox = app.test_client().get("/api/m/v1/inbox", headers=headers).json
        assert sorted(i["number"] for i in inbox["items"]) == sorted(numbers.values())
        assert inbox["counts"]["none"] == 2
        db.session.remove()
