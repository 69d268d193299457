"""Who sees which enforcement cases: the dispatch center and leaders see all; enforcement
staff their own team's; a department handler (read-only) the referrals of its own cases.
Another team's enforcement staff asking for one get 403 (they know it exists: it is on the
same street); everyone else who may not see it, 404."""
from __future__ import annotations

from sqlalchemy import false, func, or_, select

from dispatch.cases.models import Case
from dispatch.enforcement.models import EnforcementCase, EnforcementGroup
from grid import roles as R
from grid.models import Staff
from wangge.errors import Forbidden, NotFound

SEE_ALL = (R.INTAKE_CLERK, R.SHIFT_LEADER, R.DISPATCHER, R.LEADER, R.ADMIN)
ENFORCEMENT_ROLES = (R.ENFORCEMENT_LEADER, R.ENFORCEMENT_OFFICER)
READERS = (*SEE_ALL, *ENFORCEMENT_ROLES, R.DEPARTMENT_HANDLER)
GROUP_READERS = (*SEE_ALL, *ENFORCEMENT_ROLES)


def referred_cases(staff: Staff):
    """The cases an enforcement team's staff see: those referred to their team (registered
    with ``dispatch.cases.scope``)."""
    if staff.has_role(*ENFORCEMENT_ROLES) and staff.department_id:
        referred = select(EnforcementCase.parent_case_id).where(EnforcementCase.team_id == staff.department_id)
        return Case.id.in_(referred)
    return None


def visible(staff: Staff):
    """A WHERE clause on EnforcementCase for this staff member (None: all)."""
    if staff.has_role(*SEE_ALL):
        return None
    clauses = []
    if staff.has_role(*ENFORCEMENT_ROLES) and staff.department_id:
        clauses.append(EnforcementCase.team_id == staff.department_id)
    if staff.has_role(R.DEPARTMENT_HANDLER) and staff.department_id:
        clauses.append(EnforcementCase.parent_case_id.in_(
            select(Case.id).where(Case.department_id == staff.department_id)))
    return or_(*clauses) if clauses else false()


def stage_counts(session, staff: Staff, stages) -> dict[str, int]:
    """How many of the enforcement cases ``staff`` may see are in each of ``stages`` (0 for none)."""
    query = select(EnforcementCase.stage, func.count()).group_by(EnforcementCase.stage)
    clause = visible(staff)
    if clause is not None:
        query = query.where(clause)
    found = dict(session.execute(query).all())
    return {stage: found.get(stage, 0) for stage in stages}


def get_enforcement(session, staff: Staff, number: str) -> EnforcementCase:
    """The enforcement case by number, if ``staff`` may see it (403 or 404 if not)."""
    enf = session.scalar(select(EnforcementCase).where(EnforcementCase.number == number))
    if enf is None:
        raise NotFound("enforcement_case", number)
    clause = visible(staff)
    if clause is not None and session.scalar(select(EnforcementCase.id).where(
            EnforcementCase.id == enf.id, clause)) is None:
        if staff.has_role(*ENFORCEMENT_ROLES):
            raise Forbidden("not_your_team", number=number)
        raise NotFound("enforcement_case", number)
    return enf


def group_members(session, group_id: int) -> list[EnforcementCase]:
    return list(session.scalars(select(EnforcementCase).where(EnforcementCase.group_id == group_id)
                                .order_by(EnforcementCase.id)))


def get_group(session, staff: Staff, group_id: int) -> tuple[EnforcementGroup, list[EnforcementCase]]:
    """The group and the members ``staff`` may see (404 if none)."""
    group = session.get(EnforcementGroup, group_id)
    if group is None:
        raise NotFound("enforcement_group", group_id)
    members = group_members(session, group_id)
    clause = visible(staff)
    if clause is not None:
        ids = set(session.scalars(select(EnforcementCase.id).where(EnforcementCase.group_id == group_id, clause)))
        members = [m for m in members if m.id in ids]
    if not members:
        raise NotFound("enforcement_group", group_id)
    return group, members
