"""Read grid polygons from GeoJSON and ESRI Shapefiles into `GridFeature`s.

Reading is lenient per feature (a null or broken geometry becomes `geometry=None` so
validation can report it alongside every other problem) and strict per file (anything
that prevents reading the file at all raises `GeoFormatError`). No coordinate system
handling happens here: callers state the system and convert with `geo.crs`.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import json
import math
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapefile
from shapely.geometry import shape as _shape


class GeoFormatError(ValueError):
    """The file as a whole cannot be read (bad format, missing parts, ...)."""


@dataclass
class GridFeature:
    index: int  # 0-based position in the source file
    code: str | None
    name: str | None
    level: str | None
    parent_code: str | None
    geometry: Any | None  # shapely geometry
    properties: dict = field(default_factory=dict)


def _text(value) -> str | None:
    """Normalise an attribute to a stripped str; numbers lose a spurious '.0'; empty -> None."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return str(int(value))
        return repr(value)
    s = str(value).strip()
    return s or None


def _get(props: dict, name: str | None):
    """Property lookup: exact key first, then case-insensitive (DBF names are often upper case)."""
    if not name:
        return None
    if name in props:
        return props[name]
    lowered = name.lower()
    for key, value in props.items():
        if str(key).lower() == lowered:
            return value
    return None


def _parse_geometry(obj):
    if not obj:
        return None
    try:
        return _shape(obj)
    except Exception:  # noqa: BLE001 - any malformed geometry is reported by validation
        return None


def _feature(
    index,
    props,
    geometry,
    *,
    code_field,
    name_field,
    level_field,
    parent_field,
    default_level,
    default_parent,
) -> GridFeature:
    return GridFeature(
        index=index,
        code=_text(_get(props, code_field)),
        name=_text(_get(props, name_field)),
        level=_text(_get(props, level_field)) or default_level,
        parent_code=_text(_get(props, parent_field)) or default_parent,
        geometry=geometry,
        properties=props,
    )


# --- GeoJSON -------------------------------------------------------------------------


def read_geojson_obj(
    obj: dict,
    *,
    code_field="code",
    name_field="name",
    level_field="level",
    parent_field="parent",
    default_level=None,
    default_parent=None,
    encoding=None,
) -> list[GridFeature]:
    """Features from an already-parsed GeoJSON FeatureCollection (`encoding` is ignored)."""
    if not isinstance(obj, dict) or obj.get("type") != "FeatureCollection":
        got = obj.get("type") if isinstance(obj, dict) else type(obj).__name__
        raise GeoFormatError(f"expected a GeoJSON FeatureCollection, got {got!r}")
    raw = obj.get("features")
    if not isinstance(raw, list):
        raise GeoFormatError("GeoJSON FeatureCollection has no 'features' list")
    out = []
    for i, feat in enumerate(raw):
        if not isinstance(feat, dict):
            raise GeoFormatError(f"feature #{i} is not a GeoJSON Feature object")
        props = feat.get("properties")
        props = dict(props) if isinstance(props, dict) else {}
        out.append(
            _feature(
                i,
                props,
                _parse_geometry(feat.get("geometry")),
                code_field=code_field,
                name_field=name_field,
                level_field=level_field,
                parent_field=parent_field,
                default_level=default_level,
                default_parent=default_parent,
            )
        )
    return out


