"""Evaluation indicators (综合评价, docs/domain.md §4), computed from the event log and the
stage clocks: never from counters kept on cases. By default from the roll-up of facts kept
beside them (``dispatch.indicators.rollup``), or from scratch (``dispatch.indicators.scratch``),
with the same result.

``compute(session, start, end, by)`` answers one row per group (department, grid, worker or
category) with every numerator, denominator and ratio, and a composite score. The period is
the half-open UTC interval ``[start, end)``; only facts that happened before ``end`` are
used, so the report of a past period does not change when later events arrive (see
docs/indicators.md for the exact definition of every count and the one exception).
"""
from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select

from dispatch.indicators import rollup, scratch
from dispatch.indicators.definitions import GROUPS
from grid.models import GRID_LEVELS, Category, Department, Grid, Staff
from grid.patrol.service import period_figures as patrol_figures
from wangge.i18n import t
from wangge.timeutil import utcnow

FORMATS = ("json", "csv", "xlsx")
SOURCES = ("rollup", "scratch")

# Counts in every row, in column order. Each is a number of events, clocks or cases.
COUNTS = (
    "reports", "valid_reports",
    "opened", "opened_on_time", "voided", "opened_not_voided",
    "miss_opened", "missed",
    "verify_due", "verify_done", "verify_on_time",
    "dispatch_due", "dispatch_done", "dispatch_on_time",
    "dispatched", "returned", "return_accepted", "dispatched_not_returned",
    "check_due", "check_done", "check_on_time",
    "due_handling", "handled", "handled_on_time", "overdue_unhandled", "extended",
    "due_closing", "closed", "closed_on_time", "reworked",
    "rated", "satisfied", "basically_satisfied", "unsatisfied", "satisfied_or_basically",
    # patrols (grid.patrol), by worker and by grid only: seconds and metres on patrol, and the
    # area of the worker's grids within WANGGE_PATROL_COVERAGE_M of the track, summed over the
    # days they patrolled (m², rounded)
    "patrol_seconds", "patrol_distance_m", "patrol_covered_m2", "patrol_area_m2",
)

# ratio name -> (numerator, denominator, 中文)
RATIOS: dict[str, tuple[str, str, str]] = {
    "valid_report_rate": ("valid_reports", "reports", "有效上报率"),
    "miss_rate": ("missed", "miss_opened", "漏报率"),
    "on_time_verify_rate": ("verify_on_time", "verify_due", "按时核实率"),
    "on_time_check_rate": ("check_on_time", "check_due", "按时核查率"),
    "on_time_open_rate": ("opened_on_time", "opened", "按时立案率"),
    "accurate_open_rate": ("opened_not_voided", "opened", "准确立案率"),
    "on_time_dispatch_rate": ("dispatch_on_time", "dispatch_due", "按时派遣率"),
    "accurate_dispatch_rate": ("dispatched_not_returned", "dispatched", "准确派遣率"),
    "handling_rate": ("handled", "due_handling", "处置率"),
    "on_time_handling_rate": ("handled_on_time", "due_handling", "按期处置率"),
    "closing_rate": ("closed", "due_closing", "结案率"),
    "on_time_closing_rate": ("closed_on_time", "due_closing", "按期结案率"),
    "rework_rate": ("reworked", "due_closing", "返工率"),
    "overdue_unhandled_rate": ("overdue_unhandled", "due_handling", "超期待处置率"),
    "extension_rate": ("extended", "due_handling", "延期率"),
    "return_rate": ("returned", "dispatched", "退单率"),
    "satisfaction_rate": ("satisfied_or_basically", "rated", "满意率"),
    "patrol_coverage_rate": ("patrol_covered_m2", "patrol_area_m2", "巡查覆盖率"),
}


# --- composite scores ------------------------------------------------------------------

