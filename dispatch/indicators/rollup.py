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
    union_all,
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

def _case_filter(column, cases):
    return [] if cases is None else [column.in_(cases)]


def _first(v, *conditions):
    """The earliest ``at`` of the events ``v`` that meet ``conditions`` (NULL: none)."""
    return select(func.min(v.at)).where(*conditions).correlate_except(v).scalar_subquery()


def _exists(alias, *conditions):
    return select(literal(1)).select_from(alias).where(*conditions).correlate_except(alias).exists()


def _reporter(c):
    return case((c.channel == PUBLIC, c.reporter_staff_id), else_=None)


def event_facts(cases=None):
    """The facts of the events of ``cases`` (ids, a SELECT of ids, or None: every case), one
    row per event of ``EVENT_VERBS``, columns in the order of ``kpi_event_facts``."""
    e, c, v, k = aliased(CaseEvent), aliased(Case), aliased(CaseEvent), aliased(StageClock)

    def after_dispatch(verb, *extra):
        d2 = aliased(CaseEvent)
        return _first(v, v.case_id == e.case_id, v.verb == verb, v.id > e.id, *extra,
                      ~_exists(d2, d2.case_id == e.case_id, d2.verb.in_(DISPATCH_VERBS), d2.id > e.id, d2.id < v.id))

    is_dispatch = e.verb.in_(DISPATCH_VERBS)
    columns = {
        "event_id": e.id, "case_id": e.case_id, "verb": e.verb, "at": e.at, "department_id": e.department_id,
        "grid_code": c.grid_code, "category_code": c.category_code, "worker_id": _reporter(c),
        "from_public": c.channel != PUBLIC,
        "valid_at": case((e.verb == "submit", _first(v, v.case_id == e.case_id,
                                                     or_(v.to_state == "accepted", v.verb == "self_handle")))),
        "on_time": case((e.verb == "open", _exists(k, k.case_id == e.case_id, k.stage == "open", k.ended_at == e.at,
                                                   func.coalesce(k.ended_late, false()) == false()))),
        "voided_at": case((e.verb == "open", _first(v, v.case_id == e.case_id, v.verb == "decide_void",
                                                    v.to_state == "voided", v.id > e.id))),
        "returned_at": case((is_dispatch, after_dispatch("return"))),
        "return_accepted_at": case((is_dispatch, after_dispatch("rule_return", v.to_state == "opened"))),
        "rating": case((e.verb == "rate", e.data["rating"].as_string())),
    }
    return select(*[columns[col.name].label(col.name) for col in KpiEventFact.__table__.columns]) \
        .select_from(e).join(c, c.id == e.case_id) \
        .where(e.verb.in_(EVENT_VERBS), *_case_filter(e.case_id, cases))


