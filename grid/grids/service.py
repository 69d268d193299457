"""Grid layer: import (validated, all or nothing), versions, chains, topology."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import String, literal, select

from geo.area import geodesic_area_m2
from geo.codes import CodeRule
from geo.crs import convert_geometry, parse_crs
from geo.io import GridFeature
from geo.topology import topology_report
from geo.validate import FeatureFix, FeatureProblem, validate_features
from grid.grids.locator import bump_layer, chain_info
from grid.models import GRID_LEVELS, Grid, GridAssignment, Responsibility, Staff
from wangge.config import current_settings
from wangge.errors import ApiError, NotFound, validation_error
from wangge.i18n import t
from wangge.timeutil import utcnow

NAME_MAX = 200  # grids.name column


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    redrawn: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[FeatureProblem] = field(default_factory=list)
    fixes: list[FeatureFix] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "created": len(self.created), "redrawn": len(self.redrawn),
            "unchanged": len(self.unchanged), "skipped": len(self.skipped),
            "fixes": [f.__dict__ for f in self.fixes],
            "skipped_features": [problem_dict(p) for p in self.skipped],
        }


class InvalidFeatures(ApiError):
    status = 422

    def __init__(self, problems: list[FeatureProblem]):
        super().__init__("invalid_features", count=len({p.index for p in problems}),
                         details=[problem_dict(p) for p in problems])
        self.problems = problems


def problem_dict(p: FeatureProblem) -> dict:
    return {"index": p.index, "code": p.code, "reason": p.reason,
            "reason_text": t(p.reason), "detail": p.detail}


def code_rule() -> CodeRule:
    s = current_settings()
    return CodeRule(mode=s.grid_code_rule, grid_seq_digits=s.seq_digits)


def current_grids_by_code(session, codes=None) -> dict[str, Grid]:
    query = select(Grid).where(Grid.valid_to.is_(None))
    if codes is not None:
        query = query.where(Grid.code.in_(list(codes)))
    return {g.code: g for g in session.scalars(query)}


def get_current(session, code: str) -> Grid:
    grid = session.scalar(select(Grid).where(Grid.code == code, Grid.valid_to.is_(None)))
    if grid is None:
        raise NotFound("grid", code)
    return grid


def import_features(session, features: list[GridFeature], *, crs: str = "wgs84", fix: bool = False,
                    skip_invalid: bool = False, source: str | None = None,
                    progress: Callable[[int], None] | None = None) -> ImportResult:
    """Validate every feature, then write all of them or (on any problem) none.

    With ``skip_invalid`` the bad features are left out and reported instead."""
    crs = parse_crs(crs)
    if not features:

        raise validation_error({"features": ["the file has no features"]})
    checked = validate_features(features, rule=code_rule(), fix=fix)
    problems = list(checked.problems)
    bad = {p.index for p in problems}
    for f in checked.features:
        if f.index in bad:
            continue
        if f.name is not None and len(f.name) > NAME_MAX:
            problems.append(FeatureProblem(f.index, f.code, "name_too_long",
                                           f"name has {len(f.name)} characters; at most {NAME_MAX}"))
        if f.level is None or f.level not in GRID_LEVELS:
            problems.append(FeatureProblem(f.index, f.code, "unknown_level",
                                           f"level {f.level!r} is not one of {', '.join(GRID_LEVELS)}"))
    parents = {f.parent_code for f in checked.features if f.parent_code}
    known = set(current_grids_by_code(session, parents)) if parents else set()
    # A parent left out (bad itself, or under a missing parent) leaves its children without one.
    while True:
        bad = {p.index for p in problems}
        in_file = {f.code for f in checked.features if f.index not in bad and f.code}
        orphans = [f for f in checked.features if f.index not in bad and f.parent_code
                   and f.parent_code not in in_file and f.parent_code not in known]
        if not orphans:
            break
        for f in orphans:
            problems.append(FeatureProblem(f.index, f.code, "unknown_parent",
                                           f"parent {f.parent_code} is neither in the file nor a current grid"))
    problems.sort(key=lambda p: p.index)
    if problems and not skip_invalid:
        raise InvalidFeatures(problems)

    result = ImportResult(skipped=problems, fixes=checked.fixes)
    bad = {p.index for p in problems}
    good = [f for f in checked.features if f.index not in bad]
    existing = current_grids_by_code(session, [f.code for f in good])
    now = utcnow()
    for n, f in enumerate(good, 1):
        geom = convert_geometry(f.geometry, crs, "wgs84")
        old = existing.get(f.code)
        if old is not None:
            if (old.name, old.level, old.parent_code) == (f.name or f.code, f.level, f.parent_code) \
                    and old.geom.equals_exact(geom, 1e-9):
                result.unchanged.append(f.code)
                continue
            old.valid_to = now
            session.flush()  # free the unique current-code slot before the new version
            result.redrawn.append(f.code)
        else:
            result.created.append(f.code)
        session.add(Grid(code=f.code, name=f.name or f.code, level=f.level, parent_code=f.parent_code,
                         geom=geom, area_m2=round(geodesic_area_m2(geom), 1), valid_from=now, source=source))
        if progress and n % 200 == 0:
            session.flush()
            progress(200)
    if progress:
        progress(len(good) % 200)
    if result.created or result.redrawn:
        bump_layer(session)
    return result


def retire(session, code: str) -> Grid:

    grid = get_current(session, code)
    children = session.scalar(select(Grid.code).where(Grid.parent_code == code, Grid.valid_to.is_(None)).limit(1))
    if children:
        raise ApiError("in_use", status=409, what=t("grid"), detail=f"child grid {children}")
    rules = session.scalar(select(Responsibility.category_code).where(Responsibility.grid_code == code).limit(1))
    if rules:
        raise ApiError("in_use", status=409, what=t("grid"), detail=f"responsibility rule for {rules}")
    now = utcnow()
    for assignment in session.scalars(select(GridAssignment).where(
            GridAssignment.grid_code == code,
            (GridAssignment.valid_to.is_(None)) | (GridAssignment.valid_to > now))):
        assignment.valid_to = now
    grid.valid_to = now
    bump_layer(session)
    return grid


def chain(session, grid) -> list:
    """The grid and its current ancestors, from the top level down: from the in-process index
    for a current grid (``locator.GridInfo``: code, name, level, parent, id; no polygon, no
    SELECT), else (a retired grid of an old case) walked up one SELECT per level."""
    if getattr(grid, "valid_to", None) is None:
        levels = chain_info(session, grid)
        if levels and levels[-1].id == grid.id:
            return levels
    out = [grid]
    seen = {grid.code}
    code = grid.parent_code
    while code and code not in seen:
        parent = session.scalar(select(Grid).where(Grid.code == code, Grid.valid_to.is_(None)))
        if parent is None:
            break
        out.append(parent)
        seen.add(code)
        code = parent.parent_code
    return list(reversed(out))


def subtree_codes(code: str):
    """A SELECT of ``code`` and every grid code under it (any version, so retired grids of
    old cases count), following ``parent_code`` in one recursive query: use it as
    ``column.in_(subtree_codes(code))``. UNION (not UNION ALL) also stops on a cycle."""
    tree = select(literal(code, String).label("code")).cte("subtree", recursive=True)
    tree = tree.union(select(Grid.code).join(tree, Grid.parent_code == tree.c.code))
    return select(tree.c.code)


def workers_of(session, grid_code: str, at=None):

    at = at or utcnow()
    rows = session.scalars(
        select(GridAssignment).join(Staff).where(
            GridAssignment.grid_code == grid_code, GridAssignment.valid_from <= at,
            (GridAssignment.valid_to.is_(None)) | (GridAssignment.valid_to > at), Staff.active.is_(True))
        .order_by(GridAssignment.id)).all()
    return [a.staff for a in rows]


def check_topology(session, min_area_m2: float = 1.0):
    rows = session.execute(select(Grid.code, Grid.level, Grid.parent_code, Grid.geom)
                           .where(Grid.valid_to.is_(None))).all()
    return topology_report([tuple(r) for r in rows], min_area_m2=min_area_m2)
