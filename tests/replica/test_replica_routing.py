"""Reads marked for the replica, on a real streaming replica of a private primary: served by
the replica when it has what the caller wrote, by the primary while it lags behind their
write or beyond the lag limit, and by the primary when the replica is stopped (before or in
the middle of a request). A write in a marked read fails; without a replica configured the
primary sees no extra statement."""
from __future__ import annotations

import logging

import pytest
from flask import g
from sqlalchemy import event, text

from tests.conftest import make_settings
from tests.dispatch.conftest import POINT_G1
from tests.dispatch.test_outbox import build_city
from tests.servers import wait_until


@pytest.fixture(scope="module")
def routed(replica_pair):
    """An app on the private primary with the replica configured, and a town in it."""
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(replica_pair.primary.url, replica_database_url=replica_pair.replica.url,
                                   replica_max_lag_seconds=3600, replica_check_seconds=0, jobs_inline=True))
    with app.app_context():
        town = build_city(db.session)  # worker1, dispatcher, leader ...
        db.session.remove()
    replica_pair.caught_up()
    yield app, town
    with app.app_context():
        db.engine.dispose()
    app.extensions["wangge_replica"].engine.dispose()


def report(client, town, description: str) -> str:
    body = {"description": description, "category_code": "E0102", "lon": POINT_G1[0], "lat": POINT_G1[1]}
    r = client.post("/api/v1/cases", json=body, headers=town["headers"]["worker1"])
    assert r.status_code in (200, 201), r.json
    return r.json["number"]


def queue(client, town, who: str) -> tuple[set[str], str]:
    """The case numbers ``who`` sees in the queue and which server answered."""
    r = client.get("/api/v1/cases?limit=200", headers=town["headers"][who])
    assert r.status_code == 200, r.json
    return {c["number"] for c in r.json["cases"]}, g.get("wangge_read_from")


def test_lists_follow_the_writer_while_the_replica_lags(routed, replica_pair, redis_conn):
    app, town = routed
    with app.test_client() as client:
        replica_pair.pause()
        try:
            number = report(client, town, "暂停回放时上报")
            # the writer reads on the primary: their own report is there
            mine, served = queue(client, town, "worker1")
            assert served == "primary" and number in mine
            # someone else reads on the replica, which has not replayed the report yet
            theirs, served = queue(client, town, "dispatcher")
            assert served == "replica" and number not in theirs
            # Open311 reads too: the list from the replica; one request by number is a 404
            # there, so it is asked of the primary
            listed = client.get("/open311/v2/requests.json")
            assert listed.status_code == 200 and g.wangge_read_from == "replica"
            assert number not in {r["service_request_id"] for r in listed.json}
            one = client.get(f"/open311/v2/requests/{number}.json")
            assert one.status_code == 200 and g.wangge_read_from == "primary"
            assert one.json[0]["service_request_id"] == number
        finally:
            replica_pair.resume()
        theirs, served = queue(client, town, "dispatcher")
        assert served == "replica" and number in theirs
        mine, served = queue(client, town, "worker1")
        assert served == "replica" and number in mine  # the replica has passed the worker's write


def test_the_writers_mark_is_in_redis_and_only_rises(routed, redis_conn):
    from wangge.replica import lsn_key

    app, town = routed
    key = f"wangge-replica:staff:{town['ids']['worker1']}"
    with app.test_client() as client:
        report(client, town, "第一次")
        first = redis_conn.get(key).decode()
        report(client, town, "第二次")
        second = redis_conn.get(key).decode()
    assert len(first) == 16 and second > first
    assert 0 < redis_conn.ttl(key) <= app.extensions["wangge_replica"].mark_ttl
    marks = app.extensions["wangge_replica"].marks
    marks.raise_to(f"staff:{town['ids']['worker1']}", lsn_key("0/1"), 60)  # an older position never wins
    assert redis_conn.get(key).decode() == second


def reads_case_data(statement: str) -> bool:
    # the stored facts alone when every change is folded, the clocks and events too otherwise
    return any(table in statement for table in ("kpi_clock_facts", "kpi_event_facts", "stage_clocks", "cases"))


def test_indicators_and_exports_read_on_the_replica(routed, replica_pair, redis_conn):
    app, town = routed
    replica_pair.caught_up()
    on_replica: list[str] = []
    replica_engine = app.extensions["wangge_replica"].engine
    listener = lambda *a: on_replica.append(a[2])  # noqa: E731
    event.listen(replica_engine, "before_cursor_execute", listener)
    try:
        with app.test_client() as client:
            r = client.get("/api/v1/kpi", query_string={"from": "2020-01-01", "to": "2030-12-31", "by": "department"},
                           headers=town["headers"]["leader"])
            assert r.status_code == 200, r.json
            assert g.wangge_read_from == "replica"
            assert [s for s in on_replica if reads_case_data(s)], on_replica
            on_replica.clear()
            r = client.post("/api/v1/kpi/exports?from=2020-01-01&to=2030-12-31&by=department&format=csv",
                            headers=town["headers"]["leader"])
            assert r.status_code == 202, r.json
            # inline jobs: the export ran in this request, its queries on the replica
            assert r.json["state"] == "done" and g.wangge_read_from == "replica"
            assert [s for s in on_replica if reads_case_data(s)], on_replica
    finally:
        event.remove(replica_engine, "before_cursor_execute", listener)


