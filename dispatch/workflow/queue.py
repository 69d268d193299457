"""The case queue (``GET /api/v1/cases``): its filters, its two sort orders and keyset pages.

Sort orders, each with its keyset (``wangge.pagination``):

* ``newest`` (default): ``id`` descending; after a page, ``id < :last``.
* ``deadline``: the running stage clock's due time (the owner's copy ``clock_due_at``, kept by
  the trigger of migration 0012), soonest first, cases without a running clock last, ties by
  ``id``. Read as two ranges, each one index range: the dated rows after the position
  (``(clock_due_at, id) > (:due, :id)``), then, when the page is not full, the undated ones
  (``clock_due_at IS NULL AND id > :id``). One OR of the two would not be a range.
* ``warning`` (``sort=deadline`` with ``light=green``): the warning time ``clock_warn_at``,
  ties by ``id``. In due order the first green cases come after every yellow one (due soon,
  warned already), which an index walk would read and drop on every page; the warning time is
  when a green case turns yellow, the deadline that matters to it next (docs/api.md).
* With a day filter (``reported_from``/``reported_to``), the days' own order: ``newest`` is
  the time reported, newest first, ties by ``id`` (the cursor names a case; its ``reported_at``
  is read in the page's statement), and the cases without a running clock at the end of a
  ``deadline`` page follow by the time reported, oldest first. The ``(reported_at, id)`` index
  gives that order for any days (a day or a month a year ago, at a million cases), where the
  ``id`` order would read and sort every case of the days (a backdated hotline call or an
  offline phone's report makes the two orders differ). The running cases keep the deadline
  order (:func:`walks`).

The light filter reads the owner's copy too (``clock_due_at``, ``clock_warn_at`` and
``clock_paused_light``, NULL while the clock runs): a paused clock has no light here, as
before. A grid filter is resolved to its codes first (one small recursive query), so the
planner sees a list of values, not a recursive CTE it cannot estimate.

Cost: every page (first or thousandth) is an ordered index range that stops after
``limit + 1`` rows, or a union of such ranges (:func:`branches`): one per filtered state,
written as a range of ``state`` and ordered by it so that PostgreSQL must take the
``(state, ...)`` index (with ``state = :s`` it drops the ORDER BY column and may walk the
primary key past every newer case of other states: closed cases are the oldest 90%; with a
light filter the states stay a filter on the indexes of the cases with a clock); one per
branch of an OR of what the caller may see (a grid worker: reported, assigned, each grid).
The ranges select ids only (the light copies are carried in the deadline and warning indexes,
so a light filter is an index-only test), the cases are read by id after. bench/bench_lists.py
checks the plans at 1,000,000 cases. The indexes are ``dispatch.cases.list_indexes``
(migration 0016). The page's clocks are one batch query.

Search (``q``, :func:`search_clause`): one OR added to every branch: the case number (exact,
unique index), words of the title, description or address (``ILIKE '%q%'``), and for those who
see the reporter's phone in the case's answer (``scope.sees_reporter_phone``) the phone's
digits ending with the digits of ``q`` (4 or more). On PostgreSQL each arm is an index
(the trigram GIN indexes of migration 0020, ``list_indexes.SEARCH_INDEXES``), so the planner
can read the matches (a BitmapOr) and sort the few of them, or walk the page's order and test
each row when the matches are many; SQLite runs a plain LIKE. The keyset is unchanged: a
search narrows the rows, not the order, so its cursors page as any other.

Counts (:func:`counts`, ``GET /api/v1/cases/counts``): the same filters and visibility (one
branch per disjunct of what the caller may see, as the pages), each number exact up to the
``count_cap`` setting (10,000) and "more than that" beyond: a count reads at most ``cap + 1``
entries of one index range per branch, so it costs what a few pages do whatever the table
holds (an exact count of every case was a count of the whole table: 75-90 ms at 1,000,000
cases, on every refresh of every dispatcher's queue). The lights come from the clocked
indexes that carry the owner's copy of the clock, the total from the narrowest index that
answers the filters, all in one statement; ``none`` is the difference, not counted (null)
when the total is over the cap. A light is counted as the light filter sees it: a
paused clock is ``none`` there, as it is left out of every ``light=`` list.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import bindparam, func, literal_column, or_, select, tuple_, union
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BooleanClauseList
from sqlalchemy.sql.selectable import ScalarSelect

from dispatch.cases.list_indexes import phone_digits
from dispatch.cases.models import Case
from dispatch.cases.scope import sees_reporter_phone, visible
from dispatch.clocks.models import StageClock
from grid.grids.service import subtree_codes
from grid.models import Department, Staff
from wangge import pagination
from wangge.config import current_settings
from wangge.pg_cursor import PER_VALUES
from wangge.present import user_tz
from wangge.timeutil import utcnow

SORTS = ("newest", "deadline")
MAX_BRANCH_GRIDS = 20  # a grid worker with more grids is read with one IN over them
CURSOR = "cases"
PHONE_DIGITS = re.compile(r"[0-9]{4,32}")  # last digits of a phone: 4 or more
_PHONE_SEPARATORS = re.compile(r"[ \-()+]")
LIGHTS = ("green", "yellow", "red", "none")
# the pages' and counts' statements are planned for their values on every run (PER_VALUES), not
# prepared once for all (wangge.pg_cursor: a generic plan walked whole indexes for a case number)

# A page's cases as rows of the columns a list shows (presenters.case_summaries reads them by
# name) and its cursor needs, on the table, not the entity: no Case objects (their loading
# was a fifth of a page's CPU, bench/README.md "lists"), no grid polygon, no department join
# (the answer names it from the reference cache).
_C = Case.__table__.c
LIST_COLUMNS = (_C.id, _C.number, _C.state, _C.channel, _C.category_code, _C.grid_code, _C.department_id, _C.title,
                _C.address, _C.lon, _C.lat, _C.reported_at, _C.closed_at, _C.supervised, _C.rating, _C.version,
                _C.clock_due_at, _C.clock_warn_at)


@dataclass(frozen=True)
class Position:
    """Where a page ended: the order key (``order_key``), the last row's due time (its warning
    time in ``warning`` order; None in ``newest`` order or for a case without clock) and id."""
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
        # every case of the warning order has a clock: its cursor always carries a time
        return cls(sort, pagination.cursor_time(due, nullable=sort != "warning"), pagination.cursor_id(ident))


@dataclass
class Page:
    cases: list  # rows of LIST_COLUMNS
    clocks: dict[int, object]  # rows of CLOCK_COLUMNS by case id
    next: Position | None


def light_clause(light: str, now: datetime):
    """Cases whose running (not paused) stage clock shows ``light`` now, from the owner's copy."""
    due, warn = Case.clock_due_at, Case.clock_warn_at
    running = Case.clock_paused_light.is_(None)
    return running & {"red": due < now, "yellow": (warn <= now) & (due >= now), "green": warn > now}[light]


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_clause(q: str, staff: Staff | None):
    """Cases matching ``q``: its number, words of the title, description or address, or (for
    those who see reporters' phones) the reporter's phone ending with the digits of ``q``."""
    like = _like(q)
    arms = [Case.number == q, Case.title.ilike(like, escape="\\"), Case.description.ilike(like, escape="\\"),
            Case.address.ilike(like, escape="\\")]
    digits = _PHONE_SEPARATORS.sub("", q)
    if PHONE_DIGITS.fullmatch(digits) and sees_reporter_phone(staff):
        arms.append(phone_digits(Case.reporter_phone).like("%" + digits))
    return or_(*arms)


