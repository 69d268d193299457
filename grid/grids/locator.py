"""Point-to-grid lookup from an in-process index, kept in step with the database.

Every process keeps one ``geo.index.GridIndex`` of the current grids. Any change to the
grid layer changes ``layer_versions['grids']`` in the same transaction; a process compares
that number with the one its index was built from (at most every
``WANGGE_INDEX_CHECK_SECONDS``) and rebuilds when they differ, so no restart is needed.
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


@dataclass
class _Built:
    version: str
    index: GridIndex
    ids: dict[str, int]
    checked_at: float


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
        select(Grid.id, Grid.code, Grid.level, Grid.geom).where(Grid.valid_to.is_(None))
    ).all()
    index = GridIndex((code, geom, level_rank(level)) for _, code, level, geom in rows)
    return _Built(version, index, {code: gid for gid, code, _, _ in rows}, time.monotonic())


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


def locate_many(session, points, crs: str = "wgs84") -> list[Grid | None]:
    crs = parse_crs(crs)
    converted = [convert_point(lon, lat, crs, "wgs84") for lon, lat in points]
    built = current_index(session)
    codes = built.index.locate_many([p[0] for p in converted], [p[1] for p in converted])
    wanted = {built.ids[c] for c in codes if c is not None}
    grids = {g.code: g for g in session.scalars(select(Grid).where(Grid.id.in_(wanted)))} if wanted else {}
    return [None if c is None else grids[c] for c in codes]
