"""Time limits per category and stage, in the four units of docs/domain.md §3."""
from __future__ import annotations

import math

from sqlalchemy import select

from grid.catalog import reference
from grid.models import EVERYWHERE, Category, TimeLimit
from wangge.errors import NotFound, validation_error
from wangge.i18n import t

# Stages of a case that carry a deadline, and of an enforcement case (一队伍).
STAGES = ("verify", "open", "dispatch", "sign", "handle", "check", "close",
          "enf_accept", "enf_investigate", "enf_decide", "enf_execute", "enf_close")
UNITS = ("urgent_hours", "work_hours", "work_days", "calendar_days")
# The largest amount a limit, an extension or a deadline query may have, per unit: a year of
# hours (continuous or working), a year of work days (about a year and a half), ten years of
# calendar days. Beyond that a limit is a typo, and deadline arithmetic would only burn CPU
# (or overflow the date range) computing it.
MAX_AMOUNT = {"urgent_hours": 8760, "work_hours": 8760, "work_days": 365, "calendar_days": 3650}


def limit_for(session, category_code: str, stage: str) -> reference.LimitInfo:
    """The category's own limit, else its big class's, else the default (``*``); from the
    process's reference cache (``grid.catalog.reference``): no statement when it is warm."""
    codes = [category_code]
    category = reference.category(session, category_code)
    if category is not None and category.parent_code:
        codes.append(category.parent_code)
    codes.append(EVERYWHERE)
    found = reference.limit(session, codes, stage)
    if found is None:
        raise NotFound("time_limit", f"{category_code}/{stage}")
    return found


def check_limit(stage: str, amount, unit: str) -> None:
    errors = {}
    if stage not in STAGES:
        errors["stage"] = [f"must be one of {', '.join(STAGES)}"]
    if unit not in UNITS:
        errors["unit"] = [f"must be one of {', '.join(UNITS)}"]
    message = amount_error(amount, unit if unit in UNITS else None, allow_zero=False)
    if message:
        errors["amount"] = [message]
    if errors:
        raise validation_error(errors)


def amount_error(amount, unit: str | None, *, allow_zero: bool) -> str | None:
    """Why ``amount`` of ``unit`` is not an acceptable time amount, or None if it is."""
    try:
        value = float(amount)
    except (TypeError, ValueError, OverflowError):
        return t("amount_out_of_range", max=MAX_AMOUNT.get(unit, max(MAX_AMOUNT.values())), unit=unit or "")
    top = MAX_AMOUNT.get(unit, max(MAX_AMOUNT.values()))
    too_small = value < 0 if allow_zero else value <= 0
    if isinstance(amount, bool) or not math.isfinite(value) or too_small or value > top:
        return t("amount_out_of_range", max=top, unit=unit or "")
    return None


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