def day_start(day: date) -> datetime:
    """The first moment of ``day`` in the user's zone, in UTC (times are stored in UTC)."""
    return datetime.combine(day, time.min, tzinfo=user_tz()).astimezone(UTC)


@dataclass(frozen=True)
class DaySpan:
    """The day filter (``reported_from``/``reported_to``) as UTC bounds, either may be None."""
    start: datetime | None
    end: datetime | None

    @classmethod
    def of(cls, args: dict) -> DaySpan | None:
        if "reported_from" not in args and "reported_to" not in args:
            return None
        start = day_start(args["reported_from"]) if "reported_from" in args else None
        end = day_start(args["reported_to"] + timedelta(days=1)) if "reported_to" in args else None
        return cls(start, end)

    def clauses(self, column=Case.reported_at) -> list:
        return [c for c in (None if self.start is None else column >= self.start,
                            None if self.end is None else column < self.end) if c is not None]

    def hidden(self) -> list:
        """The same test written so that no index range is taken from it (a walk tests it)."""
        return self.clauses(func.coalesce(Case.reported_at, Case.reported_at))


def conditions(session, args: dict, now: datetime, staff: Staff | None = None, *, days: bool = True) -> list:
    """The WHERE clauses of the filters in ``args`` (codes already checked) but the state and
    what the caller may see, which are branches (:func:`branches`); the day filter too unless
    ``days`` is false (the pages place it themselves, :func:`_ids`)."""
    out = []
    if "q" in args:
        out.append(search_clause(args["q"], staff))
    span = DaySpan.of(args) if days else None
    if span is not None:
        out += span.clauses()
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


