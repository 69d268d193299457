"""The roll-up answers what the from-scratch computation answers: random case lives (seeded)
written straight into cases, case_events and stage_clocks, compared for many periods (local
Shanghai days, boundaries inside the lives), moments of computation, groupings and a
department's view, while every case is dirty, after folding, and with some cases changed
after the fold (the overlay of stored and live facts). PostgreSQL and SQLite.

The from-scratch answers read only the cases, their events and clocks: they are computed once
for the lives as written (compared while all dirty, then after folding) and once for the lives
as changed after the fold, each time after checking that those tables are row for row what
they were (folding and rebuilding write facts, never the lives)."""
from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from shapely.geometry import box
from sqlalchemy import func, insert, select, update

from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks.models import StageClock
from dispatch.indicators import kpi, rollup
from dispatch.indicators.definitions import GROUPS
from dispatch.indicators.models import KpiClockFact, KpiDirty, KpiEventFact
from grid.catalog.service import load_catalog
from tests.conftest import make_settings
from tests.factories import AssignmentFactory, DepartmentFactory, GridFactory, StaffFactory
from wangge import create_app
from wangge.cli import upgrade_database
from wangge.extensions import db

FIRST_DAY = date(2026, 3, 9)  # local days FIRST_DAY .. FIRST_DAY + 5 hold the lives
DAYS = 6
GRIDS = ("31010100100101", "31010100100102", None)
CATEGORIES = ("E0102", "C0101")
CHANNELS = ("grid_worker", "grid_worker", "citizen", "web", "hotline")
MINUTE = timedelta(minutes=1)


