"""The owner's copy of its running stage clock (``clock_due_at``, ``clock_warn_at``,
``clock_paused_light`` on cases and enforcement cases, kept by the trigger of migration 0012)
and the inbox's light read from it:

* the copy's light (in Python and in SQL) is ``dispatch.clocks.deadlines.light`` for clocks in
  every situation (running, warned, overdue, paused at each fraction, extended running and
  paused, resumed, restarted, ended, none), on PostGIS and on the embedded SQLite file, at
  the instants where the light turns;
* the copy equals the running clock after every verb of a whole case life through HTTP
  (dispatch, sign, extension paused and approved, suspend / restore, return refused and
  accepted, check failed and restarted, close) and every stage of an enforcement referral;
* two transactions changing one owner's clocks at once leave the right copy (PostgreSQL);
* the partial indexes' state lists are the lifecycle's, and pages across kinds, equal due
  times and undated items come back in order without gaps."""
from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from dispatch.cases.models import Case
from dispatch.clocks import deadlines
from dispatch.clocks.models import StageClock
from dispatch.enforcement.models import EnforcementCase
from mobile_api.inbox import models as idx
from mobile_api.inbox import service
from tests.conftest import make_settings
from tests.dispatch.conftest import do
from tests.factories import CaseFactory, DepartmentFactory, EnforcementCaseFactory, StaffFactory
from tests.mobile.fixtures_inbox import dispatched, inbox

T0 = datetime(2026, 10, 14, 1, 30, tzinfo=UTC)  # Wednesday 09:30 in Beijing
US = timedelta(microseconds=1)


# --- the copy and its light ------------------------------------------------------------

def copy_of(session, owner) -> tuple:
    model = type(owner)
    return tuple(session.execute(select(model.clock_due_at, model.clock_warn_at, model.clock_paused_light)
                                 .where(model.id == owner.id)).one())


def running_clock(session, model, owner_id) -> StageClock | None:
    key = StageClock.case_id if model is Case else StageClock.enforcement_id
    return session.scalar(select(StageClock).where(key == owner_id, StageClock.ended_at.is_(None))
                          .order_by(StageClock.id.desc()).limit(1).execution_options(populate_existing=True))


def expected_copy(clock: StageClock | None, now=None) -> tuple:
    if clock is None:
        return None, None, None
    paused = deadlines.light(clock, now) if clock.segment_started_at is None else None
    return clock.due_at, clock.warn_at, paused


def instants(clock: StageClock | None) -> list[datetime]:
    """Where a light may turn: around the warning and the deadline, and far before and after."""
    out = [T0 - timedelta(days=1), T0 + timedelta(days=3000)]
    if clock is not None and clock.due_at is not None:
        for at in (clock.warn_at, clock.due_at):
            out += [at - US, at, at + US]
    return out


def assert_same_light(session, owner):
    """The copy is the running clock's, and its light is deadlines.light's at every instant."""
    model = type(owner)
    clock = running_clock(session, model, owner.id)
    due, warn, paused = copy_of(session, owner)
    assert (due, warn, paused) == expected_copy(clock), (owner.id, clock and clock.id)
    for now in instants(clock):
        want = deadlines.light(clock, now) if clock is not None else None
        assert service.owner_light(due, warn, paused, now) == want, (now, clock and clock.id)
        got = session.scalar(select(service.light_sql(model, now)).where(model.id == owner.id))
        assert (None if got == "none" else got) == want, (now, clock and clock.id)


def situations(session, owner_for, stage: str) -> dict:
    """Owners whose clock is in each situation, made with dispatch.clocks.deadlines itself."""
    made = {}

    def started(label, at=T0):
        owner = owner_for()
        session.flush()
        clock = deadlines.start_clock(session, owner, stage, at=at)
        session.flush()
        made[label] = owner
        return owner, clock

    def paused(label, fraction=None, *, then=None):
        owner, clock = started(label)
        deadlines.pause(session, clock, at=T0 + timedelta(minutes=30))
        if fraction is not None:
            clock.consumed = fraction * clock.amount
        session.flush()
        if then:
            then(clock)
            session.flush()
        return owner, clock

    made["no clock"] = owner_for()
    session.flush()
    started("running")
    started("running, due long ago", at=T0 - timedelta(days=400))
    paused("paused early")
    for fraction in (0.5, 0.8, 0.9, 1.0, 1.2, 7.0):
        paused(f"paused at {fraction:.0%}", fraction)
    paused("paused, zero amount", 0.3, then=lambda c: setattr(c, "amount", 0.0))
    paused("paused red, then extended", 1.2, then=lambda c: deadlines.extend(session, c, c.amount))
    paused("paused, resumed", then=lambda c: deadlines.resume(session, c, at=T0 + timedelta(hours=2)))
    owner, clock = started("extended while running")
    deadlines.extend(session, clock, 2 * clock.amount, at=T0 + timedelta(hours=1))
    owner, clock = started("restarted")
    deadlines.end_clock(clock, at=T0 + timedelta(hours=1))
    deadlines.start_clock(session, owner, stage, at=T0 + timedelta(hours=1))
    owner, clock = started("ended")
    deadlines.end_clock(clock, at=T0 + timedelta(hours=1))
    session.flush()
    return made


