"""``wangge.pg_cursor``: the app's PostgreSQL connections describe results lazily, and the lazy
description is the one psycopg would have built (names, types, sizes, in order; negative
indexes and slices), taken from the result it was read for even after the cursor moved on."""
from __future__ import annotations

import psycopg
import pytest

from wangge.pg_cursor import Cursor, LazyDescription

QUERY = ("SELECT 1::int AS a, 'x'::varchar(7) AS b, now() AS c, 2.5::numeric(6, 2) AS d, "
         "'{}'::jsonb AS e, NULL::text AS f")


def plain(column) -> tuple:
    return (column.name, column.type_code, column.display_size, column.internal_size, column.precision,
            column.scale, column.type_display)


def test_the_lazy_description_is_psycopgs(pg_url):
    with psycopg.connect(pg_url) as conn:
        expected = conn.execute(QUERY).description
        conn.cursor_factory = Cursor
        cur = conn.execute(QUERY)
        described = cur.description
        assert isinstance(described, LazyDescription) and len(described) == len(expected) == 6
        cur.execute("SELECT 42 AS only_one")  # the cursor moves on; the earlier description stays right
        assert [plain(c) for c in described] == [plain(c) for c in expected]
        assert plain(described[-1]) == plain(expected[-1]) and [plain(c) for c in described[1:3]] == \
            [plain(c) for c in expected[1:3]]
        assert described[0] is described[0]  # built once
        with pytest.raises(IndexError):
            described[6]
        assert [c.name for c in cur.description] == ["only_one"]
        cur.execute("CREATE TEMP TABLE t (x int)")
        assert cur.description is None
        cur.execute("INSERT INTO t VALUES (1), (2) RETURNING x")
        assert [c.name for c in cur.description] == ["x"] and cur.fetchall() == [(1,), (2,)]
        assert len(cur.execute("SELECT").description) == 0  # no columns, but tuples: not None


def test_the_app_engine_uses_it(app):
    from wangge.extensions import db

    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            assert isinstance(raw.cursor(), Cursor)
        finally:
            raw.close()
        # and SQLAlchemy results read through it as before
        row = db.session.execute(db.text(QUERY)).one()
        assert row.a == 1 and row.b == "x" and row.f is None and row._fields == ("a", "b", "c", "d", "e", "f")
        db.session.rollback()