class Life:
    """One case's life: events and clocks at increasing times (some at the same instant)."""

    def __init__(self, rng: random.Random, reg: dict, t: datetime):
        self.rng, self.reg, self.t = rng, reg, t
        self.events: list[dict] = []
        self.clocks: list[dict] = []
        self.state = None
        self.department = None
        self.clock = None

    def later(self, most=600):
        step = self.rng.choice((0, 1, 5, 30, 90, most, 20 * 60))
        self.t += self.rng.randint(0, step) * MINUTE

    def ev(self, verb, to_state, *, same_instant=False, **data):
        if not same_instant:
            self.later()
        self.events.append({"verb": verb, "from_state": self.state, "to_state": to_state, "at": self.t,
                            "department_id": self.department, "data": data})
        self.state = to_state

    def start(self, stage):
        due = self.t + self.rng.choice((20, 60, 240, 1440, 3 * 1440)) * MINUTE
        self.clock = {"stage": stage, "department_id": self.department, "started_at": self.t, "due_at": due,
                      "ended_at": None, "ended_late": None, "amount": 1.0, "unit": "hours", "consumed": 0.0,
                      "segment_started_at": self.t, "extended": 0.0}
        self.clocks.append(self.clock)

    def end(self):
        if self.clock is not None:
            k = self.clock
            k["ended_at"] = self.t
            k["ended_late"] = k["due_at"] is not None and self.t > k["due_at"]
            if k["due_at"] is None:  # ended while paused
                k["ended_late"] = self.rng.random() < 0.3
        self.clock = None

    def maybe(self, p):
        return self.rng.random() < p

    def live(self):
        rng, reg = self.rng, self.reg
        self.ev("submit", "reported")
        if self.maybe(0.1):
            return self.ev("reject", "rejected")
        if self.maybe(0.07):
            return self.ev("self_handle", "closed")
        if self.maybe(0.25):
            self.ev("request_verify", "verifying", assignee_id=rng.choice(reg["workers"]))
            self.start("verify")
            if self.maybe(0.1):
                return None  # still verifying
            if self.maybe(0.15):
                self.ev("decide_void", "voided")
                return self.end()
            self.ev("verify", "accepted", outcome="confirmed")
            self.end()
        else:
            self.ev("accept", "accepted")
        self.start("open")
        if self.maybe(0.08):
            return None
        if self.maybe(0.08):
            self.ev("decide_void", "voided")
            return self.end()
        self.ev("open", "opened")
        self.end()
        self.start("dispatch")
        while True:
            if self.maybe(0.05):
                return None  # waiting for dispatch
            if not self.dispatch_and_handle():
                return None
            if self.state == "voided" or self.maybe(0.05):
                return None
            self.ev("close", "closed")
            if self.maybe(0.7):
                self.ev("rate", "closed", rating=rng.choice(("satisfied", "basically_satisfied", "unsatisfied")))
            if self.maybe(0.15):
                self.ev("supervise", "closed")
            if not self.maybe(0.15):
                return None
            self.ev("reopen", "opened")
            self.start("dispatch")

    def dispatch_and_handle(self) -> bool:
        """From opened (dispatch clock running) to a passed check; False: the life stops."""
        rng = self.rng
        self.department = rng.choice(self.reg["departments"])
        self.ev("dispatch", "dispatched", same_instant=self.maybe(0.3), department_id=self.department)
        self.end()
        self.start("handle")
        while True:
            if self.maybe(0.12):
                self.ev("return", "dispatched", note="not ours")
                if self.maybe(0.2):
                    return False
                if self.maybe(0.6):
                    self.ev("rule_return", "opened", outcome="accept")
                    self.end()
                    self.department = None
                    self.start("dispatch")
                    self.department = rng.choice(self.reg["departments"])
                    self.ev("dispatch", "dispatched", department_id=self.department)
                    self.end()
                    self.start("handle")
                else:
                    self.ev("rule_return", "dispatched", outcome="refuse")
            if self.maybe(0.08):
                self.department = rng.choice(self.reg["departments"])
                self.ev("redispatch", "dispatched", department_id=self.department)
                self.end()
                self.start("handle")
            if self.maybe(0.1):
                return False  # not signed yet
            self.ev("sign", "handling")
            if self.maybe(0.25):
                self.ev("request_extension", "handling")
                outcome = rng.choice(("approve", "approve", "reject"))
                self.ev("decide_extension", "handling", outcome=outcome)
                if outcome == "approve" and self.clock["due_at"] is not None:
                    self.clock["due_at"] += rng.choice((60, 1440)) * MINUTE
                    self.clock["extended"] += 1
            if self.maybe(0.15):
                self.ev("suspend", "suspended")
                self.clock.update(due_at=None, segment_started_at=None)
                if self.maybe(0.3):
                    return False  # paused for good: due nowhere
                self.ev("resume", "handling")
                self.clock.update(due_at=self.t + rng.choice((30, 600, 2880)) * MINUTE, segment_started_at=self.t)
            if self.maybe(0.1):
                return False
            if self.maybe(0.04):
                self.ev("decide_void", "voided")
                self.end()
                return True
            if self.maybe(0.05):
                self.ev("refer_enforcement", "enforcement")
                self.end()
                return False
            self.ev("report_back", "reported_back")
            self.end()
            self.ev("request_check", "checking", same_instant=self.maybe(0.5), assignee_id=rng.choice(self.reg["workers"]))
            self.start("check")
            if self.maybe(0.08):
                return False
            if self.maybe(0.25):
                self.ev("check", "handling", outcome="fail")
                self.end()
                self.start("handle")
                continue
            self.ev("check", "closing", outcome="pass")
            self.end()
            return True


def registry(session) -> dict:
    since = datetime(2020, 1, 1, tzinfo=UTC)
    GridFactory(code="310101001", name="街道", level="street", geom=box(121.40, 31.20, 121.42, 31.21),
                area_m2=1, valid_from=since)
    departments = [DepartmentFactory().id for _ in range(3)]
    workers = [StaffFactory(roles=["grid_worker"]) for _ in range(4)]
    for i, staff in enumerate(workers):
        # worker 3 leaves grid 1 in the middle of the lives: the miss rate follows the moment
        valid_to = datetime(2026, 3, 11, 4, tzinfo=UTC) if i == 3 else None
        AssignmentFactory(staff=staff, grid_code=GRIDS[i % 2], valid_from=since, valid_to=valid_to)
    session.flush()
    return {"departments": departments, "workers": [w.id for w in workers]}


