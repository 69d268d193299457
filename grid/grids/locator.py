"""Point-to-grid lookup from an in-process index, kept in step with the database.

Every process keeps one ``geo.index.GridIndex`` of the current grids. Any change to the
grid layer changes ``layer_versions['grids']`` in the same transaction; a process compares
that number with the one its index was built from (at most every
``WANGGE_INDEX_CHECK_SECONDS``) and rebuilds when they differ, so no restart is needed.

The index also keeps each current grid's id, code, name, level and parent (no polygon):
``locate_info`` and ``chain_info`` answer the grid of a point and its chain up to the top
level from memory (intake: no SELECT per level, no polygon loaded).
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update

from geo.codes import level_rank
from geo.crs import convert_point, parse_crs
from geo.index import GridIndex
from grid.models import Grid, LayerVersion
from wangge.config import current_settings
from wangge.timeutil import utcnow

LAYER = "grids"


@dataclass(frozen=True, slots=True)
class GridInfo:
    """A current grid without its polygon, as the index knows it (duck-types ``Grid`` for
    code, name, level, parent_code and id)."""

    id: int
    code: str
    name: str
    level: str
    parent_code: str | None


@dataclass
class _Built:
    version: str
    index: GridIndex
    ids: dict[str, int]
    checked_at: float
    grids: dict[str, GridInfo]

    def chain(self, code: str) -> list[GridInfo]:
        """The grid and its current ancestors, from the top level down (as
        ``grid.grids.service.chain``; a missing parent or a cycle ends the walk)."""
        out: list[GridInfo] = []
        seen: set[str] = set()
        info = self.grids.get(code)
        while info is not None and info.code not in seen:
            out.append(info)
            seen.add(info.code)
            info = self.grids.get(info.parent_code) if info.parent_code else None
        return list(reversed(out))


_lock = threading.Lock()
_cache: dict[str, _Built] = {}


def layer_version(session) -> str:
    return session.scalar(select(LayerVersion.version).where(LayerVersion.name == LAYER)) or ""


def bump_layer(session) -> None:
    """Call in the transaction that changes grids (row lock serialises concurrent imports)."""
    token = uuid.uuid4().hex
    result = session.execute(update(LayerVersion).where(LayerVersion.name == LAYER)
                             .values(version=token, changed_at=utcnow()))
    if result.rowcount == 0:
        session.add(LayerVersion(name=LAYER, version=token))
    session.flush()
    invalidate(session)


def invalidate(session) -> None:
    with _lock:
        _cache.pop(_key(session), None)


def _key(session) -> str:
    return str(session.get_bind().engine.url)


def _build(session, version: str) -> _Built:
    rows = session.execute(
        select(Grid.id, Grid.code, Grid.level, Grid.geom, Grid.name, Grid.parent_code).where(Grid.valid_to.is_(None))
    ).all()
    index = GridIndex((r.code, r.geom, level_rank(r.level)) for r in rows)
    return _Built(version, index, {r.code: r.id for r in rows}, time.monotonic(),
                  {r.code: GridInfo(r.id, r.code, r.name, r.level, r.parent_code) for r in rows})


def current_index(session) -> _Built:
    key = _key(session)
    interval = current_settings().index_check_seconds
    built = _cache.get(key)
    now = time.monotonic()
    if built is not None and now - built.checked_at < interval:
        return built
    version = layer_version(session)
    if built is not None and built.version == version:
        built.checked_at = now
        return built
    with _lock:
        built = _cache.get(key)
        if built is None or built.version != version:
            built = _build(session, version)
            _cache[key] = built
    return built


def locate(session, lon: float, lat: float, crs: str = "wgs84") -> Grid | None:
    lon, lat = convert_point(lon, lat, parse_crs(crs), "wgs84")
    built = current_index(session)
    code = built.index.locate(lon, lat)
    return None if code is None else session.get(Grid, built.ids[code])


def locate_info(session, lon: float, lat: float) -> GridInfo | None:
    """The current grid of a WGS-84 point from memory (no polygon, no SELECT)."""
    built = current_index(session)
    code = built.index.locate(lon, lat)
    return None if code is None else built.grids[code]


def chain_info(session, grid) -> list[GridInfo]:
    """``grid`` (a ``Grid`` or ``GridInfo``) and its current ancestors, top level first, from
    the index; an empty list when the grid is not current."""
    return current_index(session).chain(grid.code)


def locate_many(session, points, crs: str = "wgs84") -> list[Grid | None]:
    crs = parse_crs(crs)
    converted = [convert_point(lon, lat, crs, "wgs84") for lon, lat in points]
    built = current_index(session)
    codes = built.index.locate_many([p[0] for p in converted], [p[1] for p in converted])
    wanted = {built.ids[c] for c in codes if c is not None}
    grids = {g.code: g for g in session.scalars(select(Grid).where(Grid.id.in_(wanted)))} if wanted else {}
    return [None if c is None else grids[c] for c in codes]
