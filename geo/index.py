"""Point-in-grid lookup over many polygons."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely


class GridIndex:
    """Find the grid that contains a (lon, lat) point, deterministically.

    Rule: a point belongs to every indexed geometry that *covers* it (the boundary
    counts, so a point on an edge or vertex shared by neighbours touches all of them).
    Among those, the highest rank wins (rank = depth in the hierarchy, deeper is more
    specific); ties are broken by the smallest key in plain string order. A point
    covered by nothing yields None ("outside"). Entries with a None/empty geometry are
    ignored.

    Implementation: entries are sorted once by (-rank, key) and the STRtree is built
    in that order, so "the winner among candidates" is simply the smallest tree index.
    Geometries are prepared, which makes the covers test cheap even for large polygons.

    Single lookups avoid per-call geometry work, which dominates at this scale: the plane
    is cut into square buckets (a quarter of a typical geometry's size), and for each bucket
    the STRtree's candidates are computed once, in priority order, and memoised. The list
    stops at the first candidate that covers the whole bucket: it wins for every point
    there, so most points need no exact test at all. Points near edges test the earlier
    candidates with a bounding-box comparison and ``shapely.intersects_xy`` (for a point,
    "intersects" is "covered by", boundary included). Buckets fill lazily as they are used.
    """

    BUCKETS_PER_GEOMETRY = 4
    MAX_MEMO_BUCKETS = 2_000_000  # about 300 MB at worst; cleared and refilled past that

    def __init__(self, entries: Iterable[tuple[str, object, int]]):
        rows = [(str(k), g, int(r)) for k, g, r in entries if g is not None and not g.is_empty]
        rows.sort(key=lambda row: (-row[2], row[0]))
        self._keys = [row[0] for row in rows]
        self._geoms = np.array([row[1] for row in rows], dtype=object)
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)
        bounds = shapely.bounds(self._geoms) if rows else np.empty((0, 4))
        self._bounds = [tuple(b) for b in bounds.tolist()]
        if rows:
            sizes = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
            self._bucket = float(np.median(sizes)) / self.BUCKETS_PER_GEOMETRY or 1e-6
        else:
            self._bucket = 1.0
        self._buckets: dict[tuple[int, int], list[tuple[int, bool]]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def locate(self, lon: float, lat: float) -> str | None:
        """Key of the winning geometry covering the point, or None."""
        if not self._keys or lon != lon or lat != lat:  # empty index or NaN
            return None
        size = self._bucket
        key = (int(lon // size), int(lat // size))
        candidates = self._buckets.get(key)
        if candidates is None:
            if len(self._buckets) >= self.MAX_MEMO_BUCKETS:
                self._buckets.clear()
            candidates = self._buckets.setdefault(key, self._bucket_candidates(key))
        # The bare ufunc: same result as shapely.intersects_xy without its wrapper (~2x faster).
        bounds, geoms, test = self._bounds, self._geoms, shapely.lib.intersects_xy
        for i, covers_bucket in candidates:  # priority order: the first hit wins
            if covers_bucket:
                return self._keys[i]
            xmin, ymin, xmax, ymax = bounds[i]
            if xmin <= lon <= xmax and ymin <= lat <= ymax and test(geoms[i], lon, lat):
                return self._keys[i]
        return None

    def _bucket_candidates(self, key: tuple[int, int]) -> list[tuple[int, bool]]:
        size = self._bucket
        x0, y0 = key[0] * size, key[1] * size
        cell = shapely.box(x0, y0, x0 + size, y0 + size)
        out = []
        for i in sorted(self._tree.query(cell).tolist()):
            covers = bool(self._geoms[i].covers(cell))
            out.append((i, covers))
            if covers:
                break
        return out

    def locate_many(self, lons, lats) -> list[str | None]:
        """Vectorised `locate`: one bulk tree query for all points."""
        lons = np.asarray(lons, dtype=float).ravel()
        lats = np.asarray(lats, dtype=float).ravel()
        if lons.shape != lats.shape:
            raise ValueError("lons and lats must have the same length")
        n = lons.size
        if n == 0 or not self._keys:
            return [None] * n
        points = shapely.points(lons, lats)
        point_idx, geom_idx = self._tree.query(points, predicate="covered_by")
        best = np.full(n, len(self._keys), dtype=np.int64)  # sentinel = "none"
        np.minimum.at(best, point_idx, geom_idx)
        keys = self._keys
        return [keys[b] if b < len(keys) else None for b in best.tolist()]