def check_every_situation(session, department, team):
    def a_case():
        return CaseFactory(state="handling", department_id=department.id, category_code="E0102")

    def an_enforcement():
        return EnforcementCaseFactory(team=team)

    for owner_for, stage in ((a_case, "handle"), (an_enforcement, "enf_accept")):
        made = situations(session, owner_for, stage)
        lights = set()
        for label, owner in made.items():
            assert_same_light(session, owner)
            lights.add(service.owner_light(*copy_of(session, owner), T0 + timedelta(minutes=31)))
            assert (label == "no clock" or label == "ended") == (copy_of(session, owner) == (None,) * 3), label
        assert lights >= {"green", "yellow", "red", None}, lights


def test_the_copy_lights_like_deadlines_light_in_every_situation(db_session):
    check_every_situation(db_session, DepartmentFactory(code="ENV", name="环卫所"),
                          DepartmentFactory(code="ZF", name="执法", kind="enforcement_team"))


def test_the_same_on_sqlite(tmp_path):
    from grid.catalog.service import load_catalog
    from wangge import create_app
    from wangge.cli import upgrade_database
    from wangge.extensions import db

    # the test run's Redis all the same: an app without one re-points the process-wide rate
    # limiter (wangge.extensions.limiter) at memory, and tests/api/test_auth.py after it fails
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'w.sqlite3'}", jobs_inline=True))
    with app.app_context():
        upgrade_database()
        load_catalog(db.session)
        try:
            env = DepartmentFactory(code="ENV", name="环卫所")
            check_every_situation(db.session, env, DepartmentFactory(code="ZF", name="执法", kind="enforcement_team"))
            # the keyset pages on SQLite (NULLs sort first there: the query says NULLS LAST)
            handler = StaffFactory(roles=["department_handler"], department_id=env.id)
            whole = service.inbox(db.session, handler, limit=100, now=T0)
            assert len(whole.items) == sum(whole.counts.values()) == 16 and whole.next is None
            dated = [i["deadline"] for i in whole.items if i["deadline"]]
            assert dated == sorted(dated) and whole.items[-1]["deadline"] is None
            paged, after = [], None
            while True:
                page = service.inbox(db.session, handler, limit=2, after=after, now=T0)
                paged += [i["number"] for i in page.items]
                assert page.counts == whole.counts
                if page.next is None:
                    break
                after = service.Position.load(page.next.dump())
            assert paged == [i["number"] for i in whole.items]
            # a clock deleted (by hand): its owner's copy goes with it
            owner = CaseFactory(state="handling")
            db.session.flush()
            clock = deadlines.start_clock(db.session, owner, "handle", at=T0)
            db.session.flush()
            db.session.delete(clock)
            db.session.flush()
            assert copy_of(db.session, owner) == (None, None, None)
        finally:
            db.session.rollback()
            db.session.remove()


def test_a_clock_moved_by_hand_moves_the_copy(db_session):
    owner = CaseFactory(state="handling", category_code="E0102")
    db_session.flush()
    clock = deadlines.start_clock(db_session, owner, "handle", at=T0)
    db_session.flush()
    db_session.execute(text("UPDATE stage_clocks SET warn_at = :w, due_at = :d WHERE id = :i"),
                       {"w": T0 - timedelta(hours=2), "d": T0 - timedelta(hours=1), "i": clock.id})
    assert copy_of(db_session, owner)[:2] == (T0 - timedelta(hours=1), T0 - timedelta(hours=2))
    db_session.execute(text("DELETE FROM stage_clocks WHERE id = :i"), {"i": clock.id})
    assert copy_of(db_session, owner) == (None, None, None)
    # the sweep's marks are no deadline change: the trigger does not fire (nor write the owner)
    clock = deadlines.start_clock(db_session, owner, "handle", at=T0)
    db_session.flush()
    row = db_session.scalar(text("SELECT ctid::text FROM cases WHERE id = :i"), {"i": owner.id})
    db_session.execute(text("UPDATE stage_clocks SET warned_at = now() WHERE id = :i"), {"i": clock.id})
    assert db_session.scalar(text("SELECT ctid::text FROM cases WHERE id = :i"), {"i": owner.id}) == row


# --- the copy after every verb -----------------------------------------------------------

