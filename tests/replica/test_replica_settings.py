"""The replica settings refused where they cannot work, and WAL positions compared as
PostgreSQL compares them (no server needed)."""
import pytest

from wangge.config import Settings
from wangge.replica import LocalMarks, lsn_key


def test_a_replica_is_refused_on_the_embedded_default():
    with pytest.raises(ValueError, match="WANGGE_REPLICA_DATABASE_URL.*embedded SQLite"):
        Settings(replica_database_url="postgresql://replica/wangge")
    with pytest.raises(ValueError, match="postgresql:// URL"):
        Settings(database_url="postgresql://primary/wangge", replica_database_url="mysql://replica/wangge")
    with pytest.raises(ValueError, match="MAX_LAG_SECONDS"):
        Settings(database_url="postgresql://primary/wangge", replica_database_url="postgresql://replica/wangge",
                 replica_max_lag_seconds=0)
    env = {"WANGGE_DATABASE_URL": "postgresql://primary/wangge", "WANGGE_REPLICA_DATABASE_URL": "postgresql://r/w",
           "WANGGE_REPLICA_MAX_LAG_SECONDS": "2.5"}
    settings = Settings.from_env(env)
    assert settings.replica_max_lag_seconds == 2.5 and settings.replica_database_url == "postgresql://r/w"
    assert Settings().replica_database_url == ""  # the default: no replica, nothing routed


def test_wal_positions_compare_as_strings_like_the_numbers():
    positions = ["0/0", "0/16B3748", "0/FFFFFFFF", "1/0", "16/B374D848", "A/0", "FF/1"]
    keys = [lsn_key(p) for p in positions]
    assert sorted(keys) == sorted(keys, key=lambda k: int(k, 16))
    assert sorted(positions, key=lsn_key) == ["0/0", "0/16B3748", "0/FFFFFFFF", "1/0", "A/0", "16/B374D848", "FF/1"]


def test_a_local_mark_only_rises_and_expires():
    marks = LocalMarks()
    marks.raise_to("staff:1", lsn_key("0/20"), ttl=60)
    marks.raise_to("staff:1", lsn_key("0/10"), ttl=60)
    assert marks.get("staff:1") == lsn_key("0/20")
    marks.raise_to("staff:2", lsn_key("0/10"), ttl=0)
    assert marks.get("staff:2") is None and marks.get("staff:3") is None