def test_a_replica_beyond_the_lag_limit_is_not_used(routed, replica_pair, redis_conn):
    app, town = routed
    settings = app.config["WANGGE"]
    with app.test_client() as client:
        replica_pair.pause()
        try:
            number = report(client, town, "延迟超限")
            theirs, served = queue(client, town, "dispatcher")
            assert served == "replica" and number not in theirs  # within 3600 s
            settings.replica_max_lag_seconds = 0.5
            wait_until(lambda: replica_pair.lag_seconds() > 0.5, 10, "the replica to be 0.5 s behind")
            theirs, served = queue(client, town, "dispatcher")
            assert served == "primary" and number in theirs
        finally:
            settings.replica_max_lag_seconds = 3600
            replica_pair.resume()
        _, served = queue(client, town, "dispatcher")
        assert served == "replica"


def test_a_stopped_replica_sends_reads_to_the_primary(routed, replica_pair, redis_conn, caplog):
    app, town = routed
    settings = app.config["WANGGE"]
    with app.test_client() as client:
        number = report(client, town, "副本停机前")
        replica_pair.caught_up()
        settings.replica_check_seconds = 3600  # the last check (replica fine) stays believed...
        try:
            _, served = queue(client, town, "dispatcher")
            assert served == "replica"
            replica_pair.replica.stop()
            # ...so this read starts on the replica, fails there and is answered by the primary
            with caplog.at_level(logging.WARNING, logger="wangge.replica"):
                theirs, served = queue(client, town, "dispatcher")
            assert served == "primary" and number in theirs
            assert "running it on the primary" in caplog.text
            # the next reads check the replica first, find it down and go to the primary
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="wangge.replica"):
                theirs, served = queue(client, town, "dispatcher")
                listed = client.get("/open311/v2/requests.json")
            assert served == "primary" and number in theirs
            assert listed.status_code == 200 and g.wangge_read_from == "primary"
            assert "read replica not used" in caplog.text and "unreachable" in caplog.text
        finally:
            settings.replica_check_seconds = 0
            if not replica_pair.replica.running():
                replica_pair.start_replica()
        _, served = queue(client, town, "dispatcher")
        assert served == "replica"


def test_a_write_inside_a_replica_read_fails_loudly(routed, replica_pair):
    from grid.models import Department
    from wangge.db_session import ReplicaWriteError
    from wangge.extensions import db
    from wangge.replica import reads_replica

    @reads_replica
    def adds_a_department():
        db.session.add(Department(code="SNEAK", name="偷写", kind="functional"))
        db.session.flush()

    @reads_replica
    def inserts_with_sql():
        db.session.execute(text("INSERT INTO departments (code, name, kind) VALUES ('SNEAK2', 'x', 'functional')"))

    @reads_replica
    def reads():
        return db.session.scalar(text("SELECT pg_is_in_recovery()"))

    @reads_replica
    def acts_on_a_case(number):  # a verb: its one-statement write (dispatch.workflow.writes) included
        from sqlalchemy import select

        from dispatch.cases.models import Case
        from dispatch.workflow.actions import Actor, act
        from grid.models import Staff

        case = db.session.scalar(select(Case).where(Case.number == number))
        act(db.session, case, "accept", Actor(db.session.get(Staff, town["ids"]["clerk"]), "intake_clerk"))

    app, town = routed
    with app.test_client() as client:
        number = report(client, town, "副本里受理")
    replica_pair.caught_up()
    with app.test_request_context("/"):
        assert reads() is True  # the marked read ran on the replica
        with pytest.raises(ReplicaWriteError):
            adds_a_department()
        db.session.rollback()
        with pytest.raises(ReplicaWriteError):
            inserts_with_sql()
        db.session.rollback()
        with pytest.raises(ReplicaWriteError):
            acts_on_a_case(number)
        db.session.rollback()
        db.session.remove()


def test_without_a_replica_the_primary_sees_no_extra_statement(routed, replica_pair):
    """The same write and reads on an app without the setting: no LSN or replica statement;
    with it, one ``pg_current_wal_insert_lsn()`` after each write and nothing else."""
    from wangge import create_app
    from wangge.extensions import db

    _, town = routed

    def statements(app) -> list[str]:
        seen: list[str] = []
        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
        with app.test_client() as client:
            report(client, town, "计数")
            queue(client, town, "dispatcher")
            client.get("/open311/v2/requests.json")
        with app.app_context():
            db.engine.dispose()
        return seen

    plain = statements(create_app(make_settings(replica_pair.primary.url, jobs_inline=True)))
    assert not [s for s in plain if "wal" in s.lower()]
    routed_app = routed[0]
    on_primary = statements(routed_app)
    assert [s for s in on_primary if "wal" in s.lower()] == ["SELECT pg_current_wal_insert_lsn()::text"]


def test_without_redis_nobodys_last_write_is_known_so_reads_go_to_the_primary(routed, replica_pair, caplog):
    from tests.servers import free_port
    from wangge import create_app
    from wangge.extensions import db

    _, town = routed
    app = create_app(make_settings(replica_pair.primary.url, replica_database_url=replica_pair.replica.url,
                                   replica_check_seconds=0, jobs_inline=True,
                                   redis_url=f"redis://127.0.0.1:{free_port()}/0"))  # nothing listens there
    replica_pair.caught_up()
    try:
        with app.test_client() as client, caplog.at_level(logging.WARNING, logger="wangge.replica"):
            number = report(client, town, "Redis 不在")  # the write succeeds; its position is not kept
            theirs, served = queue(client, town, "dispatcher")
        assert served == "primary" and number in theirs
        assert "could not remember the last write" in caplog.text
        assert "last writes unknown" in caplog.text
    finally:
        with app.app_context():
            db.engine.dispose()
        app.extensions["wangge_replica"].engine.dispose()
