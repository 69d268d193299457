"""Property checks for the work calendar on many random instants (fixed seed).

* add then elapsed gives the amount back;
* elapsed then add gives the end back whenever the end is in working time
  (period_start < end <= period_end on a workday) - for the continuous units, always;
* add is monotone in the amount, never returns before start, and a positive work-time
  deadline always lands in working time.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from grid.calendar.workcal import TimeUnit, WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
SEED = 20261122
N = 400

CALENDARS = {
    "default": WorkCalendar(),
    "overrides": WorkCalendar(
        working_hours="08:30-12:00,13:30-17:30",
        overrides={
            date(2026, 3, 4): (False, "Local festival"),
            date(2026, 3, 8): (True, "Make-up day"),
            date(2027, 2, 6): (True, None),
            date(2027, 2, 8): (False, "Spring Festival"),
        },
    ),
}

# random instants between 2025-01-01 and 2027-03-01 Beijing time: covers both Spring
# Festivals and National Days the library knows, and the provisional start of 2027.
SPAN_START = datetime(2025, 1, 1, tzinfo=SH)
SPAN_MINUTES = int((datetime(2027, 3, 1, tzinfo=SH) - SPAN_START).total_seconds() // 60)


def random_instant(rng: random.Random) -> datetime:
    t = SPAN_START + timedelta(minutes=rng.randrange(SPAN_MINUTES), seconds=rng.randrange(60))
    # vary the zone the caller uses
    return t.astimezone(rng.choice([SH, UTC, ZoneInfo("America/New_York")]))


def random_amount(rng: random.Random, unit: TimeUnit):
    kind = rng.random()
    top = 60 if unit in (TimeUnit.WORK_HOURS, TimeUnit.URGENT_HOURS) else 25
    if kind < 0.3:
        return rng.randrange(1, top)  # whole units
    if kind < 0.5:
        return rng.randrange(1, 4 * top) / 4  # quarters
    return round(rng.uniform(0.001, top), 6)


def working_instant_after(cal: WorkCalendar, rng: random.Random, start: datetime) -> datetime:
    """A random instant t > start with period_start < t <= period_end on some workday."""
    d = start.astimezone(SH).date() + timedelta(days=rng.randrange(0, 40))
    while True:
        if cal.is_workday(d):
            periods = [
                (datetime.combine(d, s, tzinfo=SH), datetime.combine(d, e, tzinfo=SH))
                for s, e in cal.working_hours
            ]
            ps, pe = rng.choice(periods)
            if rng.random() < 0.15:
                t = pe  # exactly at the end of a period
            else:
                t = ps + timedelta(seconds=rng.randrange(1, int((pe - ps).total_seconds()) + 1))
            if t > start:
                return t
        d += timedelta(days=1)


@pytest.mark.parametrize("name", list(CALENDARS))
@pytest.mark.parametrize("unit", list(TimeUnit))
def test_add_then_elapsed_roundtrip(name, unit):
    cal = CALENDARS[name]
    rng = random.Random(f"{SEED}-{name}-{unit}-a")
    for _ in range(N):
        start = random_instant(rng)
        amount = random_amount(rng, unit)
        end = cal.add(start, amount, unit)
        assert end.utcoffset() == timedelta(0)
        assert end > start
        assert cal.elapsed(start, end, unit) == pytest.approx(amount, abs=1e-9)
        assert cal.add(start, cal.elapsed(start, end, unit), unit) == end
        if unit in (TimeUnit.WORK_HOURS, TimeUnit.WORK_DAYS):
            # a positive work-time deadline is itself in working time
            local = end.astimezone(SH)
            assert cal.is_workday(local.date())
            assert any(s < local.time() <= e for s, e in cal.working_hours)


@pytest.mark.parametrize("name", list(CALENDARS))
@pytest.mark.parametrize("unit", [TimeUnit.WORK_HOURS, TimeUnit.WORK_DAYS])
def test_elapsed_then_add_recovers_working_end(name, unit):
    cal = CALENDARS[name]
    rng = random.Random(f"{SEED}-{name}-{unit}-b")
    for _ in range(N):
        start = random_instant(rng)
        end = working_instant_after(cal, rng, start)
        used = cal.elapsed(start, end, unit)
        assert used > 0
        assert cal.add(start, used, unit) == end, (start, end, used)


@pytest.mark.parametrize("unit", [TimeUnit.URGENT_HOURS, TimeUnit.CALENDAR_DAYS])
def test_elapsed_then_add_continuous_any_end(unit):
    cal = CALENDARS["default"]
    rng = random.Random(f"{SEED}-{unit}-c")
    for _ in range(N):
        start = random_instant(rng)
        end = start + timedelta(
            seconds=rng.randrange(1, 90 * 86400), microseconds=rng.randrange(10**6)
        )
        assert cal.add(start, cal.elapsed(start, end, unit), unit) == end


@pytest.mark.parametrize("unit", [TimeUnit.WORK_HOURS, TimeUnit.WORK_DAYS])
def test_add_is_monotone_and_work_days_are_day_lengths(unit):
    cal = CALENDARS["default"]
    rng = random.Random(f"{SEED}-{unit}-d")
    for _ in range(N // 2):
        start = random_instant(rng)
        a, b = sorted(random_amount(rng, unit) for _ in range(2))
        assert cal.add(start, a, unit) <= cal.add(start, b, unit)
        if unit is TimeUnit.WORK_DAYS:
            assert cal.add(start, a, unit) == cal.add(start, a * 8, TimeUnit.WORK_HOURS)


def test_elapsed_is_additive():
    cal = CALENDARS["overrides"]
    rng = random.Random(f"{SEED}-e")
    for _ in range(N // 2):
        a, b, c = sorted(random_instant(rng) for _ in range(3))
        whole = cal.working_time_between(a, c)
        assert whole == cal.working_time_between(a, b) + cal.working_time_between(b, c)
