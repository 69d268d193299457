"""Deadline notices: what the sweep (``dispatch.clocks.deadlines``) writes when a stage clock
crosses 80% or its deadline. Case clocks are noticed here; other owners of clocks (the
enforcement team's stages) register their own notices, so this part never imports them."""
from __future__ import annotations

from sqlalchemy import select

from dispatch.cases.models import Case
from dispatch.clocks.models import StageClock
from dispatch.notifications.notify import RecipientCache, add_many, staff_recipient
from grid import roles as R
from grid.models import Staff
from wangge.i18n import t

# clock column -> notices(session, clocks, kind) -> rows written, for clocks owned by others
OTHER_OWNERS: dict = {}


def register_owner(column: str, notices) -> None:
    OTHER_OWNERS[column] = notices


def notify_deadlines(session, clocks: list, kind: str) -> int:
    """One outbox row per clock: the 80% warning to whoever owns the stage; overdue escalates
    to leaders as well. ``clocks`` are rows with id, case_id, enforcement_id, stage,
    department_id, started_at, due_at, extended. Set-based: a handful of statements however
    many clocks crossed."""
    sent = 0
    for column, notices in OTHER_OWNERS.items():
        owned = [c for c in clocks if getattr(c, column, None) is not None]
        clocks = [c for c in clocks if getattr(c, column, None) is None]
        sent += notices(session, owned, kind) if owned else 0
    if not clocks:
        return sent
    cases = {row.id: row for row in session.execute(
        select(Case.id, Case.number, Case.assignee_id).where(Case.id.in_({c.case_id for c in clocks})))}
    assignee_ids = {row.assignee_id for row in cases.values() if row.assignee_id}
    assignees = {s.id: staff_recipient(s) for s in session.scalars(select(Staff).where(Staff.id.in_(assignee_ids)))} \
        if assignee_ids else {}
    cache = RecipientCache(session)
    rows = []
    for clock in clocks:
        case = cases[clock.case_id]
        if clock.stage in ("sign", "handle") and clock.department_id:
            recipients = cache.with_role(R.DEPARTMENT_HANDLER, clock.department_id)
        elif clock.stage in ("verify", "check") and case.assignee_id in assignees:
            recipients = [assignees[case.assignee_id]]
        elif clock.stage in ("open", "close"):
            recipients = cache.with_role(R.SHIFT_LEADER)
        else:
            recipients = cache.with_role(R.DISPATCHER)
        if kind == "overdue":
            recipients += cache.with_role(R.LEADER)
        if not recipients:
            continue
        payload = {"template": f"deadline_{kind}", "stage": clock.stage, "clock_id": clock.id,
                   "due_at": clock.due_at.isoformat() if clock.due_at else None,
                   "case": case.number, "case_id": case.id,
                   "text_zh": f"【{case.number}】" + t(f"notify_deadline_{kind}", lang="zh", stage=clock.stage),
                   "text_en": f"[{case.number}] " + t(f"notify_deadline_{kind}", lang="en", stage=clock.stage),
                   "recipients": recipients}
        # an extension moves the deadline: its new thresholds are announced again
        suffix = f":ext{clock.extended:g}" if clock.extended else ""
        rows.append((f"deadline:{clock.id}:{kind}{suffix}", "deadline", payload))
    return sent + len(add_many(session, rows))


def notify_deadline(session, clock: StageClock, kind: str) -> None:
    notify_deadlines(session, [clock], kind)
