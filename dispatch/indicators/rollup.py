"""The indicators from the roll-up of facts (``dispatch.indicators.models``): one row per
measured event or clock, with the moments the indicators ask about already found, so a
period is a range scan of the facts that happened or settled in it and a GROUP BY.

Kept in step with the event log like this (docs/indicators.md, "How it is computed"):

- a trigger (migration 0015) adds a case to ``kpi_dirty`` in the transaction that adds one
  of its events or changes one of its clocks or its group columns;
- ``fold`` recomputes the facts of dirty cases with the same SELECT (``event_facts``,
  ``clock_facts``) and removes them from ``kpi_dirty``: the worker's tick folds them every
  few seconds, ``wangge indicators rebuild`` folds every case;
- ``queries`` reads the stored facts of the cases that are not dirty and computes the facts
  of the dirty ones on the fly, so an answer is always that of the event log as it is.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import (
    and_,
    case,
    delete,
    distinct,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.orm import aliased

from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks.models import StageClock
from dispatch.indicators.definitions import CLOCK_STAGES, COMPLETES, DISPATCH_VERBS, PUBLIC
from dispatch.indicators.models import KpiClockFact, KpiDirty, KpiEventFact
from grid.models import GridAssignment

EVENT_VERBS = ("submit", "open", *DISPATCH_VERBS, "rate")
FOLD_BATCH = 2000  # dirty rows per fold transaction
OVERLAY_IDS = 2000  # more dirty cases than this: the overlay selects them by a subquery
FOLD_LOCK = 0x6B7069  # PostgreSQL advisory lock: one fold at a time (two could insert a fact twice)


# --- the facts of some cases, from the event log and the clocks -----------------------------
#
# Set-based: the events and clocks of the cases are read once each (by the case id index) and
# every moment is a window over a case's events in id order or a join grouped by clock, so
# recomputing 20,000 cases is a few sorts and hash joins rather than 20,000 x 10 correlated
# lookups. ``cases``: None (every case), a ``range`` of case ids, a list of ids, or a SELECT
# of ids.

def _scope(column, cases):
    if cases is None:
        return []
    if isinstance(cases, range):
        return [column >= cases.start, column < cases.stop]
    return [column.in_(cases)]


def _reporter(c):
    return case((c.channel == PUBLIC, c.reporter_staff_id), else_=None)


def _min_at(condition, at):
    return func.min(case((condition, at), else_=None))


def event_facts(cases=None):
    """The facts of the events of ``cases``, one row per event of ``EVENT_VERBS``, columns in
    the order of ``kpi_event_facts``."""
    e, c, k = aliased(CaseEvent), aliased(Case), aliased(StageClock)
    by_case = {"partition_by": e.case_id}
    # seg: how many dispatches so far, this one included: a dispatch and the events up to the
    # next dispatch share it ("before the next dispatch")
    w1 = select(e.id, e.case_id, e.verb, e.at, e.department_id, e.to_state,
                case((e.verb == "rate", e.data["rating"].as_string())).label("rating"),
                func.sum(case((e.verb.in_(DISPATCH_VERBS), 1), else_=0))
                .over(**by_case, order_by=e.id, rows=(None, 0)).label("seg"),
                _min_at(or_(e.to_state == "accepted", e.verb == "self_handle"), e.at)
                .over(**by_case).label("valid_at"),
                _min_at(and_(e.verb == "decide_void", e.to_state == "voided"), e.at)
                .over(**by_case, order_by=e.id, rows=(1, None)).label("voided_at")) \
        .where(*_scope(e.case_id, cases)).subquery("w1")
    segment = {"partition_by": (w1.c.case_id, w1.c.seg)}
    w2 = select(w1, _min_at(w1.c.verb == "return", w1.c.at).over(**segment).label("returned_at"),
                _min_at(and_(w1.c.verb == "rule_return", w1.c.to_state == "opened"), w1.c.at)
                .over(**segment).label("return_accepted_at")).subquery("w2")
    # (case, moment) at which an open clock ended not late
    open_ok = select(k.case_id, k.ended_at).where(
        k.stage == "open", k.ended_at.is_not(None), func.coalesce(k.ended_late, false()) == false(),
        *_scope(k.case_id, cases)).group_by(k.case_id, k.ended_at).subquery("open_ok")
    is_dispatch = w2.c.verb.in_(DISPATCH_VERBS)
    columns = {
        "event_id": w2.c.id, "case_id": w2.c.case_id, "verb": w2.c.verb, "at": w2.c.at,
        "department_id": w2.c.department_id,
        "grid_code": c.grid_code, "category_code": c.category_code, "worker_id": _reporter(c),
        "from_public": c.channel != PUBLIC,
        "valid_at": case((w2.c.verb == "submit", w2.c.valid_at)),
        "on_time": case((w2.c.verb == "open", open_ok.c.case_id.is_not(None))),
        "voided_at": case((w2.c.verb == "open", w2.c.voided_at)),
        "returned_at": case((is_dispatch, w2.c.returned_at)),
        "return_accepted_at": case((is_dispatch, w2.c.return_accepted_at)),
        "rating": w2.c.rating,
    }
    return select(*[columns[col.name].label(col.name) for col in KpiEventFact.__table__.columns]) \
        .select_from(w2).join(c, c.id == w2.c.case_id) \
        .outerjoin(open_ok, and_(w2.c.verb == "open", open_ok.c.case_id == w2.c.case_id,
                                 open_ok.c.ended_at == w2.c.at)) \
        .where(w2.c.verb.in_(EVENT_VERBS))


def clock_facts(cases=None):
    """The facts of the verify, dispatch, check and handle clocks of ``cases``, columns in the
    order of ``kpi_clock_facts``."""
    k, c, ev, k2 = aliased(StageClock), aliased(Case), aliased(CaseEvent), aliased(StageClock)
    # (case, moment, stage) of every event that completes a stage: the stage's own verb from
    # the stage's state (the states differ, so an event completes one stage at most)
    stage = case(*[(and_(ev.verb.in_(verbs), ev.from_state == state), literal(name))
                   for name, (verbs, state) in COMPLETES.items() if name in CLOCK_STAGES])
    completes = select(ev.case_id, ev.at, stage.label("stage")) \
        .where(stage.is_not(None), *_scope(ev.case_id, cases)) \
        .group_by(ev.case_id, ev.at, stage).subquery("completes")
    # the first request_verify / request_check at each moment: whom the clock was assigned to
    req = select(ev.case_id, ev.at, ev.to_state, ev.data["assignee_id"].as_integer().label("assignee_id"),
                 func.row_number().over(partition_by=(ev.case_id, ev.at, ev.to_state), order_by=ev.id).label("n")) \
        .where(ev.to_state.in_(("verifying", "checking")), *_scope(ev.case_id, cases)).subquery("req")
    # handle clocks: the first approved extension while running, close and failing check after
    m = aliased(CaseEvent)
    approve = and_(m.verb == "decide_extension", m.data["outcome"].as_string() == "approve")
    rework = and_(m.verb == "check", m.to_state == "handling")
    marks = select(m.case_id, m.at, m.verb, approve.label("approve"), rework.label("rework")) \
        .where(or_(approve, m.verb == "close", rework), *_scope(m.case_id, cases)).subquery("marks")
    h = aliased(StageClock)
    handle = select(
        h.id,
        _min_at(and_(marks.c.approve, marks.c.at >= h.started_at,
                     or_(h.ended_at.is_(None), marks.c.at <= h.ended_at)), marks.c.at).label("extended_at"),
        _min_at(and_(marks.c.verb == "close", marks.c.at >= h.started_at), marks.c.at).label("closed_at"),
        _min_at(and_(marks.c.rework, marks.c.at > h.started_at), marks.c.at).label("rework_at")) \
        .select_from(h).join(marks, marks.c.case_id == h.case_id) \
        .where(h.stage == "handle", *_scope(h.case_id, cases)).group_by(h.id).subquery("handle")
    late = select(k2.case_id, func.min(k2.ended_at).label("case_late_at")) \
        .where(k2.stage == "handle", k2.ended_late.is_(True), *_scope(k2.case_id, cases)) \
        .group_by(k2.case_id).subquery("late")
    is_handle = k.stage == "handle"
    done = completes.c.case_id.is_not(None)
    columns = {
        "clock_id": k.id, "case_id": k.case_id, "stage": k.stage, "department_id": k.department_id,
        "grid_code": c.grid_code, "category_code": c.category_code,
        "worker_id": case((k.stage.in_(("verify", "check")), req.c.assignee_id), else_=_reporter(c)),
        "due_at": k.due_at,
        "done_at": case((done, k.ended_at)),
        "ontime_at": case((and_(done, func.coalesce(k.ended_late, false()) == false()), k.ended_at)),
        "withdrawn_at": case((and_(k.ended_at.is_not(None), not_(done)), k.ended_at)),
        "extended_at": handle.c.extended_at, "closed_at": handle.c.closed_at, "rework_at": handle.c.rework_at,
        "case_late_at": case((is_handle, late.c.case_late_at)),
    }
    return select(*[columns[col.name].label(col.name) for col in KpiClockFact.__table__.columns]) \
        .select_from(k).join(c, c.id == k.case_id) \
        .outerjoin(completes, and_(completes.c.case_id == k.case_id, completes.c.at == k.ended_at,
                                   completes.c.stage == k.stage)) \
        .outerjoin(req, and_(k.stage.in_(("verify", "check")), req.c.case_id == k.case_id,
                             req.c.at == k.started_at, req.c.n == 1,
                             req.c.to_state == case((k.stage == "verify", "verifying"), else_="checking"))) \
        .outerjoin(handle, and_(is_handle, handle.c.id == k.id)) \
        .outerjoin(late, and_(is_handle, late.c.case_id == k.case_id)) \
        .where(k.stage.in_(CLOCK_STAGES), *_scope(k.case_id, cases))


# --- folding dirty cases into the stored facts ---------------------------------------------

def _store(session, case_ids: Sequence[int] | range) -> None:
    for table, live in ((KpiEventFact.__table__, event_facts), (KpiClockFact.__table__, clock_facts)):
        session.execute(delete(table).where(*_scope(table.c.case_id, case_ids)))
        session.execute(insert(table).from_select([col.name for col in table.columns], live(case_ids)))


def fold(session, batch: int = FOLD_BATCH) -> int:
    """Recompute the facts of the cases of the oldest ``batch`` dirty rows and forget those
    rows; answers how many rows it took (0: nothing was dirty). The caller commits.

    The rows are deleted first (RETURNING their cases) and the facts recomputed after, in
    the same transaction: a case dirtied by a transaction that commits meanwhile keeps its
    own row and is folded again next time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(FOLD_LOCK)))
    oldest = select(KpiDirty.id).order_by(KpiDirty.id).limit(batch).scalar_subquery()
    taken = session.execute(delete(KpiDirty).where(KpiDirty.id.in_(oldest)).returning(KpiDirty.case_id)) \
        .scalars().all()
    if taken:
        _store(session, sorted(set(taken)))
    return len(taken)