def clock_facts(cases=None):
    """The facts of the verify, dispatch, check and handle clocks of ``cases``, columns in the
    order of ``kpi_clock_facts``."""
    k, c, req, ev = aliased(StageClock), aliased(Case), aliased(CaseEvent), aliased(CaseEvent)
    completed = _exists(ev, ev.case_id == k.case_id, ev.at == k.ended_at, or_(*[
        and_(k.stage == stage, ev.verb.in_(verbs), ev.from_state == state)
        for stage, (verbs, state) in COMPLETES.items() if stage in CLOCK_STAGES]))
    assignee = select(req.data["assignee_id"].as_integer()).where(
        req.case_id == k.case_id, req.at == k.started_at,
        req.to_state == case((k.stage == "verify", "verifying"), else_="checking")) \
        .correlate_except(req).order_by(req.id).limit(1).scalar_subquery()
    # OFFSET 0 keeps the subquery a subquery (PostgreSQL and SQLite would otherwise copy
    # the EXISTS into each of the three columns that use it)
    x = select(k.id, k.case_id, k.stage, k.department_id, k.started_at, k.due_at, k.ended_at, k.ended_late,
               c.grid_code, c.category_code,
               case((k.stage.in_(("verify", "check")), assignee), else_=_reporter(c)).label("worker_id"),
               completed.label("completed")) \
        .select_from(k).join(c, c.id == k.case_id) \
        .where(k.stage.in_(CLOCK_STAGES), *_case_filter(k.case_id, cases)).offset(0).subquery("k")
    ev, k2 = aliased(CaseEvent), aliased(StageClock)
    handle = x.c.stage == "handle"
    done = x.c.completed.is_(True)
    columns = {
        "clock_id": x.c.id, "case_id": x.c.case_id, "stage": x.c.stage, "department_id": x.c.department_id,
        "grid_code": x.c.grid_code, "category_code": x.c.category_code, "worker_id": x.c.worker_id,
        "due_at": x.c.due_at,
        "done_at": case((done, x.c.ended_at)),
        "ontime_at": case((and_(done, func.coalesce(x.c.ended_late, false()) == false()), x.c.ended_at)),
        "withdrawn_at": case((and_(x.c.ended_at.is_not(None), not_(done)), x.c.ended_at)),
        "extended_at": case((handle, _first(ev, ev.case_id == x.c.case_id, ev.at >= x.c.started_at,
                                            ev.verb == "decide_extension",
                                            ev.data["outcome"].as_string() == "approve",
                                            or_(x.c.ended_at.is_(None), ev.at <= x.c.ended_at)))),
        "closed_at": case((handle, _first(ev, ev.case_id == x.c.case_id, ev.at >= x.c.started_at,
                                          ev.verb == "close"))),
        "rework_at": case((handle, _first(ev, ev.case_id == x.c.case_id, ev.at > x.c.started_at,
                                          ev.verb == "check", ev.to_state == "handling"))),
        "case_late_at": case((handle, select(func.min(k2.ended_at)).where(
            k2.case_id == x.c.case_id, k2.stage == "handle", k2.ended_late.is_(True))
            .correlate_except(k2).scalar_subquery())),
    }
    return select(*[columns[col.name].label(col.name) for col in KpiClockFact.__table__.columns])


# --- folding dirty cases into the stored facts ---------------------------------------------