def _rows(session, where: list, order: list, limit: int, offset: int = 0) -> list:
    query = select(*LIST_COLUMNS).where(*where).order_by(*order).limit(limit).execution_options(**PER_VALUES)
    return list(session.execute(query.offset(offset) if offset else query))


def _param(column, value):
    return bindparam(None, value, type_=column.type, unique=True)


def branches(session, staff: Staff, args: dict, key: str = "newest") -> list[tuple[list, str | None]]:
    """The query as a union of branches, each ``(clauses, state)``: one per disjunct of what
    ``staff`` may see (an OR read as one index range per branch, as the phone inbox does; a
    grid worker's grids resolved to one branch per grid) times one per filtered state."""
    seen = visible(staff)
    if seen is None:
        views = [[]]
    elif isinstance(seen, BooleanClauseList) and seen.operator is operators.or_:
        views = []
        for clause in seen.clauses:
            codes = _grid_codes(session, clause)
            views += [[clause]] if codes is None else [[Case.grid_code == code] for code in codes]
    else:
        views = [[seen]]
    # with a light (only cases with a running clock: the newest tenth), the states are a filter
    # on the clocked indexes, which carry them; the planner would otherwise read every case of
    # the state with that light from the (state, ...) index and sort them
    states = args.get("state") if "light" not in args else None
    if states is None and "light" in args and "state" in args:
        views = [[*view, _state_filter(key, args["state"])] for view in views]
    return [(view, state) for view in views for state in (states or [None])]


def _state_filter(key: str, states: list[str]):
    """The states of a light filter, tested on the clocked indexes that carry them. In
    ``newest`` order as ``state || ''``, which no index can answer: an equality on ``state``
    would let PostgreSQL take the ``(state, clock_due_at, id)`` range of a state and a light
    (every red case of the state, city-wide) and sort it, because it takes a running clock and
    the state for independent and so expects a fiftieth of the cases the range holds; the
    ``(id)`` walk of the clocked cases, or with a grid filter the ``(grid_code, id)`` one, each
    testing the state in the index, read a page's worth (bench/bench_lists.py). In deadline
    order the ``(state, clock_due_at, id)`` range is the page's own order: kept."""
    column = Case.state.concat(literal_column("''")) if key == "newest" else Case.state
    return column.in_(states)


