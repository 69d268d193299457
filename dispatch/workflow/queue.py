"""The case queue (``GET /api/v1/cases``): its filters, its two sort orders and keyset pages.

Sort orders, each with its keyset (``wangge.pagination``):

* ``newest`` (default): ``id`` descending; after a page, ``id < :last``.
* ``deadline``: the running stage clock's due time (the owner's copy ``clock_due_at``, kept by
  the trigger of migration 0012), soonest first, cases without a running clock last, ties by
  ``id``. Read as two ranges, each one index range: the dated rows after the position
  (``(clock_due_at, id) > (:due, :id)``), then, when the page is not full, the undated ones
  (``clock_due_at IS NULL AND id > :id``). One OR of the two would not be a range.

The light filter reads the owner's copy too (``clock_due_at``, ``clock_warn_at`` and
``clock_paused_light``, NULL while the clock runs): a paused clock has no light here, as
before. A grid filter is resolved to its codes first (one small recursive query), so the
planner sees a list of values, not a recursive CTE it cannot estimate.

Cost: every page (first or thousandth) is an ordered index range that stops after
``limit + 1`` rows; bench/bench_lists.py checks the plans at 1,000,000 cases. The indexes are
``dispatch.cases.list_indexes`` (migration 0016). The page's clocks are one batch query.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import lazyload

from dispatch.cases.models import Case
from dispatch.cases.scope import visible
from dispatch.clocks.deadlines import current_clocks
from dispatch.clocks.models import StageClock
from grid.grids.service import subtree_codes
from grid.models import Department, Staff
from wangge import pagination
from wangge.timeutil import utcnow

SORTS = ("newest", "deadline")
CURSOR = "cases"


@dataclass(frozen=True)
class Position:
    """Where a page ended: the sort order, the last row's due time (deadline order) and id."""
    sort: str
    due: datetime | None
    id: int

    def dump(self) -> str:
        return pagination.encode(CURSOR, self.sort, pagination.time_value(self.due), self.id)

    @classmethod
    def load(cls, text: str, sort: str) -> Position:
        """A cursor of this list in this sort order; a 400 naming ``cursor`` otherwise."""
        sort_, due, ident = pagination.decode(text, CURSOR, 3)
        if sort_ != sort or (sort == "newest" and due is not None):
            raise pagination.bad_cursor()
        return cls(sort, pagination.cursor_time(due, nullable=True), pagination.cursor_id(ident))


@dataclass
class Page:
    cases: list[Case]
    clocks: dict[int, StageClock]
    next: Position | None


def light_clause(light: str, now: datetime):
    """Cases whose running (not paused) stage clock shows ``light`` now, from the owner's copy."""
    due, warn = Case.clock_due_at, Case.clock_warn_at
    running = Case.clock_paused_light.is_(None)
    return running & {"red": due < now, "yellow": (warn <= now) & (due >= now), "green": warn > now}[light]


def conditions(session, staff: Staff, args: dict, now: datetime) -> list:
    """The WHERE clauses of the filters in ``args`` (codes already checked) and of what
    ``staff`` may see."""
    out = []
    clause = visible(staff)
    if clause is not None:
        out.append(clause)
    if "state" in args:
        out.append(Case.state.in_(args["state"]))
    if "channel" in args:
        out.append(Case.channel.in_(args["channel"]))
    if "department" in args:
        out.append(Case.department_id == select(Department.id).where(Department.code == args["department"])
                   .scalar_subquery())
    if "grid" in args:
        out.append(Case.grid_code.in_(session.scalars(subtree_codes(args["grid"])).all()))
    if "category" in args:
        out.append(Case.category_code == args["category"])
    if "supervised" in args:
        # "= true", not "IS true": the partial index's predicate is proved from the former only
        out.append(Case.supervised == args["supervised"])
    if "light" in args:
        out.append(light_clause(args["light"], now))
    return out


def _rows(session, where: list, order: list, limit: int, offset: int = 0) -> list[Case]:
    # the grid (and its polygon) is not shown in a list: not joined
    query = select(Case).options(lazyload(Case.grid)).where(*where).order_by(*order).limit(limit)
    return list(session.scalars(query.offset(offset) if offset else query))


def _param(column, value):
    return bindparam(None, value, type_=column.type, unique=True)


def _deadline_rows(session, where: list, after: Position | None, want: int) -> list[Case]:
    due, ident = Case.clock_due_at, Case.id
    rows = []
    if after is None or after.due is not None:
        dated = [due.is_not(None)]
        if after is not None:
            dated.append(tuple_(due, ident) > tuple_(_param(due, after.due), _param(ident, after.id)))
        rows = _rows(session, [*where, *dated], [due, ident], want)
    if len(rows) < want:
        undated = [due.is_(None)]
        if after is not None and after.due is None:
            undated.append(ident > after.id)
        rows += _rows(session, [*where, *undated], [ident], want - len(rows))
    return rows


def page(session, staff: Staff, args: dict, *, now: datetime | None = None) -> Page:
    """One page of the queue: ``args`` as loaded by ``CaseQuery`` (``sort``, ``limit``, and
    ``cursor`` or the old ``offset``)."""
    now = now or utcnow()
    sort, limit = args["sort"], args["limit"]
    after = Position.load(args["cursor"], sort) if "cursor" in args else None
    where = conditions(session, staff, args, now)
    offset = args.get("offset", 0)
    if offset:  # the old way, kept for existing clients: reads and drops ``offset`` rows
        order = [Case.id.desc()] if sort == "newest" else [Case.clock_due_at.asc().nulls_last(), Case.id]
        rows = _rows(session, where, order, limit + 1, offset)
    elif sort == "newest":
        rows = _rows(session, where + ([Case.id < after.id] if after else []), [Case.id.desc()], limit + 1)
    else:
        rows = _deadline_rows(session, where, after, limit + 1)
    cases, more = rows[:limit], len(rows) > limit
    last = cases[-1] if cases else None
    following = Position(sort, last.clock_due_at if sort == "deadline" else None, last.id) if more else None
    return Page(cases, current_clocks(session, cases), following)
