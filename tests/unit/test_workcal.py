"""Work calendar: day status (official / provisional / override) and deadline arithmetic.

Every holiday / make-up-day fact used below is first checked against chinese_calendar itself
(``_official_facts``), so a wrong assumption about the schedule fails loudly and separately
from a bug in the arithmetic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import chinese_calendar as cc
import pytest

from grid.calendar import workcal
from grid.calendar.workcal import DayInfo, TimeUnit, WorkCalendar, parse_working_hours

SH = ZoneInfo("Asia/Shanghai")
WD = TimeUnit.WORK_DAYS
WH = TimeUnit.WORK_HOURS
UH = TimeUnit.URGENT_HOURS
CD = TimeUnit.CALENDAR_DAYS


def L(y, m, d, h=0, mi=0, s=0):
    """A Beijing wall-clock instant."""
    return datetime(y, m, d, h, mi, s, tzinfo=SH)


def library_knows(year: int) -> bool:
    try:
        cc.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


needs_no_2027_data = pytest.mark.skipif(
    library_knows(2027),
    reason="installed chinese_calendar now has 2027 data; 2027 is no longer provisional",
)


@pytest.fixture
def cal():
    return WorkCalendar()


def assert_utc(value: datetime):
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# ---------------------------------------------------------------------------
# Facts from the library that the tests below rely on
# ---------------------------------------------------------------------------


def test_official_facts():
    rest = [
        # 2025 Spring Festival: Jan 28 - Feb 4
        *[date(2025, 1, 28) + timedelta(i) for i in range(8)],
        # 2025 National Day + Mid-autumn: Oct 1 - 8
        *[date(2025, 10, 1) + timedelta(i) for i in range(8)],
        # 2026 Spring Festival: Feb 15 - 23
        *[date(2026, 2, 15) + timedelta(i) for i in range(9)],
        # 2026 Mid-autumn Sep 25-27, National Day Oct 1-7
        date(2026, 9, 25),
        date(2026, 9, 26),
        date(2026, 9, 27),
        *[date(2026, 10, 1) + timedelta(i) for i in range(7)],
        date(2026, 1, 1),
    ]
    makeup = [
        date(2025, 1, 26),  # Sunday
        date(2025, 2, 8),  # Saturday
        date(2025, 9, 28),  # Sunday
        date(2025, 10, 11),  # Saturday
        date(2026, 2, 14),  # Saturday
        date(2026, 2, 28),  # Saturday
        date(2026, 9, 20),  # Sunday
        date(2026, 10, 10),  # Saturday
    ]
    for d in rest:
        assert not cc.is_workday(d), d
    for d in makeup:
        assert d.weekday() >= 5 and cc.is_workday(d), d
    # ordinary days around them
    for d in [
        date(2025, 1, 27),
        date(2025, 2, 5),
        date(2025, 9, 30),
        date(2025, 10, 9),
        date(2026, 2, 13),
        date(2026, 2, 24),
        date(2026, 9, 24),
        date(2026, 9, 28),
        date(2026, 10, 8),
        date(2026, 12, 30),
        date(2026, 12, 31),
    ]:
        assert d.weekday() < 5 and cc.is_workday(d), d
    for d in [date(2025, 2, 9), date(2026, 3, 1), date(2026, 3, 7), date(2026, 3, 8)]:
        assert not cc.is_workday(d), d


@needs_no_2027_data
def test_library_has_no_2027_data():
    with pytest.raises(NotImplementedError):
        cc.is_workday(date(2027, 1, 4))


# ---------------------------------------------------------------------------
# parse_working_hours
# ---------------------------------------------------------------------------


def test_parse_default():
    assert parse_working_hours("08:00-12:00,14:00-18:00") == (
        (time(8), time(12)),
        (time(14), time(18)),
    )


def test_parse_lenient_spacing_and_single_digit_hours():
    assert parse_working_hours(" 8:30 - 12:00 , 13:30-17:30 ") == (
        (time(8, 30), time(12)),
        (time(13, 30), time(17, 30)),
    )
    assert parse_working_hours("09:00-17:00") == ((time(9), time(17)),)
    # touching periods are allowed (not overlapping)
    assert parse_working_hours("08:00-12:00,12:00-13:00") == (
        (time(8), time(12)),
        (time(12), time(13)),
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("08:00", "not a 'HH:MM-HH:MM' period"),
        ("08:00-12:00,", "empty period"),
        ("08:00-12:00-14:00", "not a 'HH:MM-HH:MM' period"),
        ("8-12", "not a HH:MM time"),
        ("08h00-12h00", "not a HH:MM time"),
        ("25:00-26:00", "not a valid time of day"),
        ("08:60-09:00", "not a valid time of day"),
        ("12:00-08:00", "must end after it starts"),
        ("08:00-08:00", "must end after it starts"),
        ("22:00-02:00", "cannot cross midnight"),
        ("08:00-12:00,11:00-13:00", "overlaps"),
        ("14:00-18:00,08:00-12:00", "chronological order"),
        ("08:00-12:00,08:00-09:00", "overlaps"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_working_hours(text)


def test_parse_rejects_non_string():
    with pytest.raises(ValueError):
        parse_working_hours(None)  # type: ignore[arg-type]


def test_working_hours_as_tuple_validated():
    with pytest.raises(ValueError, match="overlaps"):
        WorkCalendar(working_hours=((time(8), time(12)), (time(11), time(13))))
    with pytest.raises(ValueError, match="at least one period"):
        WorkCalendar(working_hours=())


def test_working_seconds_per_day(cal):
    assert cal.working_seconds_per_day == 8 * 3600
    assert WorkCalendar(working_hours="09:00-12:00,13:30-17:30").working_seconds_per_day == 7 * 3600
    assert (
        WorkCalendar(working_hours=parse_working_hours("08:30-12:00")).working_seconds_per_day
        == 12600
    )


# ---------------------------------------------------------------------------
# Day status
# ---------------------------------------------------------------------------


def test_official_days(cal):
    assert cal.day(date(2026, 2, 14)) == DayInfo(
        date(2026, 2, 14), True, "official", "Spring Festival"
    )
    assert cal.day(date(2026, 2, 16)) == DayInfo(
        date(2026, 2, 16), False, "official", "Spring Festival"
    )
    assert cal.day(date(2026, 3, 1)) == DayInfo(date(2026, 3, 1), False, "official", None)
    assert cal.day(date(2026, 3, 2)) == DayInfo(date(2026, 3, 2), True, "official", None)
    assert cal.day(date(2025, 10, 6)).name == "Mid-autumn Festival"  # inside the National Day block
    assert cal.is_workday(date(2025, 10, 11)) is True  # make-up Saturday
    assert cal.is_workday(date(2025, 10, 8)) is False


@needs_no_2027_data
def test_provisional_2027(cal):
    expected_rest = {
        date(2027, 1, 1): "New Year's Day",  # Friday
        date(2027, 5, 1): "Labour Day",  # Saturday
        date(2027, 5, 2): "Labour Day",  # Sunday
        date(2027, 10, 1): "National Day",  # Friday
        date(2027, 10, 2): "National Day",
        date(2027, 10, 3): "National Day",
    }
    for d, name in expected_rest.items():
        assert cal.day(d) == DayInfo(d, False, "provisional", name)
    # weekends
    assert cal.day(date(2027, 1, 2)) == DayInfo(date(2027, 1, 2), False, "provisional", None)
    assert cal.day(date(2027, 1, 3)) == DayInfo(date(2027, 1, 3), False, "provisional", None)
    # ordinary weekdays, including ones that will certainly be lunar holidays once announced
    for d in [
        date(2027, 1, 4),
        date(2027, 5, 3),
        date(2027, 10, 4),
        date(2027, 10, 5),
        date(2027, 2, 8),
        date(2027, 2, 9),
    ]:
        assert d.weekday() < 5
        assert cal.day(d) == DayInfo(d, True, "provisional", None)


@pytest.mark.parametrize("year", [2003, 2099])
def test_provisional_outside_library_range(cal, year):
    jan1 = date(year, 1, 1)
    assert cal.day(jan1).source == "provisional"
    assert cal.day(jan1).is_workday is False
    d = date(year, 3, 3)
    assert cal.day(d).source == "provisional"
    assert cal.is_workday(d) is (d.weekday() < 5)


def test_override_beats_official_and_provisional():
    cal = WorkCalendar(
        overrides={
            date(2026, 3, 4): (False, "Local festival"),  # Wednesday
            date(2026, 3, 8): (True, "Make-up day"),  # Sunday
            date(2026, 2, 14): (False, None),  # official make-up Saturday turned into rest
            date(2027, 2, 8): (False, "Spring Festival"),  # admin loads the 2027 schedule
        }
    )
    assert cal.day(date(2026, 3, 4)) == DayInfo(
        date(2026, 3, 4), False, "override", "Local festival"
    )
    assert cal.day(date(2026, 3, 8)) == DayInfo(date(2026, 3, 8), True, "override", "Make-up day")
    assert cal.day(date(2026, 2, 14)) == DayInfo(date(2026, 2, 14), False, "override", None)
    assert cal.day(date(2027, 2, 8)).source == "override"
    assert cal.is_workday(date(2027, 2, 8)) is False
    # untouched days keep their source
    assert cal.day(date(2026, 3, 5)).source == "official"


def test_override_validation():
    with pytest.raises(ValueError, match="datetime.date"):
        WorkCalendar(overrides={datetime(2026, 3, 4, tzinfo=SH): (False, None)})
    with pytest.raises(ValueError, match="is_workday"):
        WorkCalendar(overrides={date(2026, 3, 4): ("no", None)})
    with pytest.raises(ValueError, match="is_workday"):
        WorkCalendar(overrides={date(2026, 3, 4): (False,)})
    # a bare bool is accepted as (bool, None)
    assert WorkCalendar(overrides={date(2026, 3, 4): False}).day(date(2026, 3, 4)) == DayInfo(
        date(2026, 3, 4), False, "override", None
    )


def test_day_accepts_aware_datetime_as_local_day(cal):
    # 2025-12-31 17:00Z is 2026-01-01 01:00 in Beijing: New Year's Day
    info = cal.day(datetime(2025, 12, 31, 17, tzinfo=UTC))
    assert info.day == date(2026, 1, 1)
    assert info.is_workday is False
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.day(datetime(2026, 1, 1, 10))
    with pytest.raises(TypeError):
        cal.day("2026-01-01")  # type: ignore[arg-type]


def test_day_lookups_are_cached(monkeypatch):
    calls = []
    real = cc.get_holiday_detail

    def counting(d):
        calls.append(d)
        return real(d)

    workcal._official.cache_clear()
    monkeypatch.setattr(cc, "get_holiday_detail", counting)
    try:
        cal = WorkCalendar()
        first = cal.day(date(2026, 5, 6))
        for _ in range(100):
            assert cal.day(date(2026, 5, 6)) is first
        # a second calendar shares the library cache
        WorkCalendar().day(date(2026, 5, 6))
        for _ in range(10):
            cal.add(L(2026, 5, 6, 9), 3, WD)
        assert calls.count(date(2026, 5, 6)) == 1
        assert len(calls) == len(set(calls))
    finally:
        workcal._official.cache_clear()


# ---------------------------------------------------------------------------
# Continuous units
# ---------------------------------------------------------------------------


def test_urgent_hours_run_through_nights_and_holidays(cal):
    # Friday before the 2026 Spring Festival, 20:00 + 10 urgent hours
    end = cal.add(L(2026, 2, 13, 20), 10, UH)
    assert end == L(2026, 2, 14, 6)
    assert_utc(end)
    assert cal.add(L(2026, 2, 15, 23), 1.5, "urgent_hours") == L(2026, 2, 16, 0, 30)
    assert cal.elapsed(L(2026, 2, 13, 20), L(2026, 2, 14, 6), UH) == 10.0


def test_calendar_days(cal):
    assert cal.add(L(2026, 9, 30, 10), 1, CD) == L(2026, 10, 1, 10)
    assert cal.add(L(2026, 9, 30, 10), Decimal("0.5"), CD) == L(2026, 9, 30, 22)
    assert cal.add(L(2026, 11, 15, 9), 60, CD) == L(2027, 1, 14, 9)
    assert cal.elapsed(L(2026, 11, 15, 9), L(2027, 1, 14, 21), CD) == 60.5


# ---------------------------------------------------------------------------
# WORK_HOURS
# ---------------------------------------------------------------------------


def test_work_hours_end_of_period_stays(cal):
    # Tuesday 2026-03-03
    assert cal.add(L(2026, 3, 3, 8), 4, WH) == L(2026, 3, 3, 12)
    assert cal.add(L(2026, 3, 3, 8), 8, WH) == L(2026, 3, 3, 18)
    assert cal.add(L(2026, 3, 3, 11), 2, WH) == L(2026, 3, 3, 15)
    assert cal.add(L(2026, 3, 3, 9, 15), 1.5, WH) == L(2026, 3, 3, 10, 45)


@pytest.mark.parametrize(
    "start, amount, expected",
    [
        (L(2026, 3, 3, 22), 2, L(2026, 3, 4, 10)),  # night
        (L(2026, 3, 4, 3), 2, L(2026, 3, 4, 10)),  # small hours
        (L(2026, 3, 3, 12, 30), 1, L(2026, 3, 3, 15)),  # lunch
        (L(2026, 3, 3, 12), 0.25, L(2026, 3, 3, 14, 15)),  # exactly at end of morning
        (L(2026, 3, 3, 18), 0.5, L(2026, 3, 4, 8, 30)),  # exactly at end of day
        (L(2026, 3, 7, 10), 4, L(2026, 3, 9, 12)),  # Saturday
        (L(2026, 3, 8, 23, 59), 8, L(2026, 3, 9, 18)),  # Sunday night
        (L(2026, 3, 6, 17, 30), 1, L(2026, 3, 9, 8, 30)),  # Friday evening
    ],
)
def test_work_hours_start_outside_working_time(cal, start, amount, expected):
    assert cal.add(start, amount, WH) == expected


def test_work_hours_before_2026_spring_festival_counts_makeup_saturday(cal):
    # Fri 2026-02-13 16:00 + 4 h: 2 h on Friday, then the make-up Saturday 2026-02-14
    assert cal.add(L(2026, 2, 13, 16), 4, WH) == L(2026, 2, 14, 10)
    # Make-up Saturday 17:00 + 4 h: 1 h, then Feb 15-23 is holiday -> Tue Feb 24 11:00
    assert cal.add(L(2026, 2, 14, 17), 4, WH) == L(2026, 2, 24, 11)


def test_work_hours_across_2025_national_day(cal):
    # Tue 2025-09-30 15:00 + 8 h: 3 h, Oct 1-8 off, Thu Oct 9 08-12 + 14-15
    assert cal.add(L(2025, 9, 30, 15), 8, WH) == L(2025, 10, 9, 15)
    # start in the middle of the holiday
    assert cal.add(L(2025, 10, 3, 10), 1, WH) == L(2025, 10, 9, 9)


# ---------------------------------------------------------------------------
# WORK_DAYS
# ---------------------------------------------------------------------------


def test_work_days_basic(cal):
    assert cal.add(L(2026, 3, 3, 10), 1, WD) == L(2026, 3, 4, 10)  # Tue -> Wed
    assert cal.add(L(2026, 3, 6, 17), 1, WD) == L(2026, 3, 9, 17)  # Fri -> Mon
    assert cal.add(L(2026, 3, 3, 8), 0.5, WD) == L(2026, 3, 3, 12)
    assert cal.add(L(2026, 3, 3, 8), 1, WD) == L(2026, 3, 3, 18)  # a full day ends that evening
    assert cal.add(L(2026, 3, 7, 9), 2, "work_days") == L(2026, 3, 10, 18)  # from Saturday


def test_work_days_before_2025_spring_festival(cal):
    # Mon 2025-01-27 10:00 + 2 wd: 6 h Monday, Jan 28 - Feb 4 off, 8 h Wed Feb 5, 2 h Thu Feb 6
    assert cal.add(L(2025, 1, 27, 10), 2, WD) == L(2025, 2, 6, 10)
    # the day before the holiday, late: lands on the first day after it
    assert cal.add(L(2025, 1, 27, 17), 1, WD) == L(2025, 2, 5, 17)


def test_work_days_counts_makeup_saturday_2025(cal):
    # Fri 2025-02-07 10:00 + 1 wd -> the make-up Saturday Feb 8, not Monday Feb 10
    assert cal.add(L(2025, 2, 7, 10), 1, WD) == L(2025, 2, 8, 10)
    plain = WorkCalendar(overrides={date(2025, 2, 8): (False, None)})
    assert plain.add(L(2025, 2, 7, 10), 1, WD) == L(2025, 2, 10, 10)


def test_work_days_around_2025_national_day(cal):
    # Fri 2025-09-26 10:00 + 2 wd: 6 h Fri, Sat off, make-up Sun Sep 28 8 h, Mon 2 h
    assert cal.add(L(2025, 9, 26, 10), 2, WD) == L(2025, 9, 29, 10)
    # Tue 2025-09-30 10:00 + 3 wd: 6 h, Oct 1-8 off, Oct 9 8 h, Oct 10 8 h, make-up Sat Oct 11 2 h
    assert cal.add(L(2025, 9, 30, 10), 3, WD) == L(2025, 10, 11, 10)


def test_work_days_around_2026_mid_autumn_and_national_day(cal):
    # Thu 2026-09-24 10:00 + 2 wd: 6 h, Sep 25-27 Mid-autumn off, Mon 28 8 h, Tue 29 2 h
    assert cal.add(L(2026, 9, 24, 10), 2, WD) == L(2026, 9, 29, 10)
    # Wed 2026-09-30 17:00 + 1 wd: 1 h, Oct 1-7 off, Thu Oct 8 7 h
    assert cal.add(L(2026, 9, 30, 17), 1, WD) == L(2026, 10, 8, 17)
    # Fri 2026-09-18 17:00 + 1 wd -> make-up Sunday Sep 20 17:00
    assert cal.add(L(2026, 9, 18, 17), 1, WD) == L(2026, 9, 20, 17)


def test_work_days_before_2026_spring_festival(cal):
    # Fri 2026-02-13 10:00 + 2 wd: 6 h, make-up Sat Feb 14 8 h, Feb 15-23 off, Tue Feb 24 2 h
    assert cal.add(L(2026, 2, 13, 10), 2, WD) == L(2026, 2, 24, 10)


@needs_no_2027_data
def test_work_days_run_past_library_data_into_2027(cal):
    # Wed 2026-12-30 10:00 + 5 wd: Dec 30 6 h, Dec 31 8 h, Jan 1 2027 (provisional holiday),
    # Jan 2-3 weekend, Jan 4/5/6 8 h each, Thu Jan 7 2 h
    assert cal.day(date(2026, 12, 30)).source == "official"
    assert cal.day(date(2027, 1, 1)).source == "provisional"
    end = cal.add(L(2026, 12, 30, 10), 5, WD)
    assert end == L(2027, 1, 7, 10)
    assert_utc(end)
    assert cal.add(L(2026, 12, 30, 8), 5, WD) == L(2027, 1, 6, 18)
    assert cal.elapsed(L(2026, 12, 30, 10), L(2027, 1, 7, 10), WD) == 5.0


@needs_no_2027_data
def test_admin_loaded_2027_schedule_changes_deadline():
    # An admin loads a (hypothetical) announced schedule: Mon Jan 4 off, Sat Jan 9 worked.
    cal = WorkCalendar(
        overrides={date(2027, 1, 4): (False, "New Year's Day"), date(2027, 1, 9): (True, None)}
    )
    # Thu 2026-12-31 10:00 + 5 wd: 6 h, Jan 5-8 (4 x 8 h = 32), Sat Jan 9 2 h
    assert cal.add(L(2026, 12, 31, 10), 5, WD) == L(2027, 1, 9, 10)
    assert WorkCalendar().add(L(2026, 12, 31, 10), 5, WD) == L(2027, 1, 8, 10)


def test_override_weekday_holiday_and_sunday_workday():
    base = WorkCalendar()
    cal = WorkCalendar(
        overrides={
            date(2026, 3, 4): (False, "Local festival"),
            date(2026, 3, 8): (True, "Make-up day"),
        }
    )
    # Tue 10:00 + 1 wd: Wed 10:00 normally, Thu 10:00 when Wednesday is off
    assert base.add(L(2026, 3, 3, 10), 1, WD) == L(2026, 3, 4, 10)
    assert cal.add(L(2026, 3, 3, 10), 1, WD) == L(2026, 3, 5, 10)
    # Fri 17:00 + 1 wd: Mon 17:00 normally, Sun 17:00 when Sunday is worked
    assert base.add(L(2026, 3, 6, 17), 1, WD) == L(2026, 3, 9, 17)
    assert cal.add(L(2026, 3, 6, 17), 1, WD) == L(2026, 3, 8, 17)
    # elapsed agrees
    assert cal.elapsed(L(2026, 3, 3, 8), L(2026, 3, 9, 18), WD) == 5.0  # Tue, Thu, Fri, Sun, Mon
    assert base.elapsed(L(2026, 3, 3, 8), L(2026, 3, 9, 18), WD) == 5.0  # Tue, Wed, Thu, Fri, Mon
    assert cal.elapsed(L(2026, 3, 4, 8), L(2026, 3, 4, 18), WH) == 0.0
    assert cal.elapsed(L(2026, 3, 8, 8), L(2026, 3, 8, 18), WH) == 8.0


def test_custom_working_hours_define_the_work_day():
    cal = WorkCalendar(working_hours="09:00-12:00,13:30-17:30")  # 7 h
    assert cal.add(L(2026, 3, 3, 9), 1, WD) == L(2026, 3, 3, 17, 30)
    assert cal.add(L(2026, 3, 3, 10), 1, WD) == L(2026, 3, 4, 10)
    assert cal.add(L(2026, 3, 3, 12, 15), 1, WH) == L(2026, 3, 3, 14, 30)
    assert cal.elapsed(L(2026, 3, 3, 9), L(2026, 3, 4, 12), WD) == pytest.approx(10 / 7)


# ---------------------------------------------------------------------------
# Long spans (loop by day) checked against an independent count with chinese_calendar
# ---------------------------------------------------------------------------


def nth_workday(start: date, n: int) -> date:
    d, seen = start, 0
    while True:
        if cc.is_workday(d):
            seen += 1
            if seen == n:
                return d
        d += timedelta(days=1)


@pytest.mark.parametrize(
    "start", [date(2025, 1, 6), date(2025, 9, 15), date(2026, 1, 5), date(2026, 9, 14)]
)
def test_twenty_work_days_matches_library_count(cal, start):
    assert cc.is_workday(start)
    expected_day = nth_workday(start, 20)
    assert cal.add(L(start.year, start.month, start.day, 8), 20, WD) == L(
        expected_day.year, expected_day.month, expected_day.day, 18
    )
    # and 20.5 work days from 08:00 is 12:00 on the 21st work day
    d21 = nth_workday(start, 21)
    assert cal.add(L(start.year, start.month, start.day, 8), 20.5, WD) == L(
        d21.year, d21.month, d21.day, 12
    )


def test_long_spans(cal):
    end = cal.add(L(2026, 1, 5, 9), 250, WD)
    assert cal.elapsed(L(2026, 1, 5, 9), end, WD) == 250.0
    assert cal.add(L(2026, 1, 5, 9), 60, CD) == L(2026, 3, 6, 9)
    assert cal.elapsed(L(2025, 1, 1), L(2026, 12, 31), WH) > 0


def test_elapsed_over_2026_spring_festival(cal):
    # Feb 13 (Fri), Feb 14 (make-up Sat), then Feb 24: 3 work days
    assert cal.elapsed(L(2026, 2, 13, 8), L(2026, 2, 24, 18), WD) == 3.0
    assert cal.elapsed(L(2026, 2, 13, 8), L(2026, 2, 24, 18), WH) == 24.0
    assert cal.elapsed(L(2026, 2, 14, 18), L(2026, 2, 24, 8), WH) == 0.0
    assert cal.elapsed(L(2026, 2, 13, 8), L(2026, 2, 24, 18), CD) == pytest.approx(11 + 10 / 24)


# ---------------------------------------------------------------------------
# elapsed basics and argument checking
# ---------------------------------------------------------------------------


def test_elapsed_zero_when_end_not_after_start(cal):
    for unit in TimeUnit:
        assert cal.elapsed(L(2026, 3, 3, 10), L(2026, 3, 3, 10), unit) == 0.0
        assert cal.elapsed(L(2026, 3, 3, 10), L(2026, 3, 2, 10), unit) == 0.0


def test_elapsed_partial(cal):
    assert cal.elapsed(L(2026, 3, 3, 10), L(2026, 3, 3, 15), WH) == 3.0
    assert cal.elapsed(L(2026, 3, 3, 10), L(2026, 3, 3, 15), WD) == 3 / 8
    assert cal.elapsed(L(2026, 3, 3, 10), L(2026, 3, 3, 15), UH) == 5.0
    assert cal.working_time_between(L(2026, 3, 3, 10), L(2026, 3, 3, 15)) == timedelta(hours=3)


def test_end_at_start_of_a_period_is_not_recovered_by_add(cal):
    # documented: 'inside working time' means period_start < t <= period_end
    used = cal.elapsed(L(2026, 3, 3, 10), L(2026, 3, 4, 8), WH)
    assert used == 6.0
    assert cal.add(L(2026, 3, 3, 10), used, WH) == L(2026, 3, 3, 18)


def test_zero_amount_returns_start(cal):
    for unit in TimeUnit:
        out = cal.add(L(2026, 3, 7, 10), 0, unit)  # Saturday
        assert out == L(2026, 3, 7, 10)
        assert_utc(out)


@pytest.mark.parametrize(
    "amount", [-1, -0.5, Decimal("-0.01"), float("nan"), float("inf"), Decimal("NaN")]
)
def test_bad_amounts(cal, amount):
    with pytest.raises(ValueError):
        cal.add(L(2026, 3, 3, 10), amount, WH)


def test_amount_types(cal):
    start = L(2026, 3, 3, 8)
    assert cal.add(start, Decimal("1.5"), WH) == cal.add(start, 1.5, WH) == L(2026, 3, 3, 9, 30)
    assert cal.add(start, 0.1, WH) == L(2026, 3, 3, 8, 6)  # float 0.1 means 0.1 exactly
    with pytest.raises(TypeError):
        cal.add(start, "1", WH)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cal.add(start, True, WH)


def test_unit_as_string_and_unknown(cal):
    assert cal.add(L(2026, 3, 3, 8), 1, "work_days") == L(2026, 3, 3, 18)
    with pytest.raises(ValueError, match="unknown time unit"):
        cal.add(L(2026, 3, 3, 8), 1, "fortnights")
    with pytest.raises(ValueError, match="unknown time unit"):
        cal.elapsed(L(2026, 3, 3, 8), L(2026, 3, 4, 8), "minutes")


def test_naive_datetimes_rejected(cal):
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add(datetime(2026, 3, 3, 8), 1, WH)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.elapsed(L(2026, 3, 3, 8), datetime(2026, 3, 3, 9), WH)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.elapsed(datetime(2026, 3, 3, 8), L(2026, 3, 3, 9), UH)
    with pytest.raises(TypeError):
        cal.add(date(2026, 3, 3), 1, WH)  # type: ignore[arg-type]


def test_unknown_tz():
    with pytest.raises(ValueError, match="unknown time zone"):
        WorkCalendar(tz="Mars/Olympus")


# ---------------------------------------------------------------------------
# Time zones
# ---------------------------------------------------------------------------


def test_results_are_utc_and_inputs_in_any_zone(cal):
    # 2026-03-03 00:00Z is 08:00 in Beijing
    end = cal.add(datetime(2026, 3, 3, 0, tzinfo=UTC), 4, WH)
    assert end.tzinfo is UTC
    assert end == datetime(2026, 3, 3, 4, tzinfo=UTC)
    # same instant expressed in New York (19:00 EST the evening before)
    ny = datetime(2026, 3, 3, 0, tzinfo=UTC).astimezone(ZoneInfo("America/New_York"))
    assert ny.day == 2
    assert cal.add(ny, 4, WH) == end
    # a UTC evening is already the next Beijing morning: 2026-03-02 23:30Z = 03-03 07:30 local
    assert cal.add(datetime(2026, 3, 2, 23, 30, tzinfo=UTC), 1, WH) == L(2026, 3, 3, 9)


def test_shanghai_offset_constant_all_year(cal):
    # no DST in Asia/Shanghai: 08:00 local is 00:00Z in winter and in summer
    for m, d in [(1, 6), (4, 7), (7, 7), (11, 3)]:
        start = datetime(2026, m, d, 0, tzinfo=UTC)
        assert cal.is_workday(date(2026, m, d))
        assert cal.add(start, 8, WH) == datetime(2026, m, d, 10, tzinfo=UTC)


def test_dst_zone_uses_wall_clock_hours():
    # Not needed for Shanghai, but the arithmetic works per local day in any zone.
    berlin = ZoneInfo("Europe/Berlin")
    cal = WorkCalendar(tz="Europe/Berlin", working_hours="09:00-17:00")
    # Fri 2026-03-27 16:00 CET + 2 work hours -> Mon 2026-03-30 10:00 CEST (DST started Sunday)
    end = cal.add(datetime(2026, 3, 27, 16, tzinfo=berlin), 2, WH)
    assert end == datetime(2026, 3, 30, 10, tzinfo=berlin)
    assert end == datetime(2026, 3, 30, 8, tzinfo=UTC)
    assert cal.elapsed(datetime(2026, 3, 27, 16, tzinfo=berlin), end, WH) == 2.0
    # a worked DST-change Sunday with a period spanning the gap is one hour shorter
    night = WorkCalendar(
        tz="Europe/Berlin", working_hours="01:00-04:00", overrides={date(2026, 3, 29): (True, None)}
    )
    assert (
        night.elapsed(
            datetime(2026, 3, 29, 0, tzinfo=berlin), datetime(2026, 3, 29, 5, tzinfo=berlin), WH
        )
        == 2.0
    )