# Per group kind: "volume" gives up to ``points`` in proportion to ``count`` relative to the
# largest group; each other entry is a ratio times its weight, or (1 - ratio) times it when
# ``invert`` is set. Modelled on docs/domain.md §4: 10 for volume + closure rate x 30 + on-time
# handling x 30 + (1 - rework rate) x 30 for a department.
DEFAULT_WEIGHTS: dict[str, dict] = {
    "department": {"volume": {"count": "due_handling", "points": 10}, "closing_rate": 30,
                   "on_time_handling_rate": 30, "rework_rate": {"weight": 30, "invert": True}},
    "grid": {"volume": {"count": "reports", "points": 10}, "valid_report_rate": 30, "closing_rate": 30,
             "satisfaction_rate": 30},
    "worker": {"volume": {"count": "reports", "points": 10}, "valid_report_rate": 30,
               "on_time_verify_rate": 20, "on_time_check_rate": 20, "miss_rate": {"weight": 20, "invert": True}},
    "category": {"volume": {"count": "due_closing", "points": 10}, "closing_rate": 30,
                 "on_time_closing_rate": 30, "rework_rate": {"weight": 30, "invert": True}},
}


class WeightsError(ValueError):
    pass


@dataclass(frozen=True)
class Term:
    ratio: str
    weight: float
    invert: bool = False


@dataclass(frozen=True)
class Weights:
    volume_count: str | None
    volume_points: float
    terms: tuple[Term, ...]

    @property
    def maximum(self) -> float:
        return self.volume_points + sum(t.weight for t in self.terms)


def parse_weights(raw: str | dict | None) -> dict[str, Weights]:
    """Weights per group kind from ``WANGGE_KPI_WEIGHTS`` (JSON); kinds it leaves out keep
    the defaults. Unknown kinds, ratios or counts are errors, not silently ignored."""
    given = raw
    if isinstance(raw, str):
        if not raw.strip():
            given = {}
        else:
            try:
                given = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise WeightsError(f"WANGGE_KPI_WEIGHTS is not valid JSON: {exc}") from None
    given = given or {}
    if not isinstance(given, dict):
        raise WeightsError("WANGGE_KPI_WEIGHTS must be a JSON object keyed by group kind")
    unknown = set(given) - set(GROUPS)
    if unknown:
        raise WeightsError(f"unknown group kind(s) in WANGGE_KPI_WEIGHTS: {', '.join(sorted(unknown))}")
    return {kind: _parse_kind(kind, given.get(kind, DEFAULT_WEIGHTS[kind])) for kind in GROUPS}


def _parse_kind(kind: str, spec) -> Weights:
    if not isinstance(spec, dict):
        raise WeightsError(f"weights for {kind} must be an object")
    volume_count, volume_points, terms = None, 0.0, []
    for name, value in spec.items():
        if name == "volume":
            if not isinstance(value, dict) or value.get("count") not in COUNTS:
                raise WeightsError(f"{kind}.volume needs a count, one of: {', '.join(COUNTS)}")
            volume_count, volume_points = value["count"], _number(f"{kind}.volume.points", value.get("points", 10))
            continue
        if name not in RATIOS:
            raise WeightsError(f"unknown indicator {kind}.{name}; use one of: {', '.join(RATIOS)}")
        if isinstance(value, dict):
            terms.append(Term(name, _number(f"{kind}.{name}.weight", value.get("weight")),
                              bool(value.get("invert", False))))
        else:
            terms.append(Term(name, _number(f"{kind}.{name}", value)))
    return Weights(volume_count, volume_points, tuple(terms))


