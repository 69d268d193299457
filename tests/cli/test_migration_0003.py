"""Upgrading a database made before keys were namespaced: an anonymous report whose key was
planted inside another sender's namespace (issue 7) no longer answers that sender."""
import sqlite3

from tests.embedded.test_embedded_smoke import embedded_env, wangge

ROWS = [  # (number, channel, reporter_staff_id, key as stored before 0003)
    ("A1", "web", None, "hotline:12345-0001"),
    ("A2", "citizen", None, "staff:20:my-first-report-1"),
    ("A3", "hotline", None, "hotline:12345-0002"),
    ("A4", "grid_worker", 20, "staff:20:real-key-123"),
    ("A5", "open311", None, "open311:dev:req"),
]


def test_old_keys_move_into_their_senders_namespace(tmp_path):
    env = embedded_env(tmp_path / "var")
    wangge(env, "db", "upgrade", "0002")
    db = tmp_path / "var" / "wangge.sqlite3"
    with sqlite3.connect(db) as conn:
        for i, (number, channel, staff, key) in enumerate(ROWS):
            conn.execute("INSERT INTO cases (number, tracking_code, channel, reporter_staff_id, idempotency_key, "
                         "description, state, supervised, reported_at, updated_at, version) "
                         "VALUES (?, ?, ?, ?, ?, 'x', 'reported', 0, '2026-01-01 00:00:00', "
                         "'2026-01-01 00:00:00', 1)", (number, f"T{i}", channel, staff, key))
    wangge(env, "db", "upgrade")
    with sqlite3.connect(db) as conn:
        keys = dict(conn.execute("SELECT number, idempotency_key FROM cases"))
    assert keys == {
        "A1": "public:hotline:12345-0001",
        "A2": "public:staff:20:my-first-report-1",
        "A3": "hotline:12345-0002",
        "A4": "staff:20:real-key-123",
        "A5": "open311:legacy:open311:dev:req",
    }
