"""Validate (and optionally repair) imported grid features.

Every problem of every feature is reported, so an operator fixes a file in one pass.
Reasons are machine codes; `detail` is a short English sentence (the app translates
by reason). Checks per feature, in order: code presence/duplication, level and code
rule, then geometry (presence, polygonal type, emptiness, coordinate range, validity).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import explain_validity

from geo.area import geodesic_area_m2
from geo.codes import LEVELS, CodeRule, check_code
from geo.io import GridFeature

POLYGONAL = ("Polygon", "MultiPolygon")
DEFAULT_RULE = CodeRule()  # frozen, so safe to share as a default


@dataclass
class FeatureProblem:
    index: int
    code: str | None
    reason: str
    detail: str


@dataclass
class FeatureFix:
    index: int
    code: str | None
    what: str


@dataclass
class ValidationResult:
    features: list[GridFeature]  # same order as input; repaired geometry where fixed
    problems: list[FeatureProblem]
    fixes: list[FeatureFix]

    @property
    def ok(self) -> bool:
        return not self.problems


_CODE_DETAILS = {
    "bad_code_shape": "Code {code!r} does not have the shape required for level {level}.",
    "code_not_under_parent": "Code {code!r} does not start with its parent code {parent!r}.",
}


def _polygonal_parts(geom) -> list[Polygon]:
    """Non-empty polygons contained in any geometry (collections are flattened)."""
    out = []
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon" and not part.is_empty:
            out.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(_polygonal_parts(part))
    return out


def _from_parts(parts: list[Polygon]):
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _count_parts(geom) -> int:
    return len(shapely.get_parts(geom))


def _in_range(geom) -> bool:
    minx, miny, maxx, maxy = geom.bounds
    # written so that NaN coordinates count as out of range
    return -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90


def _invalid_reason(explanation: str) -> str:
    # GEOS says "Self-intersection[x y]" or "Ring Self-intersection[x y]"
    return "self_intersection" if "self-intersection" in explanation.lower() else "invalid_geometry"


def _check_geometry(f: GridFeature, fix: bool):
    """Return (geometry to keep, problems as (reason, detail), fix descriptions)."""
    geom = f.geometry
    problems: list[tuple[str, str]] = []
    fixes: list[str] = []
    if geom is None:
        return None, [("missing_geometry", "The feature has no readable geometry.")], fixes

    if geom.geom_type not in POLYGONAL:
        parts = _polygonal_parts(geom) if fix and geom.geom_type == "GeometryCollection" else []
        if not parts:
            return geom, [("not_polygon", f"Geometry is a {geom.geom_type}, not a polygon.")], fixes
        dropped = _count_parts(geom) - len(parts)
        geom = _from_parts(parts)
        fixes.append(
            f"kept {len(parts)} polygon part(s) of a GeometryCollection, dropped {dropped} non-polygon parts"
        )

    if geom.is_empty:
        return geom, [("empty", "Geometry is empty.")], fixes

    if not _in_range(geom):
        minx, miny, maxx, maxy = geom.bounds
        problems.append(
            (
                "coordinates_out_of_range",
                f"Coordinates out of range: bounds ({minx:g}, {miny:g}, {maxx:g}, {maxy:g}) "
                "exceed longitude [-180, 180] or latitude [-90, 90].",
            )
        )
        return geom, problems, fixes  # area/validity make no sense on such coordinates

    if not geom.is_valid:
        explanation = explain_validity(geom)
        reason = _invalid_reason(explanation)
        if not fix:
            return geom, [(reason, f"Invalid geometry: {explanation}.")], fixes
        repaired_all = shapely.make_valid(geom)
        parts = _polygonal_parts(repaired_all)
        repaired = _from_parts(parts)
        if repaired is None:
            return (
                geom,
                [(reason, f"Invalid geometry: {explanation}; repair left no polygon.")],
                fixes,
            )
        before, after = geodesic_area_m2(geom), geodesic_area_m2(repaired)
        what = f"made valid with make_valid: {explanation}; area changed from {before:.1f} to {after:.1f} m²"
        dropped = (
            _count_parts(repaired_all) - len(parts)
            if repaired_all.geom_type == "GeometryCollection"
            else 0
        )
        if dropped:
            what += f"; dropped {dropped} non-polygon parts"
        fixes.append(what)
        geom = repaired
    return geom, problems, fixes


def validate_features(
    features, *, rule: CodeRule = DEFAULT_RULE, fix: bool = False
) -> ValidationResult:
    """Check every feature; with fix=True repair what can be repaired (see module doc).

    Features are never mutated: repaired ones are copies with the new geometry.
    """
    out_features: list[GridFeature] = []
    problems: list[FeatureProblem] = []
    fixes: list[FeatureFix] = []
    first_index: dict[str, int] = {}

    for f in features:

        def report(reason: str, detail: str, f=f):
            problems.append(FeatureProblem(f.index, f.code, reason, detail))

        if f.code is None:
            report("missing_code", "The feature has no code.")
        elif f.code in first_index:
            report(
                "duplicate_code",
                f"Code {f.code!r} is already used by feature #{first_index[f.code]}.",
            )
        else:
            first_index[f.code] = f.index

        level_ok = f.level is None or f.level in LEVELS
        if not level_ok:
            report(
                "unknown_level", f"Unknown level {f.level!r}; expected one of {', '.join(LEVELS)}."
            )
        if f.code is not None and level_ok:
            reason = check_code(f.code, f.level, f.parent_code, rule)
            if reason:
                report(
                    reason,
                    _CODE_DETAILS[reason].format(
                        code=f.code, level=f.level or "(any)", parent=f.parent_code
                    ),
                )

        geom, geom_problems, geom_fixes = _check_geometry(f, fix)
        for reason, detail in geom_problems:
            report(reason, detail)
        for what in geom_fixes:
            fixes.append(FeatureFix(f.index, f.code, what))
        out_features.append(dataclasses.replace(f, geometry=geom) if geom is not f.geometry else f)

    return ValidationResult(out_features, problems, fixes)