def assert_copy(db_session, model, number) -> tuple:
    db_session.expire_all()
    owner = db_session.scalar(select(model).where(model.number == number))
    clock = running_clock(db_session, model, owner.id)
    copy = copy_of(db_session, owner)
    assert copy == expected_copy(clock), (number, clock and (clock.stage, clock.segment_started_at))
    return copy


def test_the_copy_follows_every_verb_of_a_case_life(client, city, db_session, app, monkeypatch):
    from wangge.timeutil import utcnow

    n = dispatched(client, city)
    assert db_session.scalar(select(Case.department_id).where(Case.number == n)) == city.departments["env"].id
    seen = [assert_copy(db_session, Case, n)]

    def step(who, verb, **body):
        do(client, city, who, n, verb, **body)
        seen.append(assert_copy(db_session, Case, n))

    step("env", "sign")
    step("env", "request_extension", note="需要采购")                      # keeps running
    step("dispatcher", "decide_extension", outcome="approve")              # extended
    monkeypatch.setattr(app.config["WANGGE"], "pause_while_extension_pending", True)
    step("env", "request_extension", note="还要采购")                      # paused while waiting
    assert seen[-1][0] is None and seen[-1][2] in ("green", "yellow", "red")
    step("dispatcher", "decide_extension", outcome="approve")              # resumed and extended
    review = (utcnow() + timedelta(days=14)).date().isoformat()
    step("env", "request_suspend", note="需立项", review_date=review)
    step("dispatcher", "decide_suspend", outcome="approve")                # suspended: paused
    assert seen[-1][0] is None and seen[-1][2] is not None
    step("dispatcher", "restore")                                          # resumed
    step("env", "return", note="不属我单位")
    step("dispatcher", "rule_return", outcome="refuse")                    # back to handling
    step("env", "return", note="确实不属我单位")
    step("dispatcher", "rule_return", outcome="accept")                    # opened: dispatch clock
    step("dispatcher", "dispatch", department_code="ROAD")
    step("road", "sign")
    step("road", "report_back", note="已清理")
    assert seen[-1] == (None, None, None)
    step("clerk", "request_check")
    step("worker1", "check", outcome="fail")                               # handle clock restarted
    step("road", "report_back", note="再次清理")
    step("clerk", "request_check")
    step("worker1", "check", outcome="pass")
    step("shift", "close")
    assert seen[-1] == (None, None, None)
    assert len({s[0] for s in seen if s[0]}) >= 4  # the deadline moved along the way


def test_the_copy_follows_an_enforcement_referral(client, city, db_session):
    from tests.dispatch.test_enforcement import advance, assign, enf_number, refer_by_department

    n, c = refer_by_department(client, city)
    number = enf_number(c)
    assert assert_copy(db_session, Case, n) == (None, None, None)  # waiting for the team
    seen = [assert_copy(db_session, EnforcementCase, number)]
    assign(client, city, number, city.staff["officer"].id)
    seen.append(assert_copy(db_session, EnforcementCase, number))
    for who, stage, body in (("zfleader", "investigate", {}), ("officer", "decide", {"note": "无规划许可"}),
                             ("officer", "execute", {"note": "责令限期拆除"}),
                             ("officer", "close", {"note": "已自行拆除"}),
                             ("zfleader", "closed", {"note": "已拆除"})):
        advance(client, city, who, number, stage, **body)
        seen.append(assert_copy(db_session, EnforcementCase, number))
        assert_copy(db_session, Case, n)
    assert seen[-1] == (None, None, None) and all(s[0] for s in seen[:-1])
    do(client, city, "clerk", n, "request_check")
    assert assert_copy(db_session, Case, n)[0] is not None  # the check clock