def write_lives(session, reg: dict, seed: int, n: int) -> list[int]:
    rng = random.Random(seed)
    start, _ = kpi.local_period(FIRST_DAY, FIRST_DAY, "Asia/Shanghai")
    ids = []
    for i in range(n):
        t = start + rng.randint(0, DAYS * 24 * 60 - 1) * MINUTE
        life = Life(rng, reg, t)
        life.live()
        channel = rng.choice(CHANNELS)
        case_id = session.execute(insert(Case).returning(Case.id), [{
            "number": f"K{seed}{i:05d}", "tracking_code": f"T{seed}{i:05d}", "channel": channel,
            "description": "x", "state": life.state, "reported_at": t, "updated_at": life.t, "version": 1,
            "grid_code": rng.choice(GRIDS), "category_code": rng.choice(CATEGORIES),
            "reporter_staff_id": rng.choice(reg["workers"]) if channel == "grid_worker" else None}]).scalar_one()
        ids.append(case_id)
        session.execute(insert(CaseEvent), [{**e, "case_id": case_id, "actor_role": "system", "attachment_ids": []}
                                            for e in life.events])
        if life.clocks:
            session.execute(insert(StageClock), [{**k, "case_id": case_id} for k in life.clocks])
    session.flush()
    return ids


def periods():
    """(start, end) pairs: single days, a boundary-straddling three days, the whole span."""
    out = [kpi.local_period(FIRST_DAY + timedelta(days=d), FIRST_DAY + timedelta(days=d), "Asia/Shanghai")
           for d in (0, 2, 7)]
    out.append(kpi.local_period(FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=3), "Asia/Shanghai"))
    out.append(kpi.local_period(FIRST_DAY - timedelta(days=1), FIRST_DAY + timedelta(days=30), "Asia/Shanghai"))
    return out


def combos(reg: dict) -> list[tuple]:
    nows = (datetime(2026, 3, 11, 7, 30, tzinfo=UTC), datetime(2026, 4, 30, tzinfo=UTC))
    out = [(period, now, by, None) for period in periods() for now in nows for by in GROUPS]
    out += [(periods()[-1], nows[1], by, reg["departments"][0]) for by in GROUPS]  # a department's view
    return out


def scratch_answers(session, reg: dict) -> list[list[dict]]:
    """The from-scratch rows of every combination (``combos``)."""
    return [kpi.compute(session, start, end, by, source="scratch", now=now, department_id=department_id)
            for (start, end), now, by, department_id in combos(reg)]


def lives_as_stored(session) -> tuple:
    """Every row of the tables the from-scratch computation reads."""
    return tuple(session.execute(select(table).order_by(*table.primary_key.columns)).all()
                 for table in (Case.__table__, CaseEvent.__table__, StageClock.__table__))


def assert_same(session, reg: dict, label: str, expected_rows: list[list[dict]]) -> int:
    """The roll-up answers ``expected_rows`` (``scratch_answers`` of these very lives) for
    every combination; returns how many counts were compared."""
    compared = 0
    for ((start, end), now, by, department_id), expected in zip(combos(reg), expected_rows, strict=True):
        got = kpi.compute(session, start, end, by, source="rollup", now=now, department_id=department_id)
        assert got == expected, (label, start, end, now, by, department_id, _diff(got, expected))
        compared += sum(row["due_handling"] + row["reports"] + row["dispatched"] for row in expected)
    return compared


def _diff(got, expected):
    g, e = {r["key"]: r for r in got}, {r["key"]: r for r in expected}
    return {key: {c: (g.get(key, {}).get(c), e.get(key, {}).get(c)) for c in kpi.COUNTS
                  if g.get(key, {}).get(c) != e.get(key, {}).get(c)} for key in set(g) | set(e)}