def _grid_codes(session, clause) -> list[str] | None:
    """The codes of ``grid_code IN (SELECT ...)`` (a worker's grids: a few), else None."""
    if (isinstance(clause, BinaryExpression) and clause.operator is operators.in_op
            and getattr(clause.left, "key", None) == "grid_code" and isinstance(clause.right, ScalarSelect)):
        codes = list(session.scalars(clause.right.element))
        return codes if len(codes) <= MAX_BRANCH_GRIDS else None
    return None


def _state(state: str | None) -> list:
    # a range, not "= :state": PostgreSQL drops an ORDER BY column fixed by an equality and
    # may then walk the primary key past every newer case of other states (closed cases are
    # the old 90%); ordered by the range's column, only the (state, ...) index gives the order
    if state is None:
        return []
    return [Case.state >= _param(Case.state, state), Case.state <= _param(Case.state, state)]


def _day_order(key: str, columns) -> list:
    """The day filter's order (:func:`_ids`) over ``columns`` (the entity or its table):
    ``newest`` by (reported_at, id) descending, the undated tail of ``deadline`` ascending."""
    at, ident = columns.reported_at, columns.id
    return [at.desc(), ident.desc()] if key == "newest" else [at, ident]


def _reported_of(ident: int):
    """The ``reported_at`` of the case a cursor names, read in the page's own statement."""
    return select(Case.reported_at).where(Case.id == _param(Case.id, ident)).scalar_subquery()


def _ids(key: str, part: str, where: list, state: str | None, after: Position | None, want: int,
         span: DaySpan | None = None, walk: bool = True):
    """One branch's ids after ``after`` in ``key`` order, as one range of one index."""
    due, warn, ident, at = Case.clock_due_at, Case.clock_warn_at, Case.id, Case.reported_at
    if span is not None and (key == "newest" or part == "undated"):
        # the day filter's own order, (reported_at, id): a walk of ix_cases_list_reported that
        # stops after a page, however many cases the days hold; the state is a plain filter
        cond = [*where, *span.clauses(), *([Case.state == state] if state is not None else [])]
        if key == "newest":
            if after is not None:
                cond.append(tuple_(at, ident) < tuple_(_reported_of(after.id), _param(ident, after.id)))
        else:
            cond.append(due.is_(None))
            if after is not None and after.due is None:
                cond.append(tuple_(at, ident) > tuple_(_reported_of(after.id), _param(ident, after.id)))
        return select(ident).where(*cond).order_by(*_day_order(key, Case)).limit(want)
    st = [Case.state] if state is not None else []
    st_at = [_param(Case.state, state)] if state is not None else []
    if span is not None:  # the running cases in deadline order: the days walked or read (walks)
        where = [*where, *(span.hidden() if walk else span.clauses())]
    cond = [*where, *_state(state)]
    if key == "newest":
        if after is not None:
            cond.append(tuple_(*st, ident) < tuple_(*st_at, _param(ident, after.id)))
        order = [c.desc() for c in st] + [ident.desc()]
    elif part == "undated":
        cond.append(due.is_(None))
        if after is not None and after.due is None:
            cond.append(tuple_(*st, ident) > tuple_(*st_at, _param(ident, after.id)))
        order = [*st, ident]
    else:
        column = warn if key == "warning" else due
        cond.append(column.is_not(None))
        if key == "warning":  # no (state, warn) index: the state stays a filter
            cond, st, st_at = [*where, *([Case.state == state] if state else [])], [], []
            cond.append(column.is_not(None))
        if after is not None:
            cond.append(tuple_(*st, column, ident) > tuple_(*st_at, _param(column, after.due), _param(ident, after.id)))
        order = [*st, column, ident]
        if not walk:  # the same order, as expressions no index gives: read the days' range, sort
            order = [func.coalesce(column, column), ident + 0]
    return select(ident).where(*cond).order_by(*order).limit(want)