def test_two_transactions_changing_one_owners_clocks(fresh_pg_url):
    """One transaction starts a second clock (and holds the owner); another ends the first one
    meanwhile and commits after it. Read from its own snapshot, the second would copy "no
    running clock" over the first's work; the trigger locks the owner first and then reads,
    so the copy is the clock that runs after both."""
    import time

    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(fresh_pg_url))
    with app.app_context():
        owner = CaseFactory(state="handling", category_code="E0102")
        db.session.flush()
        first = deadlines.start_clock(db.session, owner, "handle", at=T0)
        db.session.commit()
        owner_id, first_id = owner.id, first.id
        db.session.remove()
        engine = db.engine

    started, errors, pid = threading.Event(), [], []

    def second_clock():
        with engine.connect() as conn:
            conn.execute(text(
                "INSERT INTO stage_clocks (case_id, stage, started_at, amount, unit, consumed, segment_started_at,"
                " warn_at, due_at, extended) VALUES (:c, 'handle', now(), 8, 'work_hours', 0, now(),"
                " '2030-01-01T00:00Z', '2030-01-02T00:00Z', 0)"), {"c": owner_id})
            started.set()
            deadline = time.monotonic() + 60
            while not pid or conn.execute(text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :p"),
                                          {"p": pid[0]}).scalar() != "Lock":
                assert time.monotonic() < deadline, "the other transaction never waited"
                time.sleep(0.02)
            conn.commit()

    def end_first():
        with engine.connect() as conn:
            pid.append(conn.execute(text("SELECT pg_backend_pid()")).scalar())
            assert started.wait(60)
            conn.execute(text("UPDATE stage_clocks SET ended_at = now() WHERE id = :i"), {"i": first_id})
            conn.commit()

    threads = [threading.Thread(target=lambda f=f: _catch(f, errors)) for f in (second_clock, end_first)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    with app.app_context():
        s = db.session
        clock = running_clock(s, Case, owner_id)
        assert clock.id != first_id and clock.due_at == datetime(2030, 1, 2, tzinfo=UTC)
        assert copy_of(s, s.get(Case, owner_id)) == expected_copy(clock)
        s.remove()
        for e in db.engines.values():
            e.dispose()


def _catch(fn, errors):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(repr(exc))


# --- indexes and pages ------------------------------------------------------------------

def test_the_index_state_lists_are_the_lifecycles():
    assert idx.HANDLER_STATES == service.HANDLER_STATES
    assert idx.ASSIGNEE_STATES == service.ASSIGNEE_STATES
    assert idx.REPORTER_STATES == service.REPORTER_STATES
    assert idx.LEADER_STAGES == service.LEADER_STAGES
    assert idx.OFFICER_STAGES == service.OFFICER_STAGES
    # the branches of one inbox never share a row: no duplicates in a UNION ALL
    case_sets = [set(idx.HANDLER_STATES), set(idx.ASSIGNEE_STATES), set(idx.REPORTER_STATES)]
    assert sum(len(s) for s in case_sets) == len(set.union(*case_sets))
    assert not set(idx.LEADER_STAGES) & set(idx.OFFICER_STAGES)


def test_the_partial_indexes_in_the_database(db_session):
    defs = dict(db_session.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE "
                                        "'ix_%inbox_%'")).all())
    for table, branches in (("cases", idx.CASE_BRANCHES), ("enforcement_cases", idx.ENFORCEMENT_BRANCHES)):
        for key, name, states in branches.values():
            definition = defs[name]
            head, where = definition.split(" WHERE ")
            assert f"ON public.{table} USING btree ({key}, clock_due_at, id) " \
                   "INCLUDE (clock_warn_at, clock_paused_light)" in head, definition
            assert set(re.findall(r"'(\w+)'", where)) == set(states), definition


def test_pages_across_kinds_equal_due_times_and_undated_items(client, city, db_session):
    env, zf = city.departments["env"], city.departments["zf"]
    both = StaffFactory(roles=["department_handler", "enforcement_leader"], department_id=env.id)
    due = T0 + timedelta(days=3)
    made = []
    for i in range(4):
        c = CaseFactory(state=("dispatched", "handling")[i % 2], department_id=env.id, category_code="E0102")
        e = EnforcementCaseFactory(team=env, stage=("accept", "close")[i % 2])
        made += [c, e]
    db_session.flush()
    for owner in made[:6]:  # three dated pairs sharing one due time; two undated items
        clock = deadlines.start_clock(db_session, owner, "handle" if isinstance(owner, Case) else "enf_accept",
                                      at=T0)
        clock.due_at, clock.warn_at = due, due - timedelta(hours=1)
    EnforcementCaseFactory(team=zf)  # another team's: never mine
    from grid.accounts.service import issue_token
    headers = {"Authorization": f"Bearer {issue_token(db_session, both, ttl_hours=1)[0]}"}
    db_session.commit()
    expected = sorted(made, key=lambda o: (o.clock_due_at is None, o.clock_due_at or T0,
                                           "case" if isinstance(o, Case) else "enforcement", o.id))
    for limit in (1, 2, 3, 8):
        got, cursor = [], None
        while True:
            r = client.get("/api/m/v1/inbox", headers=headers,
                           query_string={"limit": limit, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.json
            got += [i["number"] for i in r.json["items"]]
            assert r.json["counts"]["none"] == 2 and r.json["total"] == 8
            cursor = r.json["next_cursor"]
            if cursor is None:
                break
        assert got == [o.number for o in expected], limit


def test_handler_inbox_with_a_moved_deadline_reorders(client, city, db_session):
    first, second = dispatched(client, city), dispatched(client, city)
    assert [i["number"] for i in inbox(client, city, "env")["items"]] == [first, second]
    db_session.execute(text("UPDATE stage_clocks SET due_at = due_at - interval '1 day', "
                            "warn_at = warn_at - interval '1 day' WHERE ended_at IS NULL AND case_id = "
                            "(SELECT id FROM cases WHERE number = :n)"), {"n": second})
    db_session.commit()
    page = inbox(client, city, "env")
    assert [i["number"] for i in page["items"]] == [second, first]
