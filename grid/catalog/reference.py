"""Reference data every report and verb reads, cached in each process: the category catalog,
the responsibility matrix and the departments it names (id, code, name, kind), the time
limits and the work calendar's local overrides (``calendar_days``).

Versioned like the grid index (``grid.grids.locator``): database triggers on ``categories``,
``responsibilities`` and ``departments`` (migration 0017), ``time_limits`` and ``calendar_days``
(migration 0018) put a new random token into
``layer_versions['reference']`` in the transaction of any change, whoever makes it (the API,
a CLI command, plain SQL). A process compares that token with the one its cache was built
from at most every ``WANGGE_INDEX_CHECK_SECONDS`` (one indexed SELECT) and reloads when they
differ, so another process's change is seen within that interval. A change committed by this
process (an ORM flush touching those tables, or ``touched``) makes the next read check at
once. Each engine (each app) has its own cache, as each process has.

The cached rows are small frozen records (``CategoryInfo``, ``DepartmentInfo``, ``RuleInfo``,
``LimitInfo``), never ORM objects: nothing here can be attached to a session or lazy-load."""
from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field

from sqlalchemy import select

from grid.models import CalendarDay, Category, Department, LayerVersion, Responsibility, TimeLimit
from wangge.config import current_settings
from wangge.versioned_cache import ChangeWatch

LAYER = "reference"


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    code: str
    kind: str
    parent_code: str | None
    name_zh: str
    name_en: str | None
    auto_dispatch: bool
    active: bool


@dataclass(frozen=True, slots=True)
class DepartmentInfo:
    id: int
    code: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: int
    category_code: str
    grid_code: str
    department: DepartmentInfo
    note: str | None


@dataclass(frozen=True, slots=True)
class LimitInfo:
    category_code: str
    stage: str
    amount: float
    unit: str


@dataclass
class Reference:
    version: str
    categories: dict[str, CategoryInfo]
    rules: dict[tuple[str, str], RuleInfo]   # (category, grid code or '*') -> rule
    departments: dict[int, DepartmentInfo]
    checked_at: float
    limits: dict[tuple[str, str], LimitInfo] = field(default_factory=dict)  # (category or '*', stage)
    overrides: dict = field(default_factory=dict)   # calendar day -> (is_workday, name)
    # work calendars built over ``overrides``, by (time zone, working hours): each keeps its
    # day cache warm across requests
    calendars: dict = field(default_factory=dict)


_lock = threading.Lock()
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> Reference


def _engine(session):
    return session.get_bind().engine


def version(session) -> str:
    return session.scalar(select(LayerVersion.version).where(LayerVersion.name == LAYER)) or ""


def _load(session, token: str) -> Reference:
    departments = {d.id: DepartmentInfo(d.id, d.code, d.name, d.kind) for d in session.execute(
        select(Department.id, Department.code, Department.name, Department.kind))}
    categories = {c.code: CategoryInfo(c.code, c.kind, c.parent_code, c.name_zh, c.name_en, c.auto_dispatch, c.active)
                  for c in session.execute(select(Category.code, Category.kind, Category.parent_code, Category.name_zh,
                                                  Category.name_en, Category.auto_dispatch, Category.active))}
    rules = {(r.category_code, r.grid_code): RuleInfo(r.id, r.category_code, r.grid_code,
                                                      departments[r.department_id], r.note)
             for r in session.execute(select(Responsibility.id, Responsibility.category_code, Responsibility.grid_code,
                                             Responsibility.department_id, Responsibility.note))}
    limits = {(r.category_code, r.stage): LimitInfo(r.category_code, r.stage, r.amount, r.unit)
              for r in session.execute(select(TimeLimit.category_code, TimeLimit.stage, TimeLimit.amount,
                                              TimeLimit.unit))}
    overrides = {r.day: (r.is_workday, r.name)
                 for r in session.execute(select(CalendarDay.day, CalendarDay.is_workday, CalendarDay.name))}
    return Reference(token, categories, rules, departments, time.monotonic(), limits, overrides)


def current(session) -> Reference:
    """This process's reference data, reloaded when the version in the database moved."""
    engine = _engine(session)
    built = _cache.get(engine)
    now = time.monotonic()
    if built is not None and (now - built.checked_at < current_settings().index_check_seconds
                              or _WATCH.checked_in_this_transaction(session, built)):
        return built
    token = version(session)
    if built is not None and built.version == token:
        built.checked_at = now
        _WATCH.mark_checked(session, built)
        return built
    with _lock:
        built = _cache.get(engine)
        if built is None or built.version != token:
            built = _load(session, token)
            _cache[engine] = built
    _WATCH.mark_checked(session, built)
    return built


def category(session, code: str) -> CategoryInfo | None:
    return current(session).categories.get(code)


def rules_for(session, category_code: str, grid_codes) -> dict[str, RuleInfo]:
    """The matrix rules of a category on these grid codes (and ``'*'``), by grid code."""
    rules = current(session).rules
    return {code: rules[(category_code, code)] for code in grid_codes if (category_code, code) in rules}


def department(session, department_id: int | None) -> DepartmentInfo | None:
    return None if department_id is None else current(session).departments.get(department_id)


def limit(session, codes, stage: str) -> LimitInfo | None:
    """The first of ``codes`` (most specific first) with a limit for ``stage``."""
    limits = current(session).limits
    for code in codes:
        found = limits.get((code, stage))
        if found is not None:
            return found
    return None


def calendar_overrides(session) -> tuple[Reference, dict]:
    """(the reference data, the calendar's local overrides by day): build calendars in
    ``Reference.calendars`` so they go with the version they were built from."""
    built = current(session)
    return built, built.overrides


def recheck(session) -> None:
    """Make the next read of this engine's cache look at the version again."""
    built = _cache.get(_engine(session))
    if built is not None:
        built.checked_at = float("-inf")


def touched(session) -> None:
    """A change to the cached tables that the ORM does not see (a Core UPDATE or DELETE):
    recheck after this session commits. ORM changes are noticed on their own."""
    _WATCH.touched(session)


_CACHED = (Category, Department, Responsibility, TimeLimit, CalendarDay)
_WATCH = ChangeWatch("reference", recheck, watched=_CACHED, watched_new=_CACHED)
