"""Time limits per category and stage, in the four units of DOMAIN.md section 3."""
from __future__ import annotations

from sqlalchemy import select

from wangge.errors import NotFound, validation_error

from .models import EVERYWHERE, Category, TimeLimit

# Stages of a case that carry a deadline, and of an enforcement case (一队伍).
STAGES = ("verify", "open", "dispatch", "sign", "handle", "check", "close",
          "enf_accept", "enf_investigate", "enf_decide", "enf_execute", "enf_close")
UNITS = ("urgent_hours", "work_hours", "work_days", "calendar_days")


def limit_for(session, category_code: str, stage: str) -> TimeLimit:
    """The category's own limit, else its big class's, else the default (``*``)."""
    codes = [category_code]
    category = session.get(Category, category_code)
    if category is not None and category.parent_code:
        codes.append(category.parent_code)
    codes.append(EVERYWHERE)
    rows = {r.category_code: r for r in session.scalars(
        select(TimeLimit).where(TimeLimit.stage == stage, TimeLimit.category_code.in_(codes)))}
    for code in codes:
        if code in rows:
            return rows[code]
    raise NotFound("time_limit", f"{category_code}/{stage}")


def check_limit(stage: str, amount, unit: str) -> None:
    errors = {}
    if stage not in STAGES:
        errors["stage"] = [f"must be one of {', '.join(STAGES)}"]
    if unit not in UNITS:
        errors["unit"] = [f"must be one of {', '.join(UNITS)}"]
    try:
        if float(amount) <= 0:
            errors["amount"] = ["must be greater than 0"]
    except (TypeError, ValueError):
        errors["amount"] = ["must be a number"]
    if errors:
        raise validation_error(errors)


def set_limit(session, category_code: str, stage: str, amount, unit: str) -> TimeLimit:
    check_limit(stage, amount, unit)
    if category_code != EVERYWHERE and session.get(Category, category_code) is None:
        raise NotFound("category", category_code)
    row = session.scalar(select(TimeLimit).where(TimeLimit.category_code == category_code,
                                                 TimeLimit.stage == stage))
    if row is None:
        row = TimeLimit(category_code=category_code, stage=stage)
        session.add(row)
    row.amount, row.unit = float(amount), unit
    session.flush()
    return row
