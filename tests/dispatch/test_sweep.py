"""The deadline sweep on PostGIS: one warning at 80%, one overdue at 100%, to the right people;
idempotent (twice, after a crash, from several workers at once); paused clocks are left alone;
the query runs on the partial indexes; ``wangge sla sweep`` as a user runs it."""
from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import event, select, text

from dispatch.cases.models import Case
from dispatch.clocks.deadlines import current_clock, sweep
from dispatch.clocks.models import StageClock
from dispatch.notifications.models import Outbox
from tests.dispatch.conftest import do, report


def _deadline_rows(session, case_id: int | None = None) -> list[Outbox]:
    rows = session.scalars(select(Outbox).where(Outbox.topic == "deadline").order_by(Outbox.id)).all()
    return [r for r in rows if case_id is None or r.payload["case_id"] == case_id]


def _recipient_ids(row: Outbox) -> list[int]:
    return sorted(r["id"] for r in row.payload["recipients"])


def _dispatched_case(client, city, db_session) -> tuple[Case, StageClock]:
    n = report(client, city)["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")  # E0102 goes out at once: the sign clock runs
    case = db_session.scalar(select(Case).where(Case.number == n))
    clock = current_clock(db_session, case)
    assert clock.stage == "sign" and clock.warn_at < clock.due_at
    return case, clock


def test_warning_then_overdue_once_each_to_the_right_people(client, city, db_session):
    case, clock = _dispatched_case(client, city, db_session)
    handlers = [city.staff["env"].id]

    assert sweep(db_session, now=clock.warn_at - timedelta(seconds=1)) == {"warnings": 0, "overdue": 0}
    assert sweep(db_session, now=clock.warn_at + timedelta(seconds=1)) == {"warnings": 1, "overdue": 0}
    assert sweep(db_session, now=clock.warn_at + timedelta(seconds=2)) == {"warnings": 0, "overdue": 0}
    [warning] = _deadline_rows(db_session, case.id)
    assert warning.dedup_key == f"deadline:{clock.id}:warning" and warning.payload["template"] == "deadline_warning"
    assert _recipient_ids(warning) == handlers  # ENV's handler, not ROAD's, not the leader

    assert sweep(db_session, now=clock.due_at + timedelta(seconds=1)) == {"warnings": 0, "overdue": 1}
    assert sweep(db_session, now=clock.due_at + timedelta(days=9)) == {"warnings": 0, "overdue": 0}
    warning2, overdue = _deadline_rows(db_session, case.id)
    assert warning2 is warning and overdue.dedup_key == f"deadline:{clock.id}:overdue"
    assert _recipient_ids(overdue) == sorted(handlers + [city.staff["leader"].id])  # escalated
    assert "已超时" in overdue.payload["text_zh"]

    # after signing, the handle clock is new: its own warning, nothing repeated for sign
    do(client, city, "env", case.number, "sign")
    handle = current_clock(db_session, case)
    assert handle.stage == "handle"
    assert sweep(db_session, now=handle.due_at + timedelta(seconds=1)) == {"warnings": 1, "overdue": 1}
    assert len(_deadline_rows(db_session, case.id)) == 4


def test_a_crash_before_commit_then_rerun_gives_the_same_single_rows(client, city, db_session):
    case, clock = _dispatched_case(client, city, db_session)
    late = clock.due_at + timedelta(minutes=1)
    db_session.commit()

    assert sweep(db_session, now=late) == {"warnings": 1, "overdue": 1}
    db_session.rollback()  # the process died before its commit
    db_session.expire_all()
    assert _deadline_rows(db_session, case.id) == []
    assert db_session.get(StageClock, clock.id).warned_at is None

    assert sweep(db_session, now=late) == {"warnings": 1, "overdue": 1}
    db_session.commit()
    assert sweep(db_session, now=late + timedelta(hours=1)) == {"warnings": 0, "overdue": 0}
    db_session.commit()
    keys = [r.dedup_key for r in _deadline_rows(db_session, case.id)]
    assert keys == [f"deadline:{clock.id}:warning", f"deadline:{clock.id}:overdue"]


def test_suspended_clock_is_not_swept_and_resumes_with_its_remaining_time(client, city, db_session):
    case, _ = _dispatched_case(client, city, db_session)
    do(client, city, "env", case.number, "sign")
    do(client, city, "env", case.number, "request_suspend", note="需拆迁", review_date=str(date.today() + timedelta(days=30)))
    do(client, city, "dispatcher", case.number, "decide_suspend", outcome="approve")
    clock = current_clock(db_session, case)
    assert clock.stage == "handle" and clock.segment_started_at is None and clock.due_at is None

    assert sweep(db_session, now=clock.started_at + timedelta(days=365)) == {"warnings": 0, "overdue": 0}
    assert _deadline_rows(db_session, case.id) == []

    do(client, city, "dispatcher", case.number, "restore")
    db_session.refresh(clock)
    assert clock.segment_started_at is not None and clock.due_at is not None
    assert sweep(db_session, now=clock.due_at + timedelta(seconds=1)) == {"warnings": 1, "overdue": 1}


