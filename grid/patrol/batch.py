"""A batch of GPS points as columns, and the column-wise loader of an upload's JSON body.

Why: marshmallow judges a batch of 100 points field by field through ~35,000 Python calls
(about 4 ms of the 11 ms of server CPU a batch took). The upload path needs the same
verdicts, not the machinery: :func:`load_batch` walks the parsed JSON once, column by
column, with the exact rules of :class:`grid.patrol.schemas.TrackBatchIn` (the schema stays
the contract: the OpenAPI document is generated from it, and it is the judge of every batch
this loader does not accept).

The rules (each is the schema's):

* the body is an object with ``points`` (required) and ``crs`` (optional, a string that
  :func:`geo.crs.parse_crs` knows; default ``wgs84``) and no other key;
* ``points`` is a list of 1..``MAX_POINTS`` objects, each with only the keys ``time``,
  ``lon``, ``lat``, ``crs``, ``accuracy``, ``speed``;
* ``time`` (required): a string ``datetime.fromisoformat`` reads (marshmallow's ISO parser),
  with an offset (aware), its year in ``MIN_YEAR..MAX_YEAR`` both as written and in UTC;
* ``lon`` in -180..180, ``lat`` in -90..90 (required), ``accuracy`` in 0..100000 and
  ``speed`` in 0..1000 (optional, null allowed): what ``float()`` reads (a number or a
  numeric string, as marshmallow's ``Float``; not a boolean), finite;
* a point's ``crs``: absent or null (the batch's), or a string ``parse_crs`` knows.

The loader only *accepts*: for a body it refuses it returns ``None``, and
:meth:`TrackBatchIn.load` hands that body to marshmallow's own ``load``, which raises the
422. So a refused batch's answer is the schema's, word for word (the field named in
``fields`` as ``{"points": {"17": {"lat": [...]}}}``), with no second set of messages to
keep in step. ``tests/mobile/test_patrol_batch.py`` checks that the loader and the schema
agree, accept or refuse, and on the values, over good and bad points.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from geo.crs import parse_crs
from wangge.fields import MAX_YEAR, MIN_YEAR

MAX_POINTS = 500
POINT_KEYS = frozenset(("time", "lon", "lat", "crs", "accuracy", "speed"))
BATCH_KEYS = frozenset(("crs", "points"))


@dataclass
class PointBatch:
    """Columns of one upload, in the order received: ``t`` aware datetimes, ``lon``/``lat``
    floats in their point's system, ``crs`` canonical names or ``None`` (the batch's),
    ``accuracy`` and ``speed`` floats or ``None``."""

    t: list
    lon: list
    lat: list
    crs: list
    accuracy: list
    speed: list

    def __len__(self) -> int:
        return len(self.t)

    def dicts(self) -> list[dict]:
        """The points as marshmallow's ``TrackPointIn`` loads them (keys by attribute)."""
        return [{"t": t, "lon": lon, "lat": lat, "crs": crs, "accuracy": acc, "speed": speed}
                for t, lon, lat, crs, acc, speed in zip(self.t, self.lon, self.lat, self.crs,
                                                        self.accuracy, self.speed, strict=True)]

    @classmethod
    def from_dicts(cls, points: list[dict]) -> PointBatch:
        return cls([p["t"] for p in points], [p["lon"] for p in points], [p["lat"] for p in points],
                   [p.get("crs") for p in points], [p.get("accuracy") for p in points],
                   [p.get("speed") for p in points])


def _number(value, low: float, high: float) -> float | None:
    """``float(value)`` (marshmallow's ``Float``: a JSON number or a numeric string, never a
    boolean) when it is within [low, high], else None. NaN fails both comparisons and
    +-inf falls outside every range here, as marshmallow's ``allow_nan=False`` refuses them."""
    if value.__class__ is float:
        number = value
    elif value is True or value is False:
        return None
    else:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float range
            return None
    return number if low <= number <= high else None


def _moment(value) -> datetime | None:
    if value.__class__ is not str:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None or not MIN_YEAR <= moment.year <= MAX_YEAR:
        return None
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:
        return None
    return moment if MIN_YEAR <= year <= MAX_YEAR else None


def _crs(value) -> str | None | bool:
    """A canonical name, ``None`` for absent/null, ``False`` when not acceptable."""
    if value is None:
        return None
    if value.__class__ is not str:
        return False
    try:
        return parse_crs(value)
    except ValueError:
        return False


def load_batch(data) -> tuple[str, PointBatch] | None:
    """``(batch crs, points)`` when ``data`` (parsed JSON) is a valid upload, else ``None``
    (the caller lets the schema judge it, and the schema's 422 is the answer)."""
    if data.__class__ is not dict or not BATCH_KEYS.issuperset(data):
        return None
    points = data.get("points")
    if points.__class__ is not list or not 1 <= len(points) <= MAX_POINTS:
        return None
    if "crs" in data:
        crs = _crs(data["crs"])
        if not crs:  # null or not a known system
            return None
    else:
        crs = "wgs84"
    n = len(points)
    ts, lons, lats, crss, accs, speeds = [None] * n, [0.0] * n, [0.0] * n, [None] * n, [None] * n, [None] * n
    for i, p in enumerate(points):
        if p.__class__ is not dict or not POINT_KEYS.issuperset(p):
            return None
        t = _moment(p.get("time"))
        lon = _number(p.get("lon"), -180.0, 180.0)
        lat = _number(p.get("lat"), -90.0, 90.0)
        if t is None or lon is None or lat is None:
            return None
        ts[i], lons[i], lats[i] = t, lon, lat
        if "crs" in p:
            point_crs = _crs(p["crs"])
            if point_crs is False:
                return None
            crss[i] = point_crs
        if (acc := p.get("accuracy")) is not None:
            if (acc := _number(acc, 0.0, 100000.0)) is None:
                return None
            accs[i] = acc
        if (speed := p.get("speed")) is not None:
            if (speed := _number(speed, 0.0, 1000.0)) is None:
                return None
            speeds[i] = speed
    return crs, PointBatch(ts, lons, lats, crss, accs, speeds)
