"""Stage clocks: deadlines in the category's time unit over the work calendar, for the
stages of cases and of enforcement cases alike (the owner of a clock is either).

A clock runs in segments. Pausing (挂账) adds the segment's elapsed amount to ``consumed``
and clears ``warn_at``/``due_at``; resuming recomputes both from the remaining amount, so a
suspension never eats into the limit. An approved extension raises ``amount``.
The sweep finds clocks whose ``warn_at`` or ``due_at`` has passed and that have not been
notified, marks them and writes the notification to the outbox in one transaction: running
it twice, or again after a crash, has the effect of running it once.
"""
from __future__ import annotations

import logging
import math
from datetime import datetime

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import aliased, object_session

from dispatch.cases import scope
from dispatch.cases.models import Case
from dispatch.clocks.models import StageClock
from dispatch.clocks.notices import notify_deadlines
from grid.calendar.service import work_calendar
from grid.calendar.workcal import WorkCalendar
from grid.catalog.limits import MAX_AMOUNT, amount_error, limit_for
from grid.models import EVERYWHERE
from wangge.config import current_settings
from wangge.db_session import plain_session
from wangge.errors import NotFound
from wangge.instances import filled
from wangge.timeutil import utcnow

log = logging.getLogger(__name__)

WARN_FRACTION = 0.8


def calendar(session) -> WorkCalendar:
    return work_calendar(session)


# A clock's owner: a case, or an enforcement case (any model with ``CLOCK_KEY``, the clock
# column pointing at it, and ``clock_subject()``, the category and department of its limits).
Owner = Case


def _owned_by(owner: Owner):
    """The clock column that points at ``owner``."""
    return getattr(StageClock, owner.CLOCK_KEY)


def current_clock(session, owner: Owner) -> StageClock | None:
    """The running (or paused) clock of a case or an enforcement case. Read once per
    transaction: the answer is remembered (``_known``) and kept right by ``start_clock`` and
    ``end_clock``, so a verb's checks, its clock moves and its answer share one SELECT."""
    key = (owner.CLOCK_KEY, owner.id)
    known = _known(session)
    if key in known:
        return known[key]
    clock = session.scalar(select(StageClock).where(_owned_by(owner) == owner.id, StageClock.ended_at.is_(None))
                           .order_by(StageClock.id.desc()).limit(1))
    _known(session)[key] = clock  # the query began the transaction if none was open
    return clock


# One alias for every request: a new ``aliased()`` per call made SQLAlchemy adapt its columns
# again each time (a quarter of the CPU of reading a verb's case).
_LATEST = aliased(StageClock, name="latest_clock")
_RUNNING = select(func.max(_LATEST.id)).where(_LATEST.case_id == Case.id, _LATEST.ended_at.is_(None)) \
    .correlate(Case).scalar_subquery()


# The statements of visible_case_and_clock for the visibility shapes many people share
# (``scope.shared_visibility``), by shape and extra columns.
_CASE_AND_CLOCK: dict = {}


def visible_case_and_clock(session, staff, number: str, *extra) -> Case | tuple:
    """``scope.get_visible_case`` with the case's running clock in the same SELECT (an outer
    join on its latest unended clock), remembered for the transaction like ``current_clock``:
    a verb's request reads its case and clock in one statement. With ``extra`` columns (of the
    case's row), ``(case, *their values)``."""
    shared = scope.shared_visibility(staff)
    if shared is None:
        row = session.execute(scope.visible_case_query(staff, number).add_columns(StageClock, *extra)
                              .outerjoin(StageClock, StageClock.id == _RUNNING)).first()
    else:
        key, clause, params = shared
        statement_key = (key, tuple(column.name for column in extra))
        statement = _CASE_AND_CLOCK.get(statement_key)
        if statement is None:
            statement = select(Case).where(Case.number == bindparam("number")).options(*scope.CASE_FOR_ACTION)
            if clause is not None:
                statement = statement.where(clause)
            statement = _CASE_AND_CLOCK[statement_key] = statement.add_columns(StageClock, *extra) \
                .outerjoin(StageClock, StageClock.id == _RUNNING)
        row = session.execute(statement, {"number": number, **params}).first()
    if row is None:  # not found and not yours look the same (as in ``get_visible_case``)
        raise NotFound("case", number)
    case, clock, *values = row
    _known(session)[(Case.CLOCK_KEY, case.id)] = clock
    return (case, *values) if extra else case


_KNOWN = "wangge.running_clocks"


def _known(session) -> dict:
    """The running clocks this transaction has read or started, by (owner key, owner id).
    Tied to the transaction: after a commit or rollback another process may have moved them."""
    session = plain_session(session)
    transaction = session.get_transaction()
    if transaction is None:
        return {}  # nothing read in a transaction yet: nothing to remember
    memo = session.info.get(_KNOWN)
    if memo is None or memo[0] is not transaction:
        memo = session.info[_KNOWN] = (transaction, {})
    return memo[1]