def walks(span: DaySpan | None, now: datetime) -> bool:
    """Whether the running cases of a ``deadline`` page with a day filter are read by walking
    the deadline order (testing the days in the index), or by reading the days' range of the
    running cases (``ix_cases_list_clocked_reported``) and sorting it: when the range ended in
    the past, longer ago than it is long (a day a year ago), few of its cases still run and the
    walk would read every running case to find them; a range that reaches today holds most of
    the running cases, which the walk meets at once. A day's cases are taken to arrive at an
    even rate."""
    if span is None or span.end is None or span.start is None:
        return True
    return span.end >= now or now - span.end <= span.end - span.start


# the page's clocks as rows of the columns a list row shows (presenters.clock_view and
# deadlines.light read them by name), not StageClock objects: building those was a tenth of a
# page's CPU (bench/README.md, "lists")
_K = StageClock.__table__.c
CLOCK_COLUMNS = (_K.case_id, _K.stage, _K.amount, _K.unit, _K.consumed, _K.extended, _K.started_at,
                 _K.segment_started_at, _K.warn_at, _K.due_at, _K.ended_at, _K.ended_late)


def page_clocks(session, cases: list) -> dict:
    """The running clocks of a page's cases by case id (one query), as read-only rows."""
    if not cases:
        return {}
    rows = session.execute(select(*CLOCK_COLUMNS).where(_K.case_id.in_([c.id for c in cases]),
                                                        _K.ended_at.is_(None)).order_by(_K.id))
    return {row.case_id: row for row in rows}


def _fetch(session, key: str, part: str, parts: list, want: int, by_day: bool = False) -> list:
    """The cases of the union of ``parts`` (id selects), in ``key`` order (``by_day``: the day
    filter's, see :func:`_ids`), ``want`` at most."""
    if not parts:
        return []
    if len(parts) == 1:
        ids = parts[0].subquery("page")
    else:  # UNION, not UNION ALL: a case may be in two branches (reported by me, in my grid)
        ids = union(*(select(p.subquery().c.id) for p in parts)).subquery("page")
    if by_day and (key == "newest" or part == "undated"):
        order = _day_order(key, _C)
    elif key == "newest":
        order = [_C.id.desc()]
    elif part == "undated":
        order = [_C.id]
    else:
        order = [_C.clock_warn_at if key == "warning" else _C.clock_due_at, _C.id]
    query = select(*LIST_COLUMNS).join(ids, ids.c.id == _C.id).order_by(*order).limit(want)
    return list(session.execute(query.execution_options(**PER_VALUES)))


def _page_rows(session, key: str, where: list, split: list, after: Position | None, want: int,
               light: bool, span: DaySpan | None = None, walk: bool = True) -> list:
    def ids(part: str, n: int) -> list:
        return [_ids(key, part, where + view, state, after, n, span, walk) for view, state in split]

    by_day = span is not None
    if key == "newest":
        return _fetch(session, key, "", ids("", want), want, by_day)
    rows = []
    if after is None or after.due is not None:
        rows = _fetch(session, key, "dated", ids("dated", want), want)
    if len(rows) < want and not light:  # a light needs a running clock: no undated case has one
        rows += _fetch(session, key, "undated", ids("undated", want - len(rows)), want - len(rows), by_day)
    return rows


def order_key(args: dict) -> str:
    """The keyset order: ``newest``, ``deadline``, or ``warning`` (``sort=deadline`` with
    ``light=green``: by the warning time, see the module's text)."""
    if args["sort"] == "deadline" and args.get("light") == "green":
        return "warning"
    return args["sort"]