def _store(session, case_ids: Sequence[int]) -> None:
    for table, live in ((KpiEventFact.__table__, event_facts), (KpiClockFact.__table__, clock_facts)):
        session.execute(delete(table).where(table.c.case_id.in_(case_ids)))
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
    exact meanwhile, read from the event log for the cases not folded yet), then fold batch
    after batch, each committed, calling ``progress(done, total)``. Safe to interrupt and
    run again. Answers the number of cases."""
    session.execute(insert(KpiDirty).from_select(["case_id"], select(Case.id)))
    session.commit()
    total = session.scalar(select(func.count()).select_from(KpiDirty)) or 0
    done = 0
    while n := fold(session, batch):
        session.commit()
        done = min(total, done + n)
        if progress:
            progress(done, total)
    session.commit()
    return total


def dirty_count(session) -> int:
    return session.scalar(select(func.count()).select_from(KpiDirty)) or 0


# --- the grouped queries of a period -----------------------------------------------------------

def _facts(table, live, dirty):
    """The stored facts of the cases not in ``dirty`` and the live facts of those in it."""
    if isinstance(dirty, list) and not dirty:
        return table
    stored = select(*table.columns).where(table.c.case_id.not_in(dirty))
    return union_all(stored, live(dirty)).subquery(table.name)


def _count(cond):
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _count_cases(cond, case_id):
    return func.count(distinct(case((cond, case_id), else_=None)))


class _Period:
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

    def event_query(self, verbs: tuple[str, ...], measures: dict, **kwargs):
        f = self.events
        return self.grouped(f, [f.c.verb.in_(verbs), f.c.at >= self.start, f.c.at < self.end], measures, **kwargs)

    def reports(self):
        return self.event_query(("submit",), {"reports": func.count(),
                                              "valid_reports": _count(self.before_end(self.events.c.valid_at))})

    def opened(self):
        f = self.events
        return self.event_query(("open",), {"opened": func.count(), "opened_on_time": _count(f.c.on_time.is_(True)),
                                            "voided": _count(self.before_end(f.c.voided_at))})

    def misses(self):
        f = self.events
        measures = {"miss_opened": func.count(), "missed": _count(f.c.from_public.is_(True))}
        if self.by != "worker":
            return self.event_query(("open",), measures)
        ga = aliased(GridAssignment)
        source = f.join(ga, and_(ga.grid_code == f.c.grid_code, ga.valid_from <= f.c.at,
                                 or_(ga.valid_to.is_(None), ga.valid_to > f.c.at)))
        return self.event_query(("open",), measures, key=ga.staff_id, source=source)

    def dispatches(self):
        f = self.events
        return self.event_query(DISPATCH_VERBS, {"dispatched": func.count(),
                                                 "returned": _count(self.before_end(f.c.returned_at)),
                                                 "return_accepted": _count(self.before_end(f.c.return_accepted_at))})

    def ratings(self):
        f = self.events
        return self.event_query(("rate",), {"rated": func.count(), **{
            name: _count(f.c.rating == name) for name in ("satisfied", "basically_satisfied", "unsatisfied")}})

    def due(self, stage: str):
        """Clocks of ``stage`` due in the period: settled on time in it, or fell due in it
        without being done on time or withdrawn before its end (one index range each)."""
        f, start, end, now = self.clocks, self.start, self.end, self.now
        return or_(and_(f.c.stage == stage, f.c.ontime_at >= start, f.c.ontime_at < end, f.c.ontime_at <= now),
                   and_(f.c.stage == stage, f.c.due_at >= start, f.c.due_at < end, f.c.due_at <= now,
                        or_(f.c.ontime_at.is_(None), f.c.ontime_at >= end),
                        or_(f.c.withdrawn_at.is_(None), f.c.withdrawn_at >= end)))

    def clock(self, stage: str):
        f = self.clocks
        return self.grouped(f, [self.due(stage)], {
            f"{stage}_due": func.count(), f"{stage}_done": _count(self.before_end(f.c.done_at)),
            f"{stage}_on_time": _count(self.before_end(f.c.ontime_at))})

    def handling(self):
        f = self.clocks
        closed = self.before_end(f.c.closed_at)
        not_late = or_(f.c.case_late_at.is_(None), f.c.case_late_at >= self.end)
        return self.grouped(f, [self.due("handle")], {
            "due_handling": func.count(), "handled": _count(self.before_end(f.c.done_at)),
            "handled_on_time": _count(self.before_end(f.c.ontime_at)),
            "extended": _count(self.before_end(f.c.extended_at)),
            "due_closing": func.count(distinct(f.c.case_id)),
            "closed": _count_cases(closed, f.c.case_id),
            "closed_on_time": _count_cases(and_(closed, not_late), f.c.case_id),
            "reworked": _count_cases(self.before_end(f.c.rework_at), f.c.case_id)})


def dirty_cases(session):
    """The dirty cases as a list of ids, or as a SELECT when there are many."""
    ids = session.scalars(select(KpiDirty.case_id).distinct().limit(OVERLAY_IDS + 1)).all()
    return select(KpiDirty.case_id) if len(ids) > OVERLAY_IDS else list(ids)


def queries(session, by: str, start: datetime, end: datetime, now: datetime, department_id: int | None) -> dict:
    """name -> grouped query, like ``scratch.queries``, over the facts."""
    dirty = dirty_cases(session)
    p = _Period(by, start, end, now, department_id, _facts(KpiEventFact.__table__, event_facts, dirty),
                _facts(KpiClockFact.__table__, clock_facts, dirty))
    return {"reports": p.reports(), "opened": p.opened(), "misses": p.misses(), "verify": p.clock("verify"),
            "dispatch": p.clock("dispatch"), "dispatches": p.dispatches(), "check": p.clock("check"),
            "handling": p.handling(), "ratings": p.ratings()}
