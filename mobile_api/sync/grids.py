"""The pull's source of my grids (table ``grids``): the current version of each grid I am
assigned to, with its shape as GeoJSON in the asked system. The cursor keeps the codes and
grid versions (row ids) the phone has; the grids are sent again only when either changed
(a new assignment, one that ended, a redrawn grid), and a grid no longer mine is removed."""
from __future__ import annotations

from shapely.geometry import mapping

from grid.grids.service import current_grids_by_code
from grid.models import Staff
from mobile_api.crs import geometry_out
from mobile_api.sync.cases import my_grid_codes
from mobile_api.sync.sources import SourceAnswer

MAX_GRIDS = 200  # a worker has a handful; the cursor keeps them all


def load(value):
    if not isinstance(value, list) or len(value) > MAX_GRIDS or not all(
            isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and len(v[0]) <= 64
            and type(v[1]) is int for v in value):
        raise ValueError("bad grids cursor")
    return value


def source(session, staff: Staff, since, until, *, limit: int, crs: str) -> SourceAnswer:
    grids = current_grids_by_code(session, my_grid_codes(session, staff)[:MAX_GRIDS])
    now = sorted([code, g.id] for code, g in grids.items())
    if since == now:
        return SourceAnswer({"grids": {"updated": [], "removed": []}}, now)
    had = {code for code, _ in since or []}
    updated = [{"code": g.code, "name": g.name, "level": g.level, "parent_code": g.parent_code, "version": g.id,
                "geometry": mapping(geometry_out(g.geom, crs))} for g in sorted(grids.values(), key=lambda g: g.code)]
    return SourceAnswer({"grids": {"updated": updated, "removed": sorted(had - set(grids))}}, now)