def change_after_fold(session, reg: dict, case_ids: list[int], seed: int) -> None:
    """Later facts on folded cases: new events (a close, a rating, a void), a deadline moved by
    SQL, a case moved to another grid and category."""
    rng = random.Random(seed)
    for case_id in rng.sample(case_ids, 12):
        last = session.scalar(select(func.max(CaseEvent.at)).where(CaseEvent.case_id == case_id))
        verb, to_state, data = rng.choice((("close", "closed", {}), ("rate", "closed", {"rating": "satisfied"}),
                                           ("decide_void", "voided", {}), ("return", "dispatched", {})))
        session.execute(insert(CaseEvent), [{"case_id": case_id, "verb": verb, "from_state": "x", "to_state": to_state,
                                             "at": last + timedelta(hours=rng.randint(0, 30)), "actor_role": "system",
                                             "data": data, "attachment_ids": []}])
    for clock_id in rng.sample(session.scalars(select(StageClock.id).where(StageClock.case_id.in_(case_ids))).all(), 8):
        session.execute(update(StageClock).where(StageClock.id == clock_id)
                        .values(due_at=datetime(2026, 3, 12, 3, tzinfo=UTC)))
    session.execute(update(Case).where(Case.id.in_(rng.sample(case_ids, 6))).values(grid_code=GRIDS[1], category_code="E0102"))
    session.flush()


def facts(session) -> tuple[list, list]:
    return tuple(session.execute(select(table).order_by(table.c[pk])).all()
                 for table, pk in ((KpiEventFact.__table__, "event_id"), (KpiClockFact.__table__, "clock_id")))


def run_scenario(session, lives: dict[int, int]) -> None:
    """``lives``: how many lives to write from each seed (one registry for all of them)."""
    n = sum(lives.values())
    reg = registry(session)
    case_ids = {seed: write_lives(session, reg, seed, count) for seed, count in lives.items()}
    dirty = set(session.scalars(select(KpiDirty.case_id)))
    assert {i for ids in case_ids.values() for i in ids} <= dirty, "the triggers mark every case written"
    written, expected = lives_as_stored(session), scratch_answers(session, reg)
    assert assert_same(session, reg, "all dirty", expected) > n  # the lives reach the periods compared

    while rollup.fold(session, batch=97):
        pass
    assert rollup.dirty_count(session) == 0
    assert session.scalar(select(func.count()).select_from(KpiEventFact)) >= n
    assert session.scalar(select(func.count()).select_from(KpiClockFact)) > n
    assert lives_as_stored(session) == written  # so the scratch answers still hold
    assert assert_same(session, reg, "folded", expected) > n

    # the rebuild (ranges of case ids) stores exactly what folding the dirty rows stored
    folded = facts(session)
    session.execute(insert(KpiEventFact), [{"event_id": 10**9, "case_id": 10**9, "verb": "submit",
                                             "at": datetime(2026, 3, 10, tzinfo=UTC)}])  # of no case
    ranges, total = [], session.scalar(select(func.count()).select_from(Case))
    assert rollup.rebuild(session, batch=37, progress=lambda done, total: ranges.append((done, total))) == total
    assert ranges[-1] == (total, total) and len(ranges) >= total // 37
    assert rollup.dirty_count(session) == 0
    assert facts(session) == folded

    for seed, ids in case_ids.items():
        change_after_fold(session, reg, ids, seed + 1)
    assert 0 < rollup.dirty_count(session)
    changed, expected = lives_as_stored(session), scratch_answers(session, reg)
    assert assert_same(session, reg, "stored and live", expected) > n
    while rollup.fold(session, batch=1000):
        pass
    assert lives_as_stored(session) == changed
    assert assert_same(session, reg, "folded again", expected) > n


def test_rollup_matches_scratch_postgresql(db_session):
    """The lives of seeds 11 and 29 (160 each) in one database: each comparison covers both."""
    run_scenario(db_session, {11: 160, 29: 160})


def test_rollup_matches_scratch_sqlite(tmp_path):
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'kpi.sqlite3'}", redis_url="", jobs_inline=True))
    with app.app_context():
        upgrade_database()
        load_catalog(db.session)
        run_scenario(db.session, {7: 120})
        db.session.remove()