def _number(where: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WeightsError(f"{where} must be a number")
    return float(value)


def score_rows(rows: list[dict], weights: Weights) -> None:
    """Add ``score`` (and ``score_max``) to each row. A ratio that is null (nothing to
    measure) adds nothing; a row where every ratio term is null scores null."""
    top = max((row[weights.volume_count] for row in rows), default=0) if weights.volume_count else 0
    for row in rows:
        parts = [row[t.ratio] for t in weights.terms]
        if weights.terms and all(p is None for p in parts):
            row["score"] = None
        else:
            total = weights.volume_points * row[weights.volume_count] / top if top else 0.0
            for term, value in zip(weights.terms, parts, strict=True):
                if value is not None:
                    total += term.weight * ((1 - value) if term.invert else value)
            row["score"] = round(total, 4)
        row["score_max"] = weights.maximum


# --- periods ---------------------------------------------------------------------------

def local_period(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """Local days ``first`` to ``last`` (both included) as the UTC interval [start, end)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def compute(session, start: datetime, end: datetime, by: str, *, now: datetime | None = None,
            department_id: int | None = None, weights: dict[str, Weights] | str | None = None,
            progress: Callable[[str], None] | None = None, source: str = "rollup",
            level: str | None = None, patrols: bool = True) -> list[dict]:
    """One row per group: key, name, every count of ``COUNTS``, every ratio of ``RATIOS``
    (null when its denominator is 0) and the composite ``score``.

    ``department_id`` keeps only facts attributed to that department (a department
    handler's view). ``progress`` is called with the name of each query as it finishes.
    ``source``: ``rollup`` (the stored facts) or ``scratch`` (the event log and clocks
    themselves); both answer the same rows.

    ``level`` (with ``by="grid"`` only): the rows are the grids of that level (district,
    street, community, grid), each summing the grids under it (``grid_ancestors``).
    ``patrols=False`` leaves out the patrol figures (by worker and grid), which are computed
    from the stored tracks one worker-day at a time."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}")
    if level is not None and (by != "grid" or level not in GRID_LEVELS):
        raise ValueError(f"level goes with by=grid and is one of {', '.join(GRID_LEVELS)}")
    now = now or utcnow()
    if not isinstance(weights, dict):
        weights = parse_weights(weights if weights is not None else "")
    if source == "scratch":
        queries = scratch.queries(by, start, end, now, department_id)
    elif source == "rollup":
        queries = rollup.queries(session, by, start, end, now, department_id)
    else:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    counts: dict = {}
    for name, query in queries.items():
        result = session.execute(query)
        names = list(result.keys())[1:]
        for key, *values in result:
            row = counts.get(key) or counts.setdefault(key, dict.fromkeys(COUNTS, 0))
            for column, value in zip(names, values, strict=True):
                if value:
                    row[column] += int(value)
        if progress:
            progress(name)
    if patrols and by in ("worker", "grid") and department_id is None:
        _add_patrols(session, counts, by, start, end)
        if progress:
            progress("patrols")
    if level is not None:
        counts = _regroup(counts, grid_ancestors(session, [k for k in counts if k is not None], level))
    names = group_names(session, by, [k for k in counts if k is not None])
    rows = []
    for key in sorted(counts, key=lambda k: (k is None, str(k) if k is not None else "")):
        row = counts[key]
        row["opened_not_voided"] = row["opened"] - row["voided"]
        row["dispatched_not_returned"] = row["dispatched"] - row["return_accepted"]
        row["overdue_unhandled"] = row["due_handling"] - row["handled"]
        row["satisfied_or_basically"] = row["satisfied"] + row["basically_satisfied"]
        out = {"by": by, "key": key, **names.get(key, {"code": None, "name": None}), **row}
        for ratio, (num, den, _) in RATIOS.items():
            out[ratio] = row[num] / row[den] if row[den] else None
        rows.append(out)
    score_rows(rows, weights[by])
    return rows


def _add_patrols(session, counts: dict, by: str, start: datetime, end: datetime) -> None:
    """Patrol time, distance and coverage (grid.patrol) into the worker or grid rows."""
    for staff_id, figures in patrol_figures(session, start, end).items():
        if by == "worker":
            row = counts.setdefault(staff_id, dict.fromkeys(COUNTS, 0))
            row["patrol_seconds"] += int(figures["seconds"])
            row["patrol_distance_m"] += round(figures["distance_m"])
            row["patrol_covered_m2"] += round(sum(c for c, _ in figures["grids"].values()))
            row["patrol_area_m2"] += round(sum(a for _, a in figures["grids"].values()))
            continue
        for code, (covered, area) in figures["grids"].items():
            row = counts.setdefault(code, dict.fromkeys(COUNTS, 0))
            row["patrol_covered_m2"] += round(covered)
            row["patrol_area_m2"] += round(area)


def _regroup(counts: dict, parent: dict) -> dict:
    """The rows of ``counts`` summed under ``parent[key]`` (every count is a sum over its
    grids: a case has one grid, so even the distinct-case counts add up)."""
    out: dict = {}
    for key, row in counts.items():
        target = out.setdefault(parent.get(key, key), dict.fromkeys(COUNTS, 0))
        for column, value in row.items():
            target[column] += value
    return out


def grid_ancestors(session, codes: list[str], level: str) -> dict[str, str]:
    """grid code -> the code of the grid of ``level`` it lies in (itself at that level), by
    the grids' ``parent_code`` (the current version of a code, else its latest). One query
    per level walked up (at most four), whatever the number of codes. A code that is coarser
    than ``level``, or unknown, stays as it is."""
    rank = {name: i for i, name in enumerate(GRID_LEVELS)}
    out: dict[str, str] = {}
    pending = {code: code for code in codes}  # code asked -> the code looked at now
    for _ in GRID_LEVELS:
        if not pending:
            break
        found = {code: (lv, parent) for code, lv, parent in session.execute(
            select(Grid.code, Grid.level, Grid.parent_code).where(Grid.code.in_(set(pending.values())))
            .order_by(Grid.valid_to.is_(None), Grid.valid_from, Grid.id))}  # the current version read last
        walk = {}
        for code, at in pending.items():
            lv, parent = found.get(at, (None, None))
            if lv == level:
                out[code] = at
            elif lv is not None and rank[lv] > rank[level] and parent:
                walk[code] = parent
            else:
                out[code] = code
        pending = walk
    out.update((code, code) for code in pending)
    return out


def group_names(session, by: str, keys: list) -> dict:
    """key -> {"code", "name"} for the groups found (one query of columns: no ORM objects,
    no relationships, no geometry)."""
    if not keys:
        return {}
    if by == "department":
        rows = session.execute(select(Department.id, Department.code, Department.name)
                               .where(Department.id.in_(keys)))
    elif by == "worker":
        rows = session.execute(select(Staff.id, Staff.username, Staff.name).where(Staff.id.in_(keys)))
    elif by == "category":
        rows = session.execute(select(Category.code, Category.code, Category.name_zh).where(Category.code.in_(keys)))
    else:
        # a grid keeps its code across redraws: prefer the current version's name (read last)
        rows = session.execute(select(Grid.code, Grid.code, Grid.name).where(Grid.code.in_(keys))
                               .order_by(Grid.valid_to.is_(None), Grid.id))
    out = {key: {"code": code, "name": name} for key, code, name in rows}
    if by == "grid":
        for key in keys:
            out.setdefault(key, {"code": key, "name": None})
    return out


# --- export --------------------------------------------------------------------------

def columns() -> list[str]:
    return ["by", "key", "code", "name", *COUNTS, *RATIOS, "score", "score_max"]


HEADERS = ("names", "labels")  # a file's header row: the column names, or their labels in a language


def column_labels(lang: str = "zh") -> dict[str, str]:
    """column -> how people call it in ``lang`` (the catalogs' ``kpi_column_<name>`` words)."""
    return {name: t(f"kpi_column_{name}", lang=lang) for name in columns()}


def header_row(header: str = "names", lang: str = "zh") -> list[str]:
    if header == "labels":
        labels = column_labels(lang)
        return [labels[c] for c in columns()]
    return columns()


def to_csv(rows: list[dict], out, *, header: str = "names", lang: str = "zh") -> None:

    writer = csv.writer(out)
    writer.writerow(header_row(header, lang))
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns()])


def to_xlsx(rows: list[dict], out, *, period: dict | None = None, header: str = "names", lang: str = "zh") -> None:
    """Sheet ``KPI``: the header row (column names, or with ``header="labels"`` their labels in
    ``lang``), then one row per group (ratios as numbers formatted as percentages, null as an
    empty cell). Sheet ``说明``: what each column is (name, Chinese, English, definition)."""

    wb = Workbook()
    ws = wb.active
    ws.title = "KPI"
    cols = columns()
    ws.append(header_row(header, lang))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([row.get(c) for c in cols])
    for index, name in enumerate(cols, start=1):
        if name in RATIOS:
            for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "0.00%"
    ws.freeze_panes = "E2"
    doc = wb.create_sheet("说明")
    doc.append(["column", "中文", "English", "definition"])
    zh, en = column_labels("zh"), column_labels("en")
    for name in cols:
        definition = f"{RATIOS[name][0]} / {RATIOS[name][1]}" if name in RATIOS else ""
        doc.append([name, zh[name], en[name], definition])
    if period:
        doc.append([])
        for key, value in period.items():
            doc.append([key, str(value)])
    wb.save(out)
