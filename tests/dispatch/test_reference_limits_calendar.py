"""Time limits and the work calendar's local overrides come from the process's reference
cache (``grid.catalog.reference``, migrations 0017/0018): a change through the ORM is seen
by the same app at once, a change by plain SQL from outside by every app after its check
interval (the triggers move ``layer_versions['reference']``); and a warm cache costs no
statement."""
from __future__ import annotations

import time
from datetime import date

import psycopg
from sqlalchemy import event

from tests.committed import own_app

DAY = date(2026, 10, 12)  # a Monday that chinese_calendar knows as a workday


def _seed(url: str) -> None:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        # the demo catalog: C0101 is in big class C01; its sign limit comes from C01 here
        conn.execute("DELETE FROM time_limits WHERE stage = 'sign' AND category_code IN ('C0101', 'C01', '*')")
        conn.execute("INSERT INTO time_limits (category_code, stage, amount, unit) VALUES "
                     "('*', 'sign', 2, 'work_hours'), ('C01', 'sign', 4, 'work_hours')")
        conn.execute("DELETE FROM calendar_days")


def _sql(url: str, statement: str) -> None:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(statement)


def _read(app):
    """(the C0101 sign limit's amount and source, whether DAY is a workday, statements sent)."""
    from grid.calendar.service import work_calendar
    from grid.catalog.limits import limit_for
    from wangge.extensions import db

    seen = []
    with app.app_context():
        listener = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            limit = limit_for(db.session, "C0101", "sign")
            workday = work_calendar(db.session).is_workday(DAY)
            db.session.rollback()
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
    return (limit.amount, limit.category_code), workday, len(seen)


def test_limits_and_calendar_follow_changes_in_every_app(fresh_pg_url):
    _seed(fresh_pg_url)
    with own_app(fresh_pg_url, index_check_seconds=3600) as cached, \
            own_app(fresh_pg_url, index_check_seconds=0.5) as other:
        assert _read(cached)[:2] == ((4.0, "C01"), True)
        assert _read(cached)[2] == 0  # warm: no statement at all
        assert _read(other)[:2] == ((4.0, "C01"), True)

        # through the ORM in app A: A sees it after its commit, B after its interval
        from grid.calendar.service import set_day
        from grid.catalog.limits import set_limit
        from wangge.extensions import db
        with cached.app_context():
            set_limit(db.session, "C0101", "sign", 1, "urgent_hours")
            set_day(db.session, DAY, False, "台风停工")
            db.session.commit()
        assert _read(cached)[:2] == ((1.0, "C0101"), False)
        time.sleep(0.6)
        assert _read(other)[:2] == ((1.0, "C0101"), False)

        # by plain SQL from outside: B after its interval (A only after its hour: cached)
        _sql(fresh_pg_url, "DELETE FROM time_limits WHERE category_code = 'C0101'")
        _sql(fresh_pg_url, "DELETE FROM calendar_days")
        time.sleep(0.6)
        assert _read(other)[:2] == ((4.0, "C01"), True)
        assert _read(cached)[:2] == ((1.0, "C0101"), False)

        # a Core DELETE through the service (clear_day) is noticed by its own app at once
        with cached.app_context():
            from grid.calendar.service import clear_day
            set_day(db.session, DAY, False, "台风停工")
            db.session.commit()
            clear_day(db.session, DAY)
            db.session.commit()
        assert _read(cached)[:2] == ((4.0, "C01"), True)
