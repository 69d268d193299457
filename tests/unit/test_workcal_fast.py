"""The work calendar skips whole years and days by their working time; on random inputs
across holidays, overrides, make-up days, provisional years and a DST zone it gives exactly
what walking the working periods day by day gives."""
from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from grid.calendar.workcal import TimeUnit, WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
SEED = 20261126
N = 300

CALENDARS = {
    "default": WorkCalendar(),
    "overrides": WorkCalendar(
        working_hours="08:30-12:00,13:30-17:30",
        overrides={
            date(2026, 3, 4): (False, "Local festival"),
            date(2026, 3, 8): (True, "Make-up day"),
            date(2027, 1, 1): (True, None),
            date(2027, 2, 8): (False, "Spring Festival"),
            date(2028, 6, 5): (False, None),
        },
    ),
    # daylight saving time: periods cut or lengthened on the change days
    # (the changes fall on Sundays, so those Sundays are made working days)
    "new_york": WorkCalendar(
        tz="America/New_York", working_hours="01:00-03:30,09:00-17:00",
        overrides={d: (True, "DST change") for d in (
            date(2025, 3, 9), date(2025, 11, 2), date(2026, 3, 8), date(2026, 11, 1),
            date(2027, 3, 14), date(2027, 11, 7), date(2028, 3, 12), date(2028, 11, 5))}),
}


def walk_add(cal: WorkCalendar, start: datetime, amount, unit: TimeUnit) -> datetime:
    """The reference: the deadline found by walking every working period from ``start``."""
    start = start.astimezone(UTC)
    per_unit = cal.working_seconds_per_day if unit is TimeUnit.WORK_DAYS else 3600
    remaining = timedelta(microseconds=round(amount * per_unit * 1_000_000))
    d = start.astimezone(cal._zone).date()
    while True:
        for ps, pe in cal._work_periods(d):
            if pe <= start:
                continue
            s = max(ps, start)
            if remaining <= pe - s:
                return s + remaining
            remaining -= pe - s
        d += timedelta(days=1)


def walk_between(cal: WorkCalendar, start: datetime, end: datetime) -> timedelta:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total, d = timedelta(0), start.astimezone(cal._zone).date()
    while d <= end.astimezone(cal._zone).date():
        for ps, pe in cal._work_periods(d):
            s, e = max(ps, start), min(pe, end)
            if e > s:
                total += e - s
        d += timedelta(days=1)
    return total


def random_start(rng: random.Random) -> datetime:
    base = datetime(2024, 12, 20, tzinfo=SH)
    return base + timedelta(minutes=rng.randrange(4 * 365 * 24 * 60), seconds=rng.randrange(60))


def random_amount(rng: random.Random, unit: TimeUnit):
    top = 365 if unit is TimeUnit.WORK_DAYS else 2920
    return rng.choice([rng.randrange(1, top), rng.randrange(1, 4 * top) / 4, 0.5, 8, 1])


@pytest.mark.parametrize("name", CALENDARS)
@pytest.mark.parametrize("unit", [TimeUnit.WORK_HOURS, TimeUnit.WORK_DAYS])
def test_add_matches_the_day_by_day_walk(name, unit):
    cal, rng = CALENDARS[name], random.Random(f"{SEED}-{name}-{unit}")
    for _ in range(N // 3):
        start, amount = random_start(rng), random_amount(rng, unit)
        assert cal.add(start, amount, unit) == walk_add(cal, start, amount, unit), (start, amount)


@pytest.mark.parametrize("name", CALENDARS)
def test_working_time_between_matches_the_walk(name):
    cal, rng = CALENDARS[name], random.Random(f"{SEED}-{name}-between")
    for _ in range(N // 3):
        start = random_start(rng)
        end = start + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
        assert cal.working_time_between(start, end) == walk_between(cal, start, end), (start, end)


def test_a_year_of_work_days_builds_the_instants_of_two_days_only():
    cal = WorkCalendar()
    start = datetime(2025, 1, 1, 0, 0, tzinfo=SH)
    due = cal.add(start, 365, TimeUnit.WORK_DAYS)
    assert cal._periods_cache.cache_info().currsize <= 2  # not one per day walked
    assert due == walk_add(WorkCalendar(), start, 365, TimeUnit.WORK_DAYS)
    assert cal.elapsed(start, due, TimeUnit.WORK_DAYS) == 365