def read_geojson(path, *, encoding=None, **kwargs) -> list[GridFeature]:
    """Read a GeoJSON file. Without `encoding`, UTF-8 (with or without BOM), then GBK."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GeoFormatError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    text = None
    for enc in [encoding] if encoding else ["utf-8-sig", "gbk"]:
        try:
            text = data.decode(enc)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    if text is None:
        raise GeoFormatError(f"{path.name} is not valid {encoding or 'UTF-8 or GBK'} text")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GeoFormatError(
            f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from exc
    return read_geojson_obj(obj, **kwargs)


# --- Shapefile -----------------------------------------------------------------------

# Code pages seen in .cpg files written by ArcGIS/QGIS/Chinese tools.
_CPG_ALIASES = {
    "936": "gbk",
    "ansi 936": "gbk",
    "cp936": "gbk",
    "gb2312": "gbk",
    "65001": "utf-8",
    "utf8": "utf-8",
}


def _sibling(path: Path, ext: str) -> Path | None:
    """Find path with another extension, any letter case."""
    for cand in (path.with_suffix(ext), path.with_suffix(ext.upper())):
        if cand.exists():
            return cand
    for cand in path.parent.glob(path.stem + ".*"):
        if cand.suffix.lower() == ext:
            return cand
    return None


def _cpg_encoding(path: Path) -> str | None:
    cpg = _sibling(path, ".cpg")
    if cpg is None:
        return None
    raw = cpg.read_bytes().decode("ascii", "ignore").strip().lower()
    enc = _CPG_ALIASES.get(raw, raw)
    try:
        return codecs.lookup(enc).name
    except LookupError:
        return None


def _jsonable(value):
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def _shape_geometry(shp):
    if shp.shapeType == shapefile.NULL:
        return None
    try:
        return _parse_geometry(shp.__geo_interface__)
    except Exception:  # noqa: BLE001
        return None


def _read_shp_records(shp_path: Path, dbf_path: Path, encoding: str):
    with ExitStack() as stack:
        shx_path = _sibling(shp_path, ".shx")
        reader = shapefile.Reader(
            shp=stack.enter_context(open(shp_path, "rb")),
            shx=stack.enter_context(open(shx_path, "rb")) if shx_path else None,
            dbf=stack.enter_context(open(dbf_path, "rb")),
            encoding=encoding,
            encodingErrors="strict",
        )
        return [
            ({k: _jsonable(v) for k, v in sr.record.as_dict().items()}, _shape_geometry(sr.shape))
            for sr in reader.iterShapeRecords()
        ]


def read_shapefile(
    path,
    *,
    code_field="code",
    name_field="name",
    level_field="level",
    parent_field="parent",
    default_level=None,
    default_parent=None,
    encoding=None,
) -> list[GridFeature]:
    """Read a .shp with its .dbf (and .shx if present).

    Attribute encoding: the `encoding` argument, else the .cpg file, else UTF-8 and,
    if that fails to decode, GBK (common for shapefiles made with Chinese software).
    """
    path = Path(path)
    if not path.exists():
        raise GeoFormatError(f"cannot read {path.name}: file not found")
    dbf = _sibling(path, ".dbf")
    if dbf is None:
        raise GeoFormatError(f"{path.name}: the attribute file {path.stem}.dbf is missing")
    cpg = None if encoding else _cpg_encoding(path)
    candidates = [encoding or cpg] if (encoding or cpg) else ["utf-8", "gbk"]
    errors = []
    for enc in candidates:
        try:
            rows = _read_shp_records(path, dbf, enc)
            break
        except Exception as exc:  # noqa: BLE001 - pyshp raises assorted types on bad files
            if not _is_decode_error(exc):
                raise GeoFormatError(f"{path.name} is not a readable shapefile: {exc}") from exc
            errors.append(enc)
    else:
        raise GeoFormatError(
            f"{path.name}: attributes could not be decoded as {' or '.join(errors)}; "
            "add a .cpg file or pass the encoding"
        )
    return [
        _feature(
            i,
            props,
            geom,
            code_field=code_field,
            name_field=name_field,
            level_field=level_field,
            parent_field=parent_field,
            default_level=default_level,
            default_parent=default_parent,
        )
        for i, (props, geom) in enumerate(rows)
    ]


def _is_decode_error(exc: BaseException) -> bool:
    """pyshp wraps UnicodeDecodeError in dbfFileException ("Could not decode ...")."""
    while exc is not None:
        if isinstance(exc, UnicodeDecodeError) or "could not decode" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


# --- dispatch ------------------------------------------------------------------------


def read_features(
    path,
    *,
    code_field="code",
    name_field="name",
    level_field="level",
    parent_field="parent",
    default_level=None,
    default_parent=None,
    encoding=None,
) -> list[GridFeature]:
    """Read grid features from .geojson/.json or .shp, by file extension."""
    path = Path(path)
    kwargs = dict(
        code_field=code_field,
        name_field=name_field,
        level_field=level_field,
        parent_field=parent_field,
        default_level=default_level,
        default_parent=default_parent,
        encoding=encoding,
    )
    ext = path.suffix.lower()
    if ext in (".geojson", ".json"):
        return read_geojson(path, **kwargs)
    if ext == ".shp":
        return read_shapefile(path, **kwargs)
    raise GeoFormatError(
        f"unsupported file type {ext or '(none)'!r} for {path.name}; use .geojson, .json or .shp"
    )
