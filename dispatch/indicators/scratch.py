"""The from-scratch computation of the indicators: grouped queries over the event log and the
stage clocks themselves, nothing precomputed. It is the definition the roll-up
(``dispatch.indicators.rollup``) is tested against (tests/dispatch/test_indicators_rollup.py),
and ``kpi.compute(..., source="scratch")`` answers from it; it reads every clock of a stage,
so it is slow on a large city (docs/indicators.md)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, distinct, false, func, literal, or_, select
from sqlalchemy.orm import aliased, join

from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks.models import StageClock
from dispatch.indicators.definitions import COMPLETES, DISPATCH_VERBS, PUBLIC
from grid.models import GridAssignment


def _count(cond):
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _count_cases(cond, case_id):
    return func.count(distinct(case((cond, case_id), else_=None)))


def _reporter(c):
    """The grid worker a case is attributed to: its reporter when a grid worker reported it."""
    return case((c.channel == PUBLIC, c.reporter_staff_id), else_=None)


def _keys(by: str, c, department, worker):
    return {"department": department, "grid": c.grid_code, "category": c.category_code, "worker": worker}[by]


class _Query:
    """Builds the grouped queries of one computation."""

    def __init__(self, by: str, start: datetime, end: datetime, now: datetime, department_id: int | None):
        self.by, self.start, self.end, self.now, self.department_id = by, start, end, now, department_id

    def _grouped(self, key, department, source, where, measures: dict):
        query = select(key.label("key"), *[expr.label(name) for name, expr in measures.items()]) \
            .select_from(source).where(*where)
        if self.department_id is not None:
            query = query.where(department == self.department_id)
        return query.group_by(key)

    def _in_period(self, column):
        return [column >= self.start, column < self.end]

    def _later(self, e, verb: str | tuple[str, ...], *extra):
        """An event of ``verb`` on the same case as ``e``, after it and before the period end."""
        v = aliased(CaseEvent)
        verbs = (verb,) if isinstance(verb, str) else verb
        return _exists(v, v.case_id == e.case_id, v.verb.in_(verbs), v.id > e.id, v.at < self.end,
                              *[f(v) for f in extra])

    # reports: submit events
    def reports(self):
        e, c, v = aliased(CaseEvent), aliased(Case), aliased(CaseEvent)
        valid = _exists(v, v.case_id == e.case_id, v.at < self.end,
                               or_(v.to_state == "accepted", v.verb == "self_handle"))
        return self._grouped(_keys(self.by, c, e.department_id, _reporter(c)), e.department_id,
                             _join(e, c),
                             [e.verb == "submit", *self._in_period(e.at)],
                             {"reports": func.count(), "valid_reports": _count(valid)})

    # opening: open events, the open clock each one ended, later voids
    def opened(self):
        e, c, k = aliased(CaseEvent), aliased(Case), aliased(StageClock)
        on_time = _exists(k, k.case_id == e.case_id, k.stage == "open", k.ended_at == e.at,
                                 func.coalesce(k.ended_late, false()) == false())
        voided = self._later(e, "decide_void", lambda v: v.to_state == "voided")
        return self._grouped(_keys(self.by, c, e.department_id, _reporter(c)), e.department_id, _join(e, c),
                             [e.verb == "open", *self._in_period(e.at)],
                             {"opened": func.count(), "opened_on_time": _count(on_time), "voided": _count(voided)})

    # miss rate: open events, attributed to the grid workers assigned to the grid at that moment
    def misses(self):
        e, c, ga = aliased(CaseEvent), aliased(Case), aliased(GridAssignment)
        source = _join(e, c)
        if self.by == "worker":
            source = source.join(ga, and_(ga.grid_code == c.grid_code, ga.valid_from <= e.at,
                                          or_(ga.valid_to.is_(None), ga.valid_to > e.at)))
        return self._grouped(_keys(self.by, c, e.department_id, ga.staff_id), e.department_id, source,
                             [e.verb == "open", *self._in_period(e.at)],
                             {"miss_opened": func.count(), "missed": _count(c.channel != PUBLIC)})

    # dispatches and what became of them before the next dispatch of the same case
    def dispatches(self):
        e, c = aliased(CaseEvent), aliased(Case)

        def before_next_dispatch(r):
            d2 = aliased(CaseEvent)
            return ~_exists(d2, d2.case_id == e.case_id, d2.verb.in_(DISPATCH_VERBS), d2.id > e.id, d2.id < r.id)

        returned = self._later(e, "return", before_next_dispatch)
        accepted = self._later(e, "rule_return", lambda r: r.to_state == "opened", before_next_dispatch)
        return self._grouped(_keys(self.by, c, e.department_id, _reporter(c)), e.department_id, _join(e, c),
                             [e.verb.in_(DISPATCH_VERBS), *self._in_period(e.at)],
                             {"dispatched": func.count(), "returned": _count(returned),
                              "return_accepted": _count(accepted)})

    def ratings(self):
        e, c = aliased(CaseEvent), aliased(Case)
        rating = e.data["rating"].as_string()
        return self._grouped(_keys(self.by, c, e.department_id, _reporter(c)), e.department_id, _join(e, c),
                             [e.verb == "rate", *self._in_period(e.at)],
                             {"rated": func.count(), "satisfied": _count(rating == "satisfied"),
                              "basically_satisfied": _count(rating == "basically_satisfied"),
                              "unsatisfied": _count(rating == "unsatisfied")})

    # stage clocks
    def _clock(self, k, stage: str):
        """(completed, on_time, in_cohort) for clock ``k`` of a stage in COMPLETES."""
        verbs, from_state = COMPLETES[stage]
        ev = aliased(CaseEvent)
        ended_before = and_(k.ended_at.is_not(None), k.ended_at < self.end)
        completed = and_(ended_before, _exists(ev, ev.case_id == k.case_id, ev.at == k.ended_at,
                                                      ev.verb.in_(verbs), ev.from_state == from_state))
        on_time = and_(completed, func.coalesce(k.ended_late, false()) == false())
        withdrawn = and_(ended_before, ~completed)
        settled_at = case((on_time, k.ended_at), else_=k.due_at)
        cohort = and_(~withdrawn, settled_at >= self.start, settled_at < self.end, settled_at <= self.now)
        return completed, on_time, cohort

    def clocks(self, stage: str):
        """verify, dispatch, check: due (settled in the period), done, done on time."""
        k, c = aliased(StageClock), aliased(Case)
        completed, on_time, cohort = self._clock(k, stage)
        source = join(k, c, c.id == k.case_id)
        worker = _reporter(c)
        if stage in ("verify", "check"):
            req = aliased(CaseEvent)
            state = "verifying" if stage == "verify" else "checking"
            source = source.outerjoin(req, and_(req.case_id == k.case_id, req.at == k.started_at,
                                                req.to_state == state))
            worker = req.data["assignee_id"].as_integer()
        return self._grouped(_keys(self.by, c, k.department_id, worker), k.department_id, source,
                             [k.stage == stage, cohort],
                             {f"{stage}_due": func.count(), f"{stage}_done": _count(completed),
                              f"{stage}_on_time": _count(on_time)})

    def handling(self):
        """handle clocks: handling, extension, and the closing of their cases."""
        k, c = aliased(StageClock), aliased(Case)
        completed, on_time, cohort = self._clock(k, "handle")
        ev, k2 = aliased(CaseEvent), aliased(StageClock)
        during = and_(ev.case_id == k.case_id, ev.at >= k.started_at, ev.at < self.end)
        extended = _exists(ev, during, ev.verb == "decide_extension",
                                  ev.data["outcome"].as_string() == "approve",
                                  or_(k.ended_at.is_(None), ev.at <= k.ended_at))
        closed = _exists(ev, during, ev.verb == "close")
        ev2 = aliased(CaseEvent)
        reworked = _exists(ev2, ev2.case_id == k.case_id, ev2.at > k.started_at, ev2.at < self.end,
                                  ev2.verb == "check", ev2.to_state == "handling")
        late = _exists(k2, k2.case_id == k.case_id, k2.stage == "handle", k2.ended_late.is_(True),
                              k2.ended_at < self.end)
        source = join(k, c, c.id == k.case_id)
        return self._grouped(_keys(self.by, c, k.department_id, _reporter(c)), k.department_id, source,
                             [k.stage == "handle", cohort],
                             {"due_handling": func.count(), "handled": _count(completed),
                              "handled_on_time": _count(on_time), "extended": _count(extended),
                              "due_closing": func.count(distinct(k.case_id)),
                              "closed": _count_cases(closed, k.case_id),
                              "closed_on_time": _count_cases(and_(closed, ~late), k.case_id),
                              "reworked": _count_cases(reworked, k.case_id)})


def _exists(alias, *conditions):
    """EXISTS over ``alias``, correlated with every enclosing query (not only the nearest)."""
    return select(literal(1)).select_from(alias).where(*conditions).correlate_except(alias).exists()


def _join(e, c):
    return join(e, c, c.id == e.case_id)




def queries(by: str, start: datetime, end: datetime, now: datetime, department_id: int | None) -> dict:
    """name -> grouped query (``key`` and some counts of ``COUNTS``)."""
    q = _Query(by, start, end, now, department_id)
    return {"reports": q.reports(), "opened": q.opened(), "misses": q.misses(),
            "verify": q.clocks("verify"), "dispatch": q.clocks("dispatch"), "dispatches": q.dispatches(),
            "check": q.clocks("check"), "handling": q.handling(), "ratings": q.ratings()}
