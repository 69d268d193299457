"""Work calendar: which days are worked, and deadline arithmetic in the four time units.

Pure module (standard library + ``chinese_calendar``); no Flask, no database.

Day status
----------
A day's status (:class:`DayInfo`) is decided in this order:

1. ``override`` - an entry in the calendar's ``overrides`` mapping (loaded by an admin,
   e.g. the next year's State Council schedule before the library has it, or a local
   deviation). ``True`` means workday.
2. ``official`` - ``chinese_calendar`` when it has data for that year. It knows the public
   holidays *and* the make-up working weekends (调休). For a make-up working day the
   ``name`` is the holiday it makes up for (e.g. a working Saturday named "Spring Festival").
3. ``provisional`` - the library raises ``NotImplementedError`` for years it does not know
   (1.11.0 knows 2004-2026). Then: Saturdays and Sundays are rest days, plus the fixed-date
   holidays New Year's Day (Jan 1), Labour Day (May 1-2) and National Day (Oct 1-3);
   everything else is a workday. Lunar holidays (Spring Festival, Dragon Boat, Mid-autumn)
   and Tomb-sweeping Day are deliberately *not* guessed: their dates move every year and the
   surrounding make-up working days are only known when the State Council announces the
   schedule, so a guess would be wrong about both rest days and working weekends. Admins
   load the announced schedule as overrides instead.

Day lookups are cached (a module-level cache for the library, a per-calendar cache for the
final :class:`DayInfo`), because deadline arithmetic consults the calendar once per day.

Time units
----------
``URGENT_HOURS`` (紧急工作时)
    ``amount`` hours of continuous time; nights, weekends and holidays included.
``CALENDAR_DAYS`` (自然日)
    ``amount * 24`` hours of continuous time.
``WORK_HOURS`` (工作时)
    ``amount`` hours counted only inside the working periods (local wall-clock times in the
    calendar's ``tz``, default 08:00-12:00 and 14:00-18:00) of workdays.
``WORK_DAYS`` (工作日)
    One work day is *the length of one day's working periods* (8 h with the default hours),
    counted in working time exactly like ``WORK_HOURS``. So 1 work day from Tuesday 10:00 is
    Wednesday 10:00, and from Friday 17:00 it is 17:00 on the next workday. This makes a
    work-day deadline, :meth:`WorkCalendar.elapsed` and the "percentage of the limit used"
    (warning lights) consistent with each other and with fractional limits (0.5 work day =
    4 working hours), instead of a "by end of the N-th day" rule whose percentage would jump.

Deadlines (:meth:`WorkCalendar.add`) are the *earliest* instant ``t >= start`` such that the
amount of the unit used between ``start`` and ``t`` equals ``amount``. Consequences:

* if ``start`` lies outside working time, the working clock starts at the next working
  period (for ``amount > 0``);
* a deadline landing exactly at the end of a period stays there (4 working hours from 08:00
  is 12:00 the same day, not 14:00);
* ``amount == 0`` returns ``start`` itself (in UTC).

:meth:`WorkCalendar.elapsed` is the inverse: ``add(start, elapsed(start, end, u), u) == end``
whenever ``end`` is in working time, i.e. ``period_start < end <= period_end`` for some
working period of a workday (always, for the continuous units). Arithmetic is exact to the
microsecond (amounts go through ``Decimal``; time is summed as integer microseconds).

Time zones
----------
Datetimes in and out are timezone-aware (naive input raises ``ValueError``); results are
returned in UTC. Working periods are wall-clock times in ``tz`` and are converted to instants
day by day, so zones with daylight saving work too (a period cut by a DST change is simply
shorter or longer that day). Asia/Shanghai has had no DST since 1991.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

__all__ = [
    "DayInfo",
    "TimeUnit",
    "WorkCalendar",
    "DEFAULT_WORKING_HOURS",
    "parse_working_hours",
]


class TimeUnit(StrEnum):
    URGENT_HOURS = "urgent_hours"  # 紧急工作时: continuous hours, nights and holidays included
    WORK_HOURS = "work_hours"  # 工作时: working hours only
    WORK_DAYS = "work_days"  # 工作日: one day's worth of working hours, counted in working time
    CALENDAR_DAYS = "calendar_days"  # 自然日: 24 h of continuous time


@dataclass(frozen=True)
class DayInfo:
    day: date
    is_workday: bool
    source: str  # "override" | "official" | "provisional"
    name: str | None  # holiday name if known (for a make-up workday: the holiday it makes up for)


SOURCE_OVERRIDE = "override"
SOURCE_OFFICIAL = "official"
SOURCE_PROVISIONAL = "provisional"

# Fixed-date holidays used by the provisional rule (names as chinese_calendar spells them).
_FIXED_HOLIDAYS: dict[tuple[int, int], str] = {
    (1, 1): "New Year's Day",
    (5, 1): "Labour Day",
    (5, 2): "Labour Day",
    (10, 1): "National Day",
    (10, 2): "National Day",
    (10, 3): "National Day",
}

_US = 1_000_000  # microseconds per second
_HOUR_US = 3600 * _US
_DAY_US = 24 * _HOUR_US
_ONE_DAY = timedelta(days=1)

# ---------------------------------------------------------------------------
# Working hours
# ---------------------------------------------------------------------------

_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_PERIOD_SPLIT_RE = re.compile(r"\s*[-~～–]\s*")


def _parse_time(text: str, whole: str) -> time:
    m = _TIME_RE.match(text.strip())
    if not m:
        raise ValueError(f"working hours {whole!r}: {text.strip()!r} is not a HH:MM time")
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"working hours {whole!r}: {text.strip()!r} is not a valid time of day")
    return time(hour, minute)


def _validate_periods(periods, whole: str) -> tuple[tuple[time, time], ...]:
    result: list[tuple[time, time]] = []
    for item in periods:
        try:
            start, end = item
        except (TypeError, ValueError):
            raise ValueError(
                f"working hours {whole!r}: each period must be a (start, end) pair"
            ) from None
        if not isinstance(start, time) or not isinstance(end, time):
            raise ValueError(f"working hours {whole!r}: period bounds must be datetime.time")
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(
                f"working hours {whole!r}: times must be naive wall-clock times "
                "(the calendar's tz applies)"
            )
        if start.microsecond or end.microsecond:
            raise ValueError(f"working hours {whole!r}: sub-second times are not supported")
        if end <= start:
            raise ValueError(
                f"working hours {whole!r}: period {start:%H:%M}-{end:%H:%M} must end after it "
                "starts (periods cannot cross midnight)"
            )
        if result:
            prev_start, prev_end = result[-1]
            if start < prev_start:
                raise ValueError(
                    f"working hours {whole!r}: periods must be in chronological order "
                    f"({start:%H:%M} comes after {prev_start:%H:%M})"
                )
            if start < prev_end:
                raise ValueError(
                    f"working hours {whole!r}: period {start:%H:%M}-{end:%H:%M} overlaps "
                    f"{prev_start:%H:%M}-{prev_end:%H:%M}"
                )
        result.append((start, end))
    if not result:
        raise ValueError(f"working hours {whole!r}: at least one period is required")
    return tuple(result)


def parse_working_hours(text: str) -> tuple[tuple[time, time], ...]:
    """Parse ``"08:00-12:00,14:00-18:00"`` into ``((time(8), time(12)), (time(14), time(18)))``.

    Periods are separated by ``,`` (or ``，``/``;``), bounds by ``-`` (or ``~``). Periods must
    be non-empty, within one day, in chronological order and must not overlap (touching is
    allowed). Raises ``ValueError`` with a message naming the problem.
    """
    if not isinstance(text, str):
        raise ValueError(
            f"working hours must be a string like '08:00-12:00,14:00-18:00', got {text!r}"
        )
    whole = text
    if not text.strip():
        raise ValueError("working hours: empty string, expected e.g. '08:00-12:00,14:00-18:00'")
    periods = []
    for chunk in re.split(r"[,，;]", text):
        chunk = chunk.strip()
        if not chunk:
            raise ValueError(f"working hours {whole!r}: empty period (stray separator?)")
        bounds = _PERIOD_SPLIT_RE.split(chunk)
        if len(bounds) != 2:
            raise ValueError(f"working hours {whole!r}: {chunk!r} is not a 'HH:MM-HH:MM' period")
        periods.append((_parse_time(bounds[0], whole), _parse_time(bounds[1], whole)))
    return _validate_periods(periods, whole)


DEFAULT_WORKING_HOURS = parse_working_hours("08:00-12:00,14:00-18:00")

# ---------------------------------------------------------------------------
# Day status
# ---------------------------------------------------------------------------


@lru_cache(maxsize=32768)
def _official(d: date) -> tuple[bool, str | None] | None:
    """(is_workday, name) from chinese_calendar, or None when it has no data for that year.

    Cached at module level: the library re-scans its whole holiday table (min/max year) on
    every call.
    """
    try:
        is_holiday, name = chinese_calendar.get_holiday_detail(d)
    except NotImplementedError:
        return None
    return (not is_holiday, name)


def _provisional(d: date) -> tuple[bool, str | None]:
    name = _FIXED_HOLIDAYS.get((d.month, d.day))
    if name is not None:
        return (False, name)
    return (d.weekday() < 5, None)


def _check_aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def _to_decimal(amount) -> Decimal:
    if isinstance(amount, bool):
        raise TypeError("amount must be a number, not a bool")
    if isinstance(amount, Decimal):
        dec = amount
    elif isinstance(amount, int):
        dec = Decimal(amount)
    elif isinstance(amount, float):
        # repr() is the shortest decimal that round-trips, so 0.1 means 0.1, not 0.1000000000000000055.
        dec = Decimal(repr(amount))
    elif isinstance(amount, Fraction):
        dec = Decimal(amount.numerator) / Decimal(amount.denominator)
    else:
        raise TypeError(f"amount must be int, float or Decimal, got {type(amount).__name__}")
    if not dec.is_finite():
        raise ValueError(f"amount must be finite, got {amount!r}")
    if dec < 0:
        raise ValueError(f"amount must be >= 0, got {amount!r}")
    return dec


class WorkCalendar:
    """A working calendar: official Chinese schedule + local overrides + working hours."""

    def __init__(
        self,
        *,
        tz: str | tzinfo = "Asia/Shanghai",
        working_hours: tuple[tuple[time, time], ...] | str = DEFAULT_WORKING_HOURS,
        overrides: Mapping[date, tuple[bool, str | None]] | None = None,
    ) -> None:
        if isinstance(tz, str):
            try:
                self._zone: tzinfo = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {tz!r}") from exc
        elif isinstance(tz, tzinfo):
            self._zone = tz
        else:
            raise ValueError(f"tz must be an IANA zone name, got {tz!r}")
        self.tz = str(tz) if isinstance(tz, str) else getattr(tz, "key", str(tz))

        if isinstance(working_hours, str):
            self.working_hours = parse_working_hours(working_hours)
        else:
            self.working_hours = _validate_periods(working_hours, repr(working_hours))
        self._day_us = sum(_time_us(end) - _time_us(start) for start, end in self.working_hours)

        self._overrides: dict[date, tuple[bool, str | None]] = {}
        for key, value in (overrides or {}).items():
            if not isinstance(key, date) or isinstance(key, datetime):
                raise ValueError(f"override keys must be datetime.date, got {key!r}")
            if isinstance(value, bool):
                value = (value, None)
            try:
                is_workday, name = value
            except (TypeError, ValueError):
                raise ValueError(
                    f"override for {key}: expected (is_workday, name), got {value!r}"
                ) from None
            if not isinstance(is_workday, bool) or not (name is None or isinstance(name, str)):
                raise ValueError(
                    f"override for {key}: expected (bool is_workday, str | None name), got {value!r}"
                )
            self._overrides[key] = (is_workday, name)

        self._day_cache = lru_cache(maxsize=16384)(self._compute_day)
        self._periods_cache = lru_cache(maxsize=16384)(self._compute_periods)
        self._day_work_us = lru_cache(maxsize=16384)(self._compute_day_work_us)
        self._year_us = lru_cache(maxsize=256)(self._compute_year_us)

    # -- properties --------------------------------------------------------

    @property
    def working_seconds_per_day(self) -> int:
        """Length of one day's working periods in seconds (28800 for the default hours)."""
        return self._day_us // _US

    @property
    def overrides(self) -> Mapping[date, tuple[bool, str | None]]:
        return dict(self._overrides)

    # -- days --------------------------------------------------------------

    def _compute_day(self, d: date) -> DayInfo:
        override = self._overrides.get(d)
        if override is not None:
            return DayInfo(d, override[0], SOURCE_OVERRIDE, override[1])
        official = _official(d)
        if official is not None:
            return DayInfo(d, official[0], SOURCE_OFFICIAL, official[1])
        is_workday, name = _provisional(d)
        return DayInfo(d, is_workday, SOURCE_PROVISIONAL, name)

    def _as_date(self, d: date) -> date:
        if isinstance(d, datetime):
            # An aware datetime means "the local day it falls on"; a naive one is ambiguous.
            return _check_aware(d, "day").astimezone(self._zone).date()
        if not isinstance(d, date):
            raise TypeError(f"expected a datetime.date, got {type(d).__name__}")
        return d

    def day(self, d: date) -> DayInfo:
        return self._day_cache(self._as_date(d))

    def is_workday(self, d: date) -> bool:
        return self.day(d).is_workday

    def _compute_periods(self, d: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's working periods as UTC instants (whether or not it is a workday)."""
        out = []
        for start, end in self.working_hours:
            s = datetime.combine(d, start, tzinfo=self._zone).astimezone(UTC)
            e = datetime.combine(d, end, tzinfo=self._zone).astimezone(UTC)
            if e > s:  # a period swallowed by a DST gap disappears that day
                out.append((s, e))
        return tuple(out)

    def _work_periods(self, d: date) -> tuple[tuple[datetime, datetime], ...]:
        if not self._day_cache(d).is_workday:
            return ()
        return self._periods_cache(d)

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self._zone).date()

    # -- arithmetic --------------------------------------------------------

    def _unit_us(self, unit: TimeUnit) -> int:
        if unit is TimeUnit.WORK_DAYS:
            return self._day_us
        if unit is TimeUnit.CALENDAR_DAYS:
            return _DAY_US
        return _HOUR_US

    @staticmethod
    def _unit(unit: TimeUnit | str) -> TimeUnit:
        try:
            return TimeUnit(unit)
        except ValueError:
            choices = ", ".join(u.value for u in TimeUnit)
            raise ValueError(f"unknown time unit {unit!r} (expected one of: {choices})") from None

    def add(self, start: datetime, amount: float | Decimal | int, unit: TimeUnit | str) -> datetime:
        """The deadline: ``amount`` of ``unit`` after ``start``, as an aware UTC datetime."""
        unit = self._unit(unit)
        start = _check_aware(start, "start")
        dec = _to_decimal(amount)
        us = int((dec * self._unit_us(unit)).to_integral_value(rounding=ROUND_HALF_EVEN))
        if unit in (TimeUnit.URGENT_HOURS, TimeUnit.CALENDAR_DAYS):
            return start + timedelta(microseconds=us)
        return self._add_working(start, us)

    def _add_working(self, start: datetime, us: int) -> datetime:
        if us == 0:
            return start
        remaining = timedelta(microseconds=us)
        d = self._local_date(start)
        for ps, pe in self._work_periods(d):
            if pe <= start:
                continue
            s = ps if ps > start else start
            available = pe - s
            if remaining <= available:
                return s + remaining
            remaining -= available
        # Every later day lies wholly after ``start``: skip whole years, then whole days, by
        # their working time alone, and build instants only on the day the deadline falls.
        d, left = self._skip_whole(d + _ONE_DAY, _td_us(remaining))
        remaining = timedelta(microseconds=left)
        for ps, pe in self._work_periods(d):
            available = pe - ps
            if remaining <= available:
                return ps + remaining
            remaining -= available
        raise AssertionError("unreachable: the day's working time covers the remainder")

    def _skip_whole(self, d: date, us: int) -> tuple[date, int]:
        """The first day from ``d`` on whose working time reaches the remaining ``us``, and what
        remains of ``us`` at its start."""
        while True:
            if d.month == 1 and d.day == 1:
                year_us = self._year_us(d.year)
                if us > year_us:
                    us -= year_us
                    d = date(d.year + 1, 1, 1)
                    continue
            day_us = self._day_work_us(d)
            if us <= day_us:
                return d, us
            us -= day_us
            d += _ONE_DAY

    def _compute_day_work_us(self, d: date) -> int:
        """The day's working time: the same sum as over :meth:`_work_periods`, from UTC offsets
        instead of building instants (a period's real length is its wall-clock length minus the
        change of offset within it)."""
        if not self._day_cache(d).is_workday:
            return 0
        total = 0
        for start, end in self.working_hours:
            off_s = datetime.combine(d, start, tzinfo=self._zone).utcoffset()
            off_e = datetime.combine(d, end, tzinfo=self._zone).utcoffset()
            length = _time_us(end) - _time_us(start) - _td_us(off_e - off_s)
            if length > 0:
                total += length
        return total

    def _compute_year_us(self, year: int) -> int:
        d, total = date(year, 1, 1), 0
        while d.year == year:
            total += self._day_work_us(d)
            d += _ONE_DAY
        return total

    def elapsed(self, start: datetime, end: datetime, unit: TimeUnit | str) -> float:
        """How much of ``unit`` was used between ``start`` and ``end`` (0 if ``end <= start``)."""
        unit = self._unit(unit)
        start = _check_aware(start, "start")
        end = _check_aware(end, "end")
        if end <= start:
            return 0.0
        if unit in (TimeUnit.URGENT_HOURS, TimeUnit.CALENDAR_DAYS):
            us = _td_us(end - start)
        else:
            us = self._working_us_between(start, end)
        return us / self._unit_us(unit)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two aware datetimes (zero if ``end <= start``)."""
        start = _check_aware(start, "start")
        end = _check_aware(end, "end")
        if end <= start:
            return timedelta(0)
        return timedelta(microseconds=self._working_us_between(start, end))

    def _working_us_between(self, start: datetime, end: datetime) -> int:
        first = self._local_date(start)
        last = self._local_date(end)
        total = self._working_us_on(first, start, end)
        if last == first:
            return total
        # Days strictly between lie wholly inside (start, end): count them whole.
        d = first + _ONE_DAY
        while d < last:
            if d.month == 1 and d.day == 1 and d.year < last.year:
                total += self._year_us(d.year)
                d = date(d.year + 1, 1, 1)
                continue
            total += self._day_work_us(d)
            d += _ONE_DAY
        return total + self._working_us_on(last, start, end)

    def _working_us_on(self, d: date, start: datetime, end: datetime) -> int:
        total = timedelta(0)
        for ps, pe in self._work_periods(d):
            s = ps if ps > start else start
            e = pe if pe < end else end
            if e > s:
                total += e - s
        return _td_us(total)


def _time_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US + t.microsecond


def _td_us(td: timedelta) -> int:
    return (td.days * 86400 + td.seconds) * _US + td.microseconds