def current_clocks(session, owners: list[Owner]) -> dict[int, StageClock]:
    """The running clocks of several owners of one kind, by owner id (one query)."""
    if not owners:
        return {}
    column = _owned_by(owners[0])
    clocks = session.scalars(select(StageClock).where(column.in_([o.id for o in owners]),
                                                      StageClock.ended_at.is_(None)).order_by(StageClock.id))
    return {getattr(c, column.key): c for c in clocks}


def handling_deadlines(session, case_ids) -> dict[int, datetime]:
    """When each case is expected to be fixed: the due time of its running handling clock
    (none before the department signs, or while paused). One query for any number of cases;
    what citizens see on the tracking page and Open311 clients as ``expected_datetime``."""
    if not case_ids:
        return {}
    rows = session.execute(select(StageClock.case_id, StageClock.due_at)
                           .where(StageClock.case_id.in_(case_ids), StageClock.stage == "handle",
                                  StageClock.ended_at.is_(None), StageClock.due_at.is_not(None))
                           .order_by(StageClock.id))
    return {case_id: due for case_id, due in rows}


def _schedule(clock: StageClock, cal: WorkCalendar, start: datetime) -> None:
    remaining = max(clock.amount - clock.consumed, 0.0)
    clock.due_at = cal.add(start, remaining, clock.unit)
    warn_remaining = max(clock.amount * WARN_FRACTION - clock.consumed, 0.0)
    clock.warn_at = cal.add(start, warn_remaining, clock.unit)


def _limit(session, category: str | None, stage: str) -> tuple[float, str]:
    """(amount, unit) of the stage's limit for the category (the default ``*`` without one)."""
    limit = limit_for(session, category or EVERYWHERE, stage)
    amount = limit.amount
    if amount_error(amount, limit.unit, allow_zero=False):
        # A limit stored before amounts were bounded (e.g. 1e300 urgent hours) must not stop
        # every case of its category: the clock runs on the largest amount allowed today.
        log.warning("time limit %s/%s of %r %s is out of range; using %s", limit.category_code, stage,
                    amount, limit.unit, MAX_AMOUNT.get(limit.unit))
        amount = float(MAX_AMOUNT.get(limit.unit, max(MAX_AMOUNT.values())))
    return amount, limit.unit


def start_clock(session, owner: Owner, stage: str, *, at: datetime | None = None,
                cal: WorkCalendar | None = None) -> StageClock:
    """Start the clock of ``stage`` (a time-limit key) for a case or an enforcement case; an
    enforcement case takes its parent's category and its team is the department."""
    at = at or utcnow()
    category, department_id = owner.clock_subject()
    keys = {owner.CLOCK_KEY: owner.id}
    amount, unit = _limit(session, category, stage)
    clock = filled(StageClock, **keys, stage=stage, department_id=department_id, started_at=at,
                   amount=amount, unit=unit, consumed=0.0, extended=0.0, segment_started_at=at)
    _schedule(clock, cal or calendar(session), at)
    session.add(clock)
    _known(session)[(owner.CLOCK_KEY, owner.id)] = clock
    return clock


def rearm(session, owner: Owner, clock: StageClock, *, at: datetime | None = None) -> dict | None:
    """The owner's category changed (``reclassify``): its running clock takes the new
    category's limit for the same stage, counted from the moment the stage started (the time
    already spent still counts). The clock is ended and a new one of the stage starts at the
    old one's start, so the deadline notices and the indicators see a clock of its own (the
    old one ends without its stage being done: it is withdrawn, not due). Extensions are kept,
    and so is a pause; in another unit the time used is counted again from the start, paused
    time included (the stages a correction meets, verify, open and dispatch, are never paused
    nor extended). Answers the limits before and after, or None when the limit is the same
    (the clock is left alone)."""
    category, _ = owner.clock_subject()
    amount, unit = _limit(session, category, clock.stage)
    if unit == clock.unit and math.isclose(amount, clock.amount - clock.extended):
        return None
    at = at or utcnow()
    before = {"amount": clock.amount, "unit": clock.unit, "due_at": clock.due_at and clock.due_at.isoformat()}
    end_clock(clock, at=at)
    new = start_clock(session, owner, clock.stage, at=clock.started_at)
    new.amount += clock.extended
    new.extended = clock.extended
    if clock.segment_started_at != clock.started_at:  # extended or paused: it runs in segments
        if unit == clock.unit:
            new.consumed = clock.consumed
        else:  # no exchange rate between units: the time since the start in the new one (a pause counts)
            new.consumed = calendar(session).elapsed(clock.started_at, clock.segment_started_at or at, unit)
        new.segment_started_at = clock.segment_started_at
    if new.segment_started_at is None:
        new.warn_at = new.due_at = None
    elif new.extended or new.consumed or new.segment_started_at != new.started_at:
        _schedule(new, calendar(session), new.segment_started_at)
    return {"stage": clock.stage, "before": before,
            "after": {"amount": new.amount, "unit": new.unit, "due_at": new.due_at and new.due_at.isoformat()}}


