"""A private primary and a streaming replica of it (never the shared server): initdb, migrate,
``pg_basebackup -R``, start; once per run, stopped and removed at the end. The replica's
replay can be paused (``pg_wal_replay_pause()``) so it lags on purpose, and the replica can be
stopped and started again."""
from __future__ import annotations

from dataclasses import dataclass

import psycopg
import pytest

from tests.markers import mark_by_fixtures
from tests.servers import PrivatePostgres, wait_until


def pytest_collection_modifyitems(items):
    mark_by_fixtures(__file__, items)  # markers from the fixtures used (tests/markers.py)


def _one(url: str, sql: str):
    with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
        return conn.execute(sql).fetchone()[0]


def _answers(url: str) -> bool:
    try:
        return bool(_one(url, "SELECT pg_is_in_recovery()"))
    except psycopg.OperationalError:
        return False


@dataclass
class Pair:
    primary: PrivatePostgres
    replica: PrivatePostgres

    def caught_up(self) -> None:
        """Wait until the replica has replayed everything the primary has written so far.
        The target is the end of a record written now, which replay reaches exactly; the insert
        position could lie past the last record (a page header) on an idle primary, forever."""
        target = _one(self.primary.url, "SELECT pg_logical_emit_message(false, 'wangge-test', 'caught up?')::text")
        wait_until(lambda: _one(self.replica.url, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"),
                   20, "the replica to replay the primary's WAL", interval=0.02)

    def pause(self) -> None:
        self.caught_up()
        _one(self.replica.url, "SELECT pg_wal_replay_pause()::text")
        wait_until(lambda: _one(self.replica.url, "SELECT pg_get_wal_replay_pause_state()") == "paused",
                   10, "replay to pause", interval=0.02)

    def resume(self) -> None:
        _one(self.replica.url, "SELECT pg_wal_replay_resume()::text")
        self.caught_up()

    def lag_seconds(self) -> float:
        return _one(self.replica.url, "SELECT coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8")

    def start_replica(self) -> None:
        self.replica.start()
        wait_until(lambda: _answers(self.replica.url), 20, "the replica to accept connections")
        self.caught_up()


def _migrate(url: str) -> None:
    from grid.catalog.service import load_catalog
    from tests.conftest import make_settings
    from wangge import create_app
    from wangge.cli import upgrade_database
    from wangge.extensions import db

    app = create_app(make_settings(url))
    with app.app_context():
        upgrade_database()
        load_catalog(db.session)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def replica_pair():
    primary = PrivatePostgres()
    replica = None
    try:
        primary.init()
        primary.start()
        primary.create_database()
        _migrate(primary.url)
        replica = PrivatePostgres()
        replica.replica_of(primary)
        pair = Pair(primary, replica)
        pair.start_replica()
        yield pair
    finally:
        if replica is not None:
            replica.cleanup()
        primary.cleanup()
