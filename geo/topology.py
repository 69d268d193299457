"""Topology checks of a grid hierarchy (all geometries in WGS-84 lon/lat).

* overlaps: siblings (same parent_code and level) whose interiors intersect;
* gaps: area of a parent not covered by the union of its children (only for parents
  present in the input that have at least one child);
* escapes: area of a child lying outside its parent.

Results are split into connected polygons and each piece under `min_area_m2`
(geodesic) is discarded, so the digitising slivers that every real boundary set has
do not drown real problems; the remaining pieces of one pair/parent/child are reported
together as one record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, mapping

from geo.area import geodesic_area_m2


@dataclass
class Overlap:
    code_a: str
    code_b: str
    area_m2: float
    geometry: Any


@dataclass
class Gap:
    parent_code: str
    area_m2: float
    geometry: Any


@dataclass
class Escape:
    code: str
    parent_code: str
    area_m2: float
    geometry: Any


@dataclass
class TopologyReport:
    overlaps: list[Overlap] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    escapes: list[Escape] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.overlaps or self.gaps or self.escapes)

    def to_dict(self) -> dict:
        def geo(g):
            return mapping(g) if g is not None else None

        return {
            "ok": self.ok,
            "overlaps": [
                {
                    "code_a": o.code_a,
                    "code_b": o.code_b,
                    "area_m2": round(o.area_m2, 1),
                    "geometry": geo(o.geometry),
                }
                for o in self.overlaps
            ],
            "gaps": [
                {
                    "parent_code": g.parent_code,
                    "area_m2": round(g.area_m2, 1),
                    "geometry": geo(g.geometry),
                }
                for g in self.gaps
            ],
            "escapes": [
                {
                    "code": e.code,
                    "parent_code": e.parent_code,
                    "area_m2": round(e.area_m2, 1),
                    "geometry": geo(e.geometry),
                }
                for e in self.escapes
            ],
        }


def _significant(geom, min_area_m2: float):
    """Polygonal pieces of `geom` of at least min_area_m2 -> (geometry or None, total area)."""
    if geom is None or geom.is_empty:
        return None, 0.0
    keep, total = [], 0.0
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon":
            pieces = [part]
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            pieces = [p for p in shapely.get_parts(part) if p.geom_type == "Polygon"]
        else:
            continue  # points/lines: touching boundaries, no area
        for p in pieces:
            a = geodesic_area_m2(p)
            if a >= min_area_m2:
                keep.append(p)
                total += a
    if not keep:
        return None, 0.0
    return (keep[0] if len(keep) == 1 else MultiPolygon(keep)), total


def topology_report(items: Iterable[tuple], *, min_area_m2: float = 1.0) -> TopologyReport:
    """Check overlaps, gaps and escapes of `(code, level, parent_code, geometry)` items.

    Items without a usable geometry are skipped (validation reports them).
    """
    rows = [(c, lv, p, g) for c, lv, p, g in items if g is not None and not g.is_empty]
    report = TopologyReport()
    if not rows:
        return report
    codes = [r[0] for r in rows]
    group = [(r[2], r[1]) for r in rows]  # siblings share (parent_code, level)
    geoms = np.array([r[3] for r in rows], dtype=object)

    # Overlaps: candidate pairs from one bulk STRtree query, then exact intersection.
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = [
        (a, b)
        for a, b in zip(left.tolist(), right.tolist(), strict=True)
        if a < b and group[a] == group[b]
    ]
    if pairs:
        a_idx = np.array([p[0] for p in pairs])
        b_idx = np.array([p[1] for p in pairs])
        inters = shapely.intersection(geoms[a_idx], geoms[b_idx])
        for (a, b), inter in zip(pairs, inters, strict=True):
            g, area = _significant(inter, min_area_m2)
            if g is not None:
                ca, cb = sorted((codes[a], codes[b]), key=lambda c: (c is None, str(c)))
                report.overlaps.append(Overlap(ca, cb, area, g))

    # Gaps and escapes, per parent present in the input.
    by_code: dict[str, int] = {}
    for i, c in enumerate(codes):
        by_code.setdefault(c, i)  # duplicates: first wins (validation flags the rest)
    children: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r[2] is not None and r[2] in by_code:
            children[r[2]].append(i)

    for parent_code, kids in children.items():
        parent = geoms[by_code[parent_code]]
        union = shapely.union_all(geoms[kids])
        g, area = _significant(shapely.difference(parent, union), min_area_m2)
        if g is not None:
            report.gaps.append(Gap(parent_code, area, g))
        outside = shapely.difference(geoms[kids], parent)
        for i, diff in zip(kids, outside, strict=True):
            g, area = _significant(diff, min_area_m2)
            if g is not None:
                report.escapes.append(Escape(codes[i], parent_code, area, g))
    return report
