"""Departments: the street offices, bureaus, enforcement teams and the dispatch center."""
from __future__ import annotations

from sqlalchemy import select

from grid.models import Department, Responsibility
from wangge.errors import ApiError, NotFound
from wangge.i18n import t

# The enforcement team receives cases by referral (``refer_enforcement``), with its own
# stages and leader; a rule naming it would dispatch cases that nobody there ever sees.
# The dispatch center dispatches; it has no handlers to sign a case sent to it.
NOT_DISPATCHABLE = ("enforcement_team", "dispatch_center")


def not_dispatchable_message(kind: str, code: str) -> str:
    return t("rule_names_team" if kind == "enforcement_team" else "rule_names_center", code=code)


def get_department(session, code: str) -> Department:
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise NotFound("department", code)
    return dept


def check_kind_change(session, dept: Department, kind: str) -> None:
    """A department the matrix names cannot become one that takes no dispatched cases (the
    enforcement team, the dispatch center): its rules would strand every case they route."""
    if kind == dept.kind or kind not in NOT_DISPATCHABLE:
        return
    rules = session.scalars(select(Responsibility).where(Responsibility.department_id == dept.id)
                            .order_by(Responsibility.category_code, Responsibility.grid_code).limit(5)).all()
    if rules:
        named = ", ".join(f"{r.category_code}@{r.grid_code}" for r in rules)
        raise ApiError("in_use", status=409, what=t("department"), detail=t("rules_in_use", named=named))
