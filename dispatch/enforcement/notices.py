"""Deadline notices of enforcement stages (registered with ``dispatch.clocks.notices``)."""
from __future__ import annotations

from sqlalchemy import select

from dispatch.cases.models import Case
from dispatch.enforcement import lifecycle as enforcement_lifecycle
from dispatch.enforcement.models import EnforcementCase
from dispatch.notifications.notify import RecipientCache, add_many, staff_recipient
from grid import roles as R
from wangge.i18n import t


def deadline_notices(session, clocks: list, kind: str) -> int:
    """Enforcement stages: the 80% warning to the assigned officers of a stage the officers
    complete (the team leader while none is assigned), else to the team leader; overdue
    escalates to the team leader as well. One row per stage entry and kind."""
    cases = {e.id: e for e in session.scalars(
        select(EnforcementCase).where(EnforcementCase.id.in_({c.enforcement_id for c in clocks})))}
    parents = dict(session.execute(select(Case.id, Case.number).where(
        Case.id.in_({e.parent_case_id for e in cases.values()}))).all())
    by_stage = {clock_stage: stage for stage, clock_stage in enforcement_lifecycle.STATE_STAGE.items()}
    cache = RecipientCache(session)
    rows = []
    for clock in clocks:
        enf = cases[clock.enforcement_id]
        stage = by_stage.get(clock.stage, clock.stage)
        leaders = cache.with_role(R.ENFORCEMENT_LEADER, enf.team_id)
        by_officers = any(R.ENFORCEMENT_OFFICER in v.roles for v in enforcement_lifecycle.advancing(stage))
        recipients = [staff_recipient(o.staff) for o in enf.officers] if by_officers and enf.officers else leaders
        if kind == "overdue":
            recipients += [r for r in leaders if r not in recipients]
        if not recipients:
            continue
        payload = {"template": f"enforcement_deadline_{kind}", "case": enf.number, "enforcement_id": enf.id,
                   "parent_case": parents.get(enf.parent_case_id),
                   "text_zh": f"【{enf.number}】" + t(f"notify_deadline_{kind}", lang="zh",
                                                      stage=t(f"enforcement_stage_{stage}", lang="zh")),
                   "text_en": f"[{enf.number}] " + t(f"notify_deadline_{kind}", lang="en", stage=stage),
                   "recipients": recipients,
                   "due_at": clock.due_at.isoformat() if clock.due_at else None, "clock_id": clock.id}
        key = f"enforcement:{enf.id}:{stage}:{clock.started_at.timestamp():.0f}:{kind}"
        rows.append((key, "enforcement", payload))
    return len(add_many(session, rows))
