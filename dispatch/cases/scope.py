"""Who sees which cases: the dispatch center and leaders see all; a department its own;
a grid worker what they reported, were assigned, or what lies in their grids; the
enforcement team the cases referred to it."""
from __future__ import annotations

from sqlalchemy import bindparam, false, or_, select
from sqlalchemy.orm import defer, lazyload

from dispatch.cases.models import Case
from grid import roles as R
from grid.models import GridAssignment, Staff
from wangge.errors import NotFound
from wangge.timeutil import utcnow

SEE_ALL = (R.INTAKE_CLERK, R.SHIFT_LEADER, R.DISPATCHER, R.LEADER, R.ADMIN)
# Clauses that parts built on cases add (enforcement: the cases referred to my team), so this
# module never imports them back: ``fn(staff) -> clause or None``.
EXTRA_VISIBILITY: list = []


def register_visibility(clause_for) -> None:
    if clause_for not in EXTRA_VISIBILITY:  # every app the process creates registers again
        EXTRA_VISIBILITY.append(clause_for)


def visible(staff: Staff):
    """A WHERE clause on Case for this staff member."""
    if staff.has_role(*SEE_ALL):
        return None
    clauses = []
    if staff.has_role(R.DEPARTMENT_HANDLER) and staff.department_id:
        clauses.append(Case.department_id == staff.department_id)
    if staff.has_role(R.GRID_WORKER):
        now = utcnow()
        grids = select(GridAssignment.grid_code).where(
            GridAssignment.staff_id == staff.id, GridAssignment.valid_from <= now,
            (GridAssignment.valid_to.is_(None)) | (GridAssignment.valid_to > now))
        clauses += [Case.reporter_staff_id == staff.id, Case.assignee_id == staff.id, Case.grid_code.in_(grids)]
    clauses += [c for c in (clause_for(staff) for clause_for in EXTRA_VISIBILITY) if c is not None]
    return or_(*clauses) if clauses else false()


def sees_reporter_phone(staff: Staff) -> bool:
    """Whether the case's answer shows ``staff`` the reporter's phone (``reporter.phone`` of
    ``GET /api/v1/cases/{number}``): every staff member who may see the case does (they call the
    reporter back). The case list's phone search (``q``) is allowed to exactly these, within the
    cases they see; tests/api/test_case_search.py checks, role by role, that the two agree."""
    return staff is not None


# What a verb and the case's answer need of the case row: not its departments (the answer
# names them from the reference cache, ``presenters.department_view``), nor its grid's polygon
# nor its own point geometry (lon/lat are columns of their own); each still loads if
# something asks for it.
CASE_FOR_ACTION = (lazyload(Case.grid), defer(Case.location), lazyload(Case.department),
                   lazyload(Case.suggested_department))


def shared_visibility(staff: Staff) -> tuple[str, object, dict] | None:
    """(key, clause, parameters) when what ``staff`` may see is one of the shapes many people
    share, written with bound parameters so one statement serves them all (its compiled form
    and cache key made once): everything (the dispatch center, leaders), or one department's
    cases (a handler and nothing more). None for the others (grid workers, enforcement)."""
    if staff.has_role(*SEE_ALL):
        return "all", None, {}
    if set(staff.roles) == {R.DEPARTMENT_HANDLER} and staff.department_id:
        return "department", Case.department_id == bindparam("scope_department_id"), \
            {"scope_department_id": staff.department_id}
    return None


def visible_case_query(staff: Staff, number: str):
    """The SELECT of case ``number`` if ``staff`` may see it (parts above add columns to it)."""
    query = select(Case).where(Case.number == number).options(*CASE_FOR_ACTION)
    clause = visible(staff)
    return query if clause is None else query.where(clause)


def get_visible_case(session, staff: Staff, number: str) -> Case:
    case = session.scalar(visible_case_query(staff, number))
    if case is None:  # not found and not yours look the same: no leaking of case numbers
        raise NotFound("case", number)
    return case
