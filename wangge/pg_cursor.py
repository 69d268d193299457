"""psycopg cursors whose ``description`` makes its ``Column`` objects only when asked, and
that run a statement marked ``PLAN_PER_EXECUTION`` unprepared.

psycopg builds a ``Column`` for every column of every result as soon as ``description`` is
read, and SQLAlchemy reads it after every statement, though with a cached compiled statement
(all of ours) it only looks at whether there is one and how long it is. A case's row has
dozens of columns: those objects were a twentieth of a verb's CPU. ``LazyDescription`` is the
same sequence, made column by column on first use, from a snapshot of the result it
describes (so it stays right after the cursor moves on). Engines on PostgreSQL get the
cursor through ``connect_args`` (``wangge.config.Settings.engine_options``).

Unprepared statements: psycopg prepares a statement run 5 times on a connection, and
PostgreSQL then plans it once for every value (a generic plan) when that looks no dearer on
average. For the statements whose best plan depends on the values (the case lists and their
counts: a case number or a word every case holds, a department of 2% or 20% of the cases, a
day or a year) the generic plans walked whole indexes: 0.4-2 s a page at 1,000,000 cases from
the sixth call on (bench/README.md, "lists"). A statement with the execution option
``PLAN_PER_EXECUTION`` is sent unprepared, so each run is planned for its values; the others
keep their prepared plans (planning the intake's INSERT on every report cost the database
2.3-2.4 ms of CPU a report instead of 1.1-1.7 when every statement was planned per
execution, bench_scale)."""
from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import Column
from psycopg.pq import ExecStatus
from sqlalchemy import event
from sqlalchemy.engine import Engine

_TUPLES = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)
PLAN_PER_EXECUTION = "wangge_plan_per_execution"  # an execution option: run unprepared
# ``statement.execution_options(**PER_VALUES)``: planned for its values on every run
PER_VALUES = {PLAN_PER_EXECUTION: True}


class _Described:
    """What ``Column`` reads from its cursor, frozen at the moment ``description`` was read."""

    __slots__ = ("pgresult", "_encoding", "adapters")

    def __init__(self, cursor):
        self.pgresult, self._encoding, self.adapters = cursor.pgresult, cursor._encoding, cursor.adapters


class LazyDescription(Sequence):
    __slots__ = ("_source", "_columns")

    def __init__(self, source: _Described, count: int):
        self._source = source
        self._columns: list[Column | None] = [None] * count

    def __len__(self) -> int:
        return len(self._columns)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._columns)))]
        column = self._columns[index]  # IndexError as a list's; negative indexes too
        if column is None:
            column = self._columns[index] = Column(self._source, range(len(self._columns))[index])
        return column

    def __repr__(self) -> str:
        return repr(list(self))


class Cursor(psycopg.Cursor):
    __slots__ = ("unprepared",)

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if prepare is None and getattr(self, "unprepared", False):
            prepare = False
        return super().execute(query, params, prepare=prepare, binary=binary)

    @property
    def description(self):
        result = self.pgresult
        if result and (result.nfields or result.status in _TUPLES):  # as psycopg's own
            return LazyDescription(_Described(self), result.nfields)
        return None


@event.listens_for(Engine, "before_cursor_execute")
def _unprepared(conn, cursor, statement, parameters, context, executemany):
    if isinstance(cursor, Cursor) and context is not None and context.execution_options.get(PLAN_PER_EXECUTION):
        cursor.unprepared = True
