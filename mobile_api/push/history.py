"""Whether a case the sender cannot see now was in their view before.

A handler whose case was redispatched to another department, or a grid worker whose case
was reassigned or left their grids, did real work offline on a case that was theirs when
they did it: their item is a conflict kept for the dispatch center, not a ``not_found``.
A case that was never in their view stays ``not_found``, with the same message as a number
that does not exist, so a push never tells anyone that a case they could not see exists.

What proves the case was in the sender's view, cheapest first (the rules of
``dispatch.cases.scope.visible`` applied to the case's past):

1. the case names them as its reporter or its assignee now;
2. its event log (indexed by case) names them as the actor of an event, as the worker an
   event assigned (``request_verify``, ``request_check``: ``data.assignee_id``), or names
   their department (handlers: the department a ``dispatch``, ``redispatch``, ``sign``, ...
   was in);
3. grid workers: they held the case's grid at some time since it was reported
   (``grid_assignments`` keeps ended assignments);
4. the change feed (``sync_feed``, written by triggers on every change, hand-written SQL
   fixes included) has a row of this case whose values before or after the change put it in
   their view (their department, their assignment or report, a grid they held before the
   case's last change: feed rows carry no time).

Steps 1 to 3 cover every way the application takes a case out of someone's view; step 4 is
there for changes made outside it (a grid code corrected by hand)."""
from __future__ import annotations

from sqlalchemy import exists, or_, select

from dispatch.cases.models import Case, CaseEvent
from grid import roles as R
from grid.models import GridAssignment, Staff
from mobile_api.sync.models import SyncFeed
from wangge.timeutil import utcnow


def was_in_view(session, staff: Staff, case: Case) -> bool:
    me = staff.id
    if me in (case.reporter_staff_id, case.assignee_id):
        return True
    department = staff.department_id if staff.has_role(R.DEPARTMENT_HANDLER) else None
    for actor_id, event_department, data in session.execute(
            select(CaseEvent.actor_id, CaseEvent.department_id, CaseEvent.data).where(CaseEvent.case_id == case.id)):
        if actor_id == me or (department is not None and event_department == department):
            return True
        if isinstance(data, dict) and data.get("assignee_id") == me:
            return True
    if staff.has_role(R.GRID_WORKER):
        held = list(session.execute(select(GridAssignment.grid_code, GridAssignment.valid_from).where(
            GridAssignment.staff_id == me, GridAssignment.valid_from <= utcnow(),
            or_(GridAssignment.valid_to.is_(None), GridAssignment.valid_to > case.reported_at))))
        if case.grid_code is not None and case.grid_code in {code for code, _ in held}:
            return True  # its grid was theirs while the case lived
        # the feed rows carry no time: a grid counts only if they held it before the case's
        # last change, so one taken over after the case had left it does not
        grids = sorted({code for code, since in held if since <= case.updated_at})
    else:
        grids = []
    return _in_feed(session, staff, case, department, grids)


def _in_feed(session, staff: Staff, case: Case, department: int | None, grids: list[str]) -> bool:
    clauses = []
    if department is not None:
        clauses += [SyncFeed.old_department_id == department, SyncFeed.new_department_id == department]
    if staff.has_role(R.GRID_WORKER):
        clauses += [SyncFeed.reporter_staff_id == staff.id, SyncFeed.old_assignee_id == staff.id,
                    SyncFeed.new_assignee_id == staff.id]
        if grids:
            clauses += [SyncFeed.old_grid_code.in_(grids), SyncFeed.new_grid_code.in_(grids)]
    if not clauses:
        return False
    return bool(session.scalar(select(exists().where(SyncFeed.kind == "case", SyncFeed.entity_id == case.id,
                                                     or_(*clauses)))))
