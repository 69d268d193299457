"""The work calendar in force: official Chinese calendar + local overrides + working hours."""
from __future__ import annotations

import csv
import io
import json
from datetime import date

from sqlalchemy import delete

from grid.calendar.workcal import WorkCalendar, parse_working_hours
from grid.catalog import reference
from grid.models import CalendarDay
from wangge.config import current_settings
from wangge.errors import ApiError, validation_error
from wangge.fields import MAX_YEAR, MIN_YEAR
from wangge.i18n import t


def work_calendar(session) -> WorkCalendar:
    """The calendar in force, shared by the requests of this process until the local
    overrides (``calendar_days``, part of the cached reference data) or the settings change;
    its day cache stays warm. Treat it as read-only."""
    s = current_settings()
    built, overrides = reference.calendar_overrides(session)
    key = (s.timezone, s.working_hours)
    cal = built.calendars.get(key)
    if cal is None:
        cal = built.calendars[key] = WorkCalendar(tz=s.timezone, working_hours=parse_working_hours(s.working_hours),
                                                  overrides=overrides)
    return cal


def set_day(session, day: date, is_workday: bool, name: str | None = None) -> CalendarDay:
    row = session.get(CalendarDay, day) or CalendarDay(day=day)
    row.is_workday, row.name = is_workday, name
    session.add(row)
    session.flush()
    return row


def clear_day(session, day: date) -> bool:
    reference.touched(session)
    return session.execute(delete(CalendarDay).where(CalendarDay.day == day)).rowcount > 0


def parse_schedule(text: str, filename: str = "") -> list[tuple[date, bool, str | None]]:
    """A year's schedule as CSV (``date,kind,name``) or JSON (list of objects with the same
    keys). ``kind`` is ``holiday`` (rest day) or ``workday`` (make-up working day)."""
    if filename.endswith(".json") or text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except ValueError as exc:
            raise ApiError("invalid_file", status=400, detail=f"not valid JSON: {exc}") from None
        if not isinstance(rows, list):
            raise ApiError("invalid_file", status=400, detail="JSON schedule must be a list of objects")
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    out, errors = [], {}
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            errors[f"row {n}"] = ["must be an object with date, kind and name"]
            continue
        raw_day, kind = str(row.get("date", "")).strip(), str(row.get("kind", "")).strip()
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            errors[f"row {n}"] = [f"date {raw_day!r} is not YYYY-MM-DD"]
            continue
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            errors[f"row {n}"] = [t("year_out_of_range", min=MIN_YEAR, max=MAX_YEAR)]
            continue
        if kind not in ("holiday", "workday"):
            errors[f"row {n}"] = [f"kind {kind!r} must be 'holiday' or 'workday'"]
            continue
        name = str(row.get("name") or "").strip() or None
        if name is not None and len(name) > 100:
            errors[f"row {n}"] = ["name is longer than 100 characters"]
            continue
        out.append((day, kind == "workday", name))
    if errors:
        raise validation_error(errors)
    if not out:
        raise validation_error({"file": ["no rows"]})
    return out


def load_schedule(session, rows) -> int:
    for day, is_workday, name in rows:
        set_day(session, day, is_workday, name)
    return len(rows)