def tick(session) -> dict:
    """The worker's periodic fold: up to ten batches, each committed."""
    rows = 0
    for _ in range(10):
        n = fold(session)
        session.commit()
        rows += n
        if n < FOLD_BATCH:
            break
    return {"folded": rows}


def rebuild(session, *, batch: int = 20000, progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute the facts of every case: mark them all dirty (committed: answers stay
    exact meanwhile, read from the event log for the cases not folded yet), then fold ranges
    of ``batch`` case ids in id order, each committed, calling ``progress(done, total)``.
    Safe to interrupt and run again. Answers the number of cases.

    Each range is folded like ``fold`` folds its rows: its dirty rows deleted first, then its
    facts recomputed, so a case dirtied meanwhile keeps its later row and is folded again."""
    session.execute(insert(KpiDirty).from_select(["case_id"], select(Case.id).order_by(Case.id)))
    for table in (KpiEventFact.__table__, KpiClockFact.__table__):  # facts of cases deleted meanwhile
        session.execute(delete(table).where(table.c.case_id.not_in(select(Case.id))))
    session.commit()
    total = session.scalar(select(func.count()).select_from(Case)) or 0
    done = 0
    low = session.scalar(select(func.min(KpiDirty.case_id)))
    while low is not None:
        ids = range(low, low + batch)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(FOLD_LOCK)))
        session.execute(delete(KpiDirty).where(*_scope(KpiDirty.case_id, ids)))
        _store(session, ids)
        done += session.scalar(select(func.count()).select_from(Case).where(*_scope(Case.id, ids))) or 0
        session.commit()
        if progress:
            progress(min(done, total), total)
        low = session.scalar(select(func.min(KpiDirty.case_id)).where(KpiDirty.case_id >= ids.stop))
    return total


def dirty_count(session) -> int:
    return session.scalar(select(func.count()).select_from(KpiDirty)) or 0


# --- the grouped queries of a period -----------------------------------------------------------

def _stored(table, dirty):
    """The stored facts of the cases not in ``dirty``."""
    if isinstance(dirty, list) and not dirty:
        return table
    return select(*table.columns).where(table.c.case_id.not_in(dirty)).subquery(table.name)


def _n(cond):
    return func.count().filter(cond)


def _count_cases(cond, case_id):
    return func.count(distinct(case((cond, case_id), else_=None)))


class _Period:
    """The grouped statements of a period: one per table and one for the distinct cases of
    the handle clocks (plus the miss rate by worker, joined with the assignments). Each reads
    the index ranges of the period once and aggregates every family at once with
    ``COUNT(*) FILTER (WHERE ...)``, so one row per group reaches Python."""

    def __init__(self, by, start, end, now, department_id, events, clocks):
        self.by, self.start, self.end, self.now, self.department_id = by, start, end, now, department_id
        self.events, self.clocks = events, clocks

    def key(self, f):
        return {"department": f.c.department_id, "grid": f.c.grid_code, "category": f.c.category_code,
                "worker": f.c.worker_id}[self.by]

    def grouped(self, f, where, measures: dict, *, key=None, source=None):
        key = self.key(f) if key is None else key
        query = select(key.label("key"), *[expr.label(name) for name, expr in measures.items()]) \
            .select_from(f if source is None else source).where(*where)
        if self.department_id is not None:
            query = query.where(f.c.department_id == self.department_id)
        return query.group_by(key)

    def before_end(self, column):
        return column < self.end

    def in_period(self, f, verbs):
        return [f.c.verb.in_(verbs), f.c.at >= self.start, f.c.at < self.end]

    def event_counts(self):
        """reports, opening, (miss rate), dispatches and ratings: the event facts of the period."""
        f, end = self.events, self.before_end
        submit, opened, rate = f.c.verb == "submit", f.c.verb == "open", f.c.verb == "rate"
        dispatched = f.c.verb.in_(DISPATCH_VERBS)
        measures = {
            "reports": _n(submit), "valid_reports": _n(and_(submit, end(f.c.valid_at))),
            "opened": _n(opened), "opened_on_time": _n(and_(opened, f.c.on_time.is_(True))),
            "voided": _n(and_(opened, end(f.c.voided_at))),
            "dispatched": _n(dispatched), "returned": _n(and_(dispatched, end(f.c.returned_at))),
            "return_accepted": _n(and_(dispatched, end(f.c.return_accepted_at))),
            "rated": _n(rate),
            **{name: _n(and_(rate, f.c.rating == name)) for name in ("satisfied", "basically_satisfied",
                                                                      "unsatisfied")}}
        if self.by != "worker":
            measures.update(miss_opened=_n(opened), missed=_n(and_(opened, f.c.from_public.is_(True))))
        return self.grouped(f, self.in_period(f, EVENT_VERBS), measures)

    def worker_misses(self):
        """The miss rate by worker: open facts per grid worker assigned to the grid then."""
        f = self.events
        ga = aliased(GridAssignment)
        source = f.join(ga, and_(ga.grid_code == f.c.grid_code, ga.valid_from <= f.c.at,
                                 or_(ga.valid_to.is_(None), ga.valid_to > f.c.at)))
        return self.grouped(f, self.in_period(f, ("open",)), {
            "miss_opened": func.count(), "missed": _n(f.c.from_public.is_(True))}, key=ga.staff_id, source=source)

    def due(self, stages: tuple[str, ...]):
        """Clocks of ``stages`` due in the period: settled on time in it, or fell due in it
        without being done on time or withdrawn before its end (one index range each)."""
        f, start, end, now = self.clocks, self.start, self.end, self.now
        stage = f.c.stage.in_(stages)
        return or_(and_(stage, f.c.ontime_at >= start, f.c.ontime_at < end, f.c.ontime_at <= now),
                   and_(stage, f.c.due_at >= start, f.c.due_at < end, f.c.due_at <= now,
                        or_(f.c.ontime_at.is_(None), f.c.ontime_at >= end),
                        or_(f.c.withdrawn_at.is_(None), f.c.withdrawn_at >= end)))

    def clock_counts(self, *, with_closing: bool = False):
        """due, done and on time per stage, and the extended handle clocks (and the
        ``closing`` counts with ``with_closing``: for the few live facts, so that they are
        computed once)."""
        f, end = self.clocks, self.before_end
        measures = {}
        for stage in CLOCK_STAGES:
            due, done, on_time = (("due_handling", "handled", "handled_on_time") if stage == "handle"
                                  else (f"{stage}_due", f"{stage}_done", f"{stage}_on_time"))
            this = f.c.stage == stage
            measures.update({due: _n(this), done: _n(and_(this, end(f.c.done_at))),
                             on_time: _n(and_(this, end(f.c.ontime_at)))})
        measures["extended"] = _n(and_(f.c.stage == "handle", end(f.c.extended_at)))
        if with_closing:
            measures.update(self.closing_measures(f.c.stage == "handle"))
        return self.grouped(f, [self.due(CLOCK_STAGES)], measures)

    def closing_measures(self, handle):
        f = self.clocks
        closed = self.before_end(f.c.closed_at)
        not_late = or_(f.c.case_late_at.is_(None), f.c.case_late_at >= self.end)
        return {"due_closing": _count_cases(handle, f.c.case_id),
                "closed": _count_cases(and_(handle, closed), f.c.case_id),
                "closed_on_time": _count_cases(and_(handle, closed, not_late), f.c.case_id),
                "reworked": _count_cases(and_(handle, self.before_end(f.c.rework_at)), f.c.case_id)}

    def closing(self):
        """The distinct cases of the due handle clocks: closed, on time, reworked (apart from
        ``clock_counts`` on the stored facts: a DISTINCT aggregate would sort every due
        clock of the period, where this sorts the handle clocks only)."""
        f = self.clocks
        return self.grouped(f, [self.due(("handle",))], {
            **self.closing_measures(literal(True)), "due_closing": func.count(distinct(f.c.case_id))})


def dirty_cases(session):
    """The dirty cases as a list of ids, or as a SELECT when there are many."""
    ids = session.scalars(select(KpiDirty.case_id).distinct().limit(OVERLAY_IDS + 1)).all()
    return select(KpiDirty.case_id) if len(ids) > OVERLAY_IDS else list(ids)


def queries(session, by: str, start: datetime, end: datetime, now: datetime, department_id: int | None) -> dict:
    """name -> grouped query, like ``scratch.queries``, over the facts: the stored facts of
    the cases that are not dirty and, in statements of their own, the facts of the dirty
    ones computed on the fly. A case is in one part or the other, so the counts add up,
    distinct cases included (``kpi.compute`` sums the rows of every statement by key); apart,
    the big statements keep their parallel plans."""
    dirty = dirty_cases(session)
    parts = {"": _Period(by, start, end, now, department_id, _stored(KpiEventFact.__table__, dirty),
                         _stored(KpiClockFact.__table__, dirty))}
    if not (isinstance(dirty, list) and not dirty):
        if session.get_bind().dialect.name == "postgresql":
            # the live part's row estimates push its cost over jit_above_cost: compiling the
            # expressions (~50 ms a statement here) does not pay back on these small reads
            session.execute(text("SET LOCAL jit = off"))
        parts["live_"] = _Period(by, start, end, now, department_id,
                                 event_facts(dirty).subquery("kpi_event_facts_live"),
                                 clock_facts(dirty).subquery("kpi_clock_facts_live"))
    out = {}
    for prefix, p in parts.items():
        out[f"{prefix}events"] = p.event_counts()
        if prefix:
            out[f"{prefix}clocks"] = p.clock_counts(with_closing=True)
        else:
            out.update(clocks=p.clock_counts(), closing=p.closing())
        if by == "worker":
            out[f"{prefix}misses"] = p.worker_misses()
    return out