def page(session, staff: Staff, args: dict, *, now: datetime | None = None) -> Page:
    """One page of the queue: ``args`` as loaded by ``CaseQuery`` (``sort``, ``limit``, and
    ``cursor`` or the old ``offset``)."""
    now = now or utcnow()
    key, limit = order_key(args), args["limit"]
    after = Position.load(args["cursor"], key) if "cursor" in args else None
    offset = args.get("offset", 0)
    where = conditions(session, args, now, staff, days=bool(offset))
    span = DaySpan.of(args)
    if offset:  # the old way, kept for existing clients: reads and drops ``offset`` rows
        seen = visible(staff)
        where += [c for c in (seen, Case.state.in_(args["state"]) if "state" in args else None) if c is not None]
        column = Case.clock_warn_at if key == "warning" else Case.clock_due_at
        order = [Case.id.desc()] if key == "newest" else [column.asc().nulls_last(), Case.id]
        rows = _rows(session, where, order, limit + 1, offset)
    else:
        rows = _page_rows(session, key, where, branches(session, staff, args, key), after, limit + 1,
                          "light" in args, span, walks(span, now))
    cases, more = rows[:limit], len(rows) > limit
    last = cases[-1] if cases else None
    value = None if key == "newest" or last is None else \
        last.clock_warn_at if key == "warning" else last.clock_due_at
    following = Position(key, value, last.id) if more else None
    return Page(cases, page_clocks(session, cases), following)


def _views(session, staff: Staff) -> list[list]:
    """What ``staff`` may see as branches, each a list of clauses (see :func:`branches`)."""
    return [view for view, _state in branches(session, staff, {})]


def _capped(selects: list, cap: int):
    """How many ids the union of ``selects`` holds, counting ``cap + 1`` at most: each branch
    stops after that many index entries, so a count costs what its cap does, not the table."""
    limited = [select(s.limit(cap + 1).subquery().c.id) for s in selects]
    ids = limited[0] if len(limited) == 1 else union(*limited)  # UNION: a case in two branches once
    return select(func.count()).select_from(ids.limit(cap + 1).subquery("n")).scalar_subquery()


def counts(session, staff: Staff, args: dict, *, now: datetime | None = None, cap: int | None = None) -> dict:
    """How many cases of the list (the same filters and visibility, every page) show each
    light, and in all: ``{"lights": {"green": n, "yellow": n, "red": n, "none": n}, "total":
    n, "cap": cap, "capped": [names]}``, each number exact up to ``cap`` (the setting
    ``count_cap``); a number named in ``capped`` is ``cap`` and the list holds more; ``none``
    is None (not counted) when the total is over the cap.

    One statement of capped counts (:func:`_capped`), each a range of one index per branch of
    what ``staff`` may see: each light over the cases with a running clock (the clocked
    indexes, which carry the owner's copy of the clock), and the total over the narrowest
    index that answers the filters. ``none`` is the total less the lit. With a ``light``
    filter every case counted has that light: that light's count alone."""
    now = now or utcnow()
    cap = current_settings().count_cap if cap is None else cap
    where = conditions(session, args, now, staff)
    if "state" in args:
        where.append(Case.state.in_(args["state"]))
    views = _views(session, staff)

    def capped(*extra):
        return _capped([select(Case.id).where(*where, *view, *extra) for view in views], cap)

    if "light" in args:  # already in ``where``
        parts = {args["light"]: capped()}
    else:
        parts = {light: capped(light_clause(light, now)) for light in LIGHTS if light != "none"}
        parts["total"] = capped()
    found = dict(zip(parts, session.execute(select(*parts.values()).execution_options(**PER_VALUES)).one(),
                     strict=True))
    out = {light: found.get(light, 0) for light in LIGHTS if light != "none"}
    total = found.get("total", sum(out.values()))
    over = [name for name, n in found.items() if n > cap]
    if "light" in args and over:  # the total is that light's count
        over.append("total")
    out = {light: min(n, cap) for light, n in out.items()}
    # the cases without a light are the total less the lit; over the cap that is not known, and
    # counting them would read every unlit case of the filters (most cases, in no index of lit
    # ones): not counted (None)
    out["none"] = 0 if "light" in args else None if "total" in over else total - sum(out.values())
    return {"lights": out, "total": min(total, cap), "cap": cap,
            "capped": [name for name in (*LIGHTS, "total") if name in over]}