def end_clock(clock: StageClock, *, at: datetime | None = None) -> None:
    at = at or utcnow()
    clock.ended_at = at
    clock.ended_late = clock.due_at is not None and at > clock.due_at if clock.segment_started_at else \
        clock.consumed > clock.amount
    session = object_session(clock)
    if session is not None:
        # An owner has one running clock at most: this module ends it before starting the next.
        known = _known(session)
        for key, running in list(known.items()):
            if running is clock:
                known[key] = None


def pause(session, clock: StageClock, *, at: datetime | None = None) -> None:
    if clock.segment_started_at is None:
        return
    at = at or utcnow()
    clock.consumed += calendar(session).elapsed(clock.segment_started_at, at, clock.unit)
    clock.segment_started_at = None
    clock.warn_at = clock.due_at = None


def resume(session, clock: StageClock, *, at: datetime | None = None) -> None:
    if clock.segment_started_at is not None:
        return
    at = at or utcnow()
    clock.segment_started_at = at
    _schedule(clock, calendar(session), at)


def extend(session, clock: StageClock, amount: float, *, at: datetime | None = None) -> None:
    """Add ``amount`` (in the clock's unit) to the limit and move the deadline."""
    at = at or utcnow()
    cal = calendar(session)
    if clock.segment_started_at is not None:
        clock.consumed += cal.elapsed(clock.segment_started_at, at, clock.unit)
        clock.segment_started_at = at
    clock.amount += amount
    clock.extended += amount
    if clock.segment_started_at is not None:
        _schedule(clock, cal, at)
        # the new thresholds are announced again (the outbox key includes the extension)
        if clock.warn_at > at:
            clock.warned_at = None
        if clock.due_at > at:
            clock.overdue_notified_at = None


def light(clock: StageClock | None, now: datetime | None = None, cal: WorkCalendar | None = None) -> str | None:
    """green under 80% of the limit, yellow from 80% to 100%, red when exceeded."""
    if clock is None or clock.ended_at is not None:
        return None
    now = now or utcnow()
    if clock.segment_started_at is None:  # paused: frozen at what was used
        used = clock.consumed / clock.amount if clock.amount else 1
        return "red" if used > 1 else "yellow" if used >= WARN_FRACTION else "green"
    if now > clock.due_at:
        return "red"
    if now >= clock.warn_at:
        return "yellow"
    return "green"


def sweep(session, *, now: datetime | None = None, limit: int = 10_000) -> dict:
    """Mark and notify every clock that crossed 80% or 100% since the last sweep, of cases
    and enforcement cases alike.

    Set-based: per threshold one locking SELECT on a partial index, one UPDATE and one
    multi-row INSERT into the outbox, however many clocks crossed."""

    now = now or utcnow()
    counts = {}
    for kind, mark, at in (("warning", StageClock.warned_at, StageClock.warn_at),
                           ("overdue", StageClock.overdue_notified_at, StageClock.due_at)):
        rows = session.execute(
            select(StageClock.id, StageClock.case_id, StageClock.enforcement_id, StageClock.stage,
                   StageClock.department_id, StageClock.started_at, StageClock.due_at, StageClock.extended)
            .where(StageClock.ended_at.is_(None), mark.is_(None), StageClock.segment_started_at.is_not(None),
                   at <= now)
            .order_by(at).limit(limit).with_for_update(skip_locked=True)).all()
        if rows:
            session.execute(update(StageClock).where(StageClock.id.in_([r.id for r in rows]))
                            .values({mark.key: now}).execution_options(synchronize_session=False))
            notify_deadlines(session, rows, kind)
        counts["warnings" if kind == "warning" else "overdue"] = len(rows)
    session.expire_all()
    return counts



def mark_paused_for_extension(session, clock: StageClock) -> None:
    if current_settings().pause_while_extension_pending:
        pause(session, clock)


def owner_light(due: datetime | None, warn: datetime | None, paused: str | None, now: datetime) -> str | None:
    """The light from the owner's copy of its running clock: ``deadlines.light``'s rule (green
    under 80% of the limit, yellow to 100%, red beyond; a paused clock frozen at what it used,
    ``clock_paused_light``); None without a clock. tests/mobile/test_inbox_deadlines.py compares
    it (and ``light_sql``) with ``deadlines.light`` for clocks in every situation."""
    if paused is not None:
        return paused
    if due is None:
        return None
    if now > due:
        return "red"
    if now >= warn:
        return "yellow"
    return "green"


def light_sql(model, now: datetime):
    """``owner_light`` in SQL, over the owner's columns ('none' without a clock)."""
    return case((model.clock_paused_light.is_not(None), model.clock_paused_light),
                (model.clock_due_at.is_(None), "none"),
                (model.clock_due_at < now, "red"),
                (model.clock_warn_at <= now, "yellow"),
                else_="green")