def test_sweep_query_uses_the_partial_indexes(client, city, db_session):
    """EXPLAIN the very statements the sweep sends (captured), with sequential scans priced
    out: the planner can answer them from the partial indexes alone."""
    _dispatched_case(client, city, db_session)
    connection = db_session.connection()
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM stage_clocks" in statement and "FOR UPDATE" in statement:
            captured.append((statement, parameters))

    engine = connection.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        sweep(db_session, now=db_session.scalar(select(StageClock.started_at)) - timedelta(days=1))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(captured) == 2
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    plans = []
    for statement, parameters in captured:
        plan = "\n".join(r[0] for r in connection.exec_driver_sql("EXPLAIN " + statement, parameters))
        plans.append(plan)
    assert "ix_stage_clocks_warn_due" in plans[0], plans[0]
    assert "ix_stage_clocks_overdue_due" in plans[1], plans[1]
    connection.exec_driver_sql("SET LOCAL enable_seqscan = on")


def test_concurrent_sweeps_skip_each_others_rows(fresh_pg_url):
    """Two workers sweeping at once: the second skips the clocks the first holds, and after
    the first commits finds them marked. One warning and one overdue row in all."""
    from tests.conftest import make_settings
    from tests.dispatch.test_outbox import HttpCity, build_city, dispose, new_dispatched_case
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(fresh_pg_url, jobs_inline=True))
    try:
        with app.app_context():
            city = HttpCity(build_city(db.session)["headers"])
        n = new_dispatched_case(app.test_client(), city)
        with app.app_context():
            due = db.session.scalar(select(StageClock.due_at).where(StageClock.ended_at.is_(None)))
            db.session.remove()
            late = due + timedelta(minutes=1)
            first = db.session
            second = db.session.session_factory()
            try:
                assert sweep(first, now=late) == {"warnings": 1, "overdue": 1}  # holds the clock, uncommitted
                assert sweep(second, now=late) == {"warnings": 0, "overdue": 0}  # skipped, not waited for
                second.rollback()
                first.commit()
                assert sweep(second, now=late) == {"warnings": 0, "overdue": 0}
                second.commit()
            finally:
                second.close()
            rows = _deadline_rows(db.session)
            assert len(rows) == 2 and all(r.payload["case"] == n for r in rows)
            db.session.remove()
    finally:
        dispose(app)


def test_cli_sla_sweep_prints_counts_and_is_idempotent(fresh_pg_url, run_cli):
    from tests.conftest import make_settings
    from tests.dispatch.test_outbox import HttpCity, build_city, dispose, new_dispatched_case
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(fresh_pg_url, jobs_inline=True))
    try:
        with app.app_context():
            city = HttpCity(build_city(db.session)["headers"])
        client = app.test_client()
        numbers = [new_dispatched_case(client, city) for _ in range(3)]
        with app.app_context():
            # time passes: two clocks past 80%, one of them past 100%; the third still green
            clocks = db.session.scalars(select(StageClock).where(StageClock.ended_at.is_(None))
                                        .order_by(StageClock.id)).all()
            db.session.execute(text("UPDATE stage_clocks SET warn_at = now() - interval '2 hours', "
                                    "due_at = now() - interval '1 hour' WHERE id = :id"), {"id": clocks[0].id})
            db.session.execute(text("UPDATE stage_clocks SET warn_at = now() - interval '1 minute', "
                                    "due_at = now() + interval '1 hour' WHERE id = :id"), {"id": clocks[1].id})
            db.session.commit()
            db.session.remove()
    finally:
        dispose(app)

    inline = {"WANGGE_JOBS_INLINE": "1"}
    out = run_cli(fresh_pg_url, "sla", "sweep", **inline).stdout
    assert "warnings: 2, overdue: 1" in out
    assert re.search(r"notifications delivered: 3\b", out) and "outbox pending: 0" in out
    again = run_cli(fresh_pg_url, "sla", "sweep", **inline).stdout
    assert "warnings: 0, overdue: 0" in again and "outbox pending: 0" in again

    app = create_app(make_settings(fresh_pg_url))
    try:
        relay = app.test_cli_runner().invoke(args=["sla", "relay"])
        assert relay.exit_code == 0 and "enqueued: 0, re-enqueued: 0" in relay.output, relay.output
        with app.app_context():
            rows = _deadline_rows(db.session)
            assert sorted(r.dedup_key.split(":")[2] for r in rows) == ["overdue", "warning", "warning"]
            assert all(r.delivered_at is not None for r in rows)
            assert {r.payload["case"] for r in rows} == set(numbers[:2])
            db.session.remove()
    finally:
        dispose(app)


def test_an_approved_extension_re_arms_the_warnings_at_the_new_deadline(client, city, db_session):
    case, clock = _dispatched_case(client, city, db_session)
    do(client, city, "env", case.number, "sign")
    handle = current_clock(db_session, case)
    first_warn = handle.warn_at
    assert sweep(db_session, now=first_warn + timedelta(seconds=1))["warnings"] == 1
    db_session.commit()

    do(client, city, "env", case.number, "request_extension", note="需要调车")
    do(client, city, "dispatcher", case.number, "decide_extension", outcome="approve")
    db_session.expire_all()
    handle = db_session.get(StageClock, handle.id)
    assert handle.extended == 4 and handle.warn_at > first_warn and handle.warned_at is None
    assert sweep(db_session, now=first_warn + timedelta(seconds=2))["warnings"] == 0
    assert sweep(db_session, now=handle.warn_at + timedelta(seconds=1))["warnings"] == 1
    keys = [r.dedup_key for r in _deadline_rows(db_session, case.id) if f":{handle.id}:" in r.dedup_key]
    assert keys == [f"deadline:{handle.id}:warning", f"deadline:{handle.id}:warning:ext4"]
