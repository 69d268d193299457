"""What a pull is made of: a registry of sources, each answering the changes of its own
tables since its own part of the cursor.

A source is ``fn(session, staff, since, until, *, limit, crs) -> SourceAnswer``:

* ``since`` - the JSON value this source put in the previous cursor (None on a first pull);
* ``until`` - the :class:`Mark` the pull took before reading anything (the server's
  position in the change feed: a snapshot, never a clock);
* it answers at most ``limit`` items per table, its tables' changes (``{"updated": [...],
  "removed": [...]}``), its next cursor value (JSON), whether it has more (``more``), and the
  tables the phone must empty before applying this answer (``reset``).

``register(name, fn, load)``: ``load(value) -> value`` checks this source's part of a cursor
sent back by a phone and raises ValueError when it is not one it wrote. Sources are called in
registration order; a later part (e.g. personal notifications) adds itself with one call."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mark:
    """A position in the change feed. PostgreSQL: every transaction id >= ``key`` (the
    snapshot's xmax) or in ``pending`` (still running when the mark was taken) may still
    bring rows; all others had committed or rolled back. ``own``: (transaction id, last feed
    row id) when the pull ran in a transaction that had written itself (its rows are visible
    to it before it commits: a pull after a write in one transaction, and the tests, which
    run in one outer transaction): only its rows after that id are new.
    SQLite: every row id >= ``key``."""
    key: int
    pending: tuple[int, ...] = ()
    own: tuple[int, int] | None = None

    def dump(self) -> list:
        return [self.key, list(self.pending), list(self.own) if self.own else None]

    @classmethod
    def load(cls, value) -> Mark:
        key, pending, own = value
        if type(key) is not int or not 0 <= key < 2**63 or not isinstance(pending, list) or len(pending) > 64 \
                or any(type(x) is not int or not 0 <= x < key for x in pending):
            raise ValueError("bad mark")
        if own is not None and not (isinstance(own, list) and len(own) == 2
                                    and all(type(x) is int and 0 <= x < 2**63 for x in own)):
            raise ValueError("bad mark")
        return cls(key, tuple(pending), tuple(own) if own else None)


@dataclass
class SourceAnswer:
    tables: dict[str, dict] = field(default_factory=dict)
    cursor: object = None
    more: bool = False
    reset: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Source:
    name: str
    fn: Callable
    load: Callable


SOURCES: dict[str, Source] = {}


def register(name: str, fn: Callable, load: Callable) -> None:
    """Add (or replace: every app the process creates registers again) a source."""
    SOURCES[name] = Source(name, fn, load)
