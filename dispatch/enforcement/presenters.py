"""How enforcement cases, records and groups look in API answers (times in the user's zone)."""

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from dispatch.cases.models import Case
from dispatch.clocks import deadlines
from dispatch.clocks.models import StageClock
from dispatch.enforcement import lifecycle, scope, service
from dispatch.enforcement.models import EnforcementCase, EnforcementGroup
from dispatch.workflow.actions import state_name
from grid.models import Department
from wangge.auth import current_staff
from wangge.extensions import db
from wangge.present import local_iso
from wangge.timeutil import utcnow


def _limit_view(enf):
    limit = service.stage_limit(db.session, enf)
    return limit and {"amount": limit.amount, "unit": limit.unit}


def summary(enf: EnforcementCase, now=None, clock: StageClock | None = None) -> dict:
    """``clock``: the running stage clock, when the caller loaded it with others'."""
    parent = enf.parent
    if clock is None:
        clock = service.clock(db.session, enf)
    return {
        "number": enf.number, "stage": enf.stage, "stage_name": service.stage_name(enf.stage),
        "team": {"code": enf.team.code, "name": enf.team.name},
        "parent": {"number": parent.number, "state": parent.state, "state_name": state_name(parent.state),
                   "category_code": parent.category_code, "title": parent.title, "address": parent.address,
                   "lon": parent.lon, "lat": parent.lat, "grid_code": parent.grid_code},
        "group_id": enf.group_id, "reason": enf.reason,
        "stage_started_at": local_iso(enf.stage_started_at),
        "stage_warn_at": local_iso(clock.warn_at if clock else None),
        "stage_due_at": local_iso(clock.due_at if clock else None), "light": service.light(clock, now),
        "officers": [{"id": o.staff_id, "name": o.staff.name} for o in enf.officers],
        "created_at": local_iso(enf.created_at), "closed_at": local_iso(enf.closed_at), "version": enf.version,
    }


def record_view(r) -> dict:
    return {"id": r.id, "kind": r.kind, "from_stage": r.from_stage, "to_stage": r.to_stage,
            "actor_id": r.actor_id, "at": local_iso(r.at), "note": r.note, "data": service.record_data(r),
            "attachments": r.attachment_ids}


def summaries(enfs: list[EnforcementCase], now=None) -> list[dict]:
    """Summaries of several enforcement cases, their clocks, parents and teams loaded in one
    query each (then ``enf.parent`` and ``enf.team`` are found in the session, not queried;
    ``loaded`` keeps them there: the session holds objects weakly)."""
    clocks = deadlines.current_clocks(db.session, enfs)
    loaded = [db.session.scalars(select(model).options(lazyload("*")).where(model.id.in_(ids))).all()
              for model, ids in ((Case, {e.parent_case_id for e in enfs}), (Department, {e.team_id for e in enfs}))
              if ids]
    out = [summary(e, now, clocks.get(e.id)) for e in enfs]
    del loaded
    return out


def group_view(group: EnforcementGroup, members, exclude_id=None) -> dict:
    now = utcnow()
    return {"id": group.id, "lon": group.lon, "lat": group.lat, "address": group.address,
            "opened_at": local_iso(group.opened_at), "window_ends_at": local_iso(group.window_ends_at),
            "size": len(members),
            "open": group.window_ends_at >= now and any(m.stage != lifecycle.CLOSED for m in members),
            "members": summaries([m for m in members if m.id != exclude_id], now)}


def detail(enf: EnforcementCase) -> dict:
    staff = current_staff()
    data = summary(enf)
    nxt = service.next_stage(enf.stage)
    may_advance = nxt is not None and service.may_advance(staff, enf)
    data.update({
        "limit": _limit_view(enf), "decision": enf.decision, "penalty_amount": enf.penalty_amount,
        "outcome": enf.outcome,
        "next_stage": nxt and {"stage": nxt, "name": service.stage_name(nxt), "you_may_advance": may_advance},
        "records": [record_view(r) for r in enf.records],
        "group": None,
    })
    if enf.group_id is not None:
        _, members = scope.get_group(db.session, staff, enf.group_id)
        data["group"] = group_view(enf.group, members, exclude_id=enf.id)
    return data
