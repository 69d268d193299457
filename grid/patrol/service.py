"""Patrols: start, end, GPS points in batches (filtered and counted), check-ins, and the
figures (coverage of my grids, patrol time and distance) that phones, leaders and the
indicators read. Functions take a session and ``flush``; the edge commits.

Filters of an upload, in this order (each point gets the first that applies; a filtered
point is stored with its reason in ``flag`` and never drawn or counted):

* ``duplicate`` - the same time as another point of the batch, or as a point already stored
  for this patrol (a retried batch: every point is a duplicate and nothing changes);
* ``time`` - before the patrol's start or after its end (5 min of clock skew allowed either
  way), in the future beyond the same skew, or older than the retention (filtered, not
  refused: one bad clock reading must not lose the batch);
* ``accuracy`` - ``accuracy`` (metres) above ``WANGGE_PATROL_MAX_ACCURACY_M``;
* ``outside`` - farther than ``WANGGE_PATROL_MAX_OUTSIDE_M`` from every grid assigned to
  me (no filter when I have none);
* ``speed`` - the implied speed from the previous accepted point (of this batch, or the
  patrol's last one when it is earlier) above ``WANGGE_PATROL_MAX_SPEED_MPS``: a GPS jump.
  The next point is measured from the last accepted one, so one jump rejects one point."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, mapping
from sqlalchemy import Float, Integer, column, or_, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from geo.crs import convert_coords, convert_point, parse_crs
from grid.grids import locator
from grid.models import Grid, GridAssignment, Staff
from wangge.config import current_settings
from wangge.errors import ApiError, Conflict, NotFound
from wangge.fields import CLOCK_SKEW
from wangge.timeutil import UTCDateTime, utcnow

from . import partitions
from .batch import PointBatch
from .models import REASONS, Patrol, PatrolCheckin, PatrolPoint

EARTH_RADIUS_M = 6_371_008.8


# --- my grids ------------------------------------------------------------------------------

def my_grid_codes(session, staff_id: int, at: datetime | None = None) -> list[str]:
    at = at or utcnow()
    return list(session.scalars(select(GridAssignment.grid_code).where(
        GridAssignment.staff_id == staff_id, GridAssignment.valid_from <= at,
        or_(GridAssignment.valid_to.is_(None), GridAssignment.valid_to > at)).order_by(GridAssignment.grid_code)))


def my_grids(session, staff_id: int, at: datetime | None = None) -> list[Grid]:
    codes = my_grid_codes(session, staff_id, at)
    if not codes:
        return []
    return list(session.scalars(select(Grid).where(Grid.code.in_(codes), Grid.valid_to.is_(None))
                                .order_by(Grid.code)))


# --- metric projection -----------------------------------------------------------------------

@lru_cache(maxsize=256)
def _laea(lon0: float, lat0: float) -> tuple[Transformer, Transformer]:
    """WGS-84 <-> a Lambert azimuthal equal-area plane centred near (lon0, lat0), in metres:
    areas exact, distances within a few parts per million over a city district."""
    proj = f"+proj=laea +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs"
    return (Transformer.from_crs("EPSG:4326", proj, always_xy=True),
            Transformer.from_crs(proj, "EPSG:4326", always_xy=True))


def projector(geom) -> Transformer:
    """A metric projection for ``geom`` (centre rounded to 0.05 degree, so it is shared)."""
    c = geom.centroid
    return _laea(round(c.x * 20) / 20, round(c.y * 20) / 20)[0]


def project(geom, transformer: Transformer):
    def apply(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(transformer.transform(coords[:, 0], coords[:, 1]))

    return shapely.transform(geom, apply)


def haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres (numpy arrays or floats)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))


# --- patrols ---------------------------------------------------------------------------------

def open_patrol(session, staff_id: int) -> Patrol | None:
    return session.scalar(select(Patrol).where(Patrol.staff_id == staff_id, Patrol.ended_at.is_(None)))


def open_patrol_id(session, staff_id: int | None) -> int | None:
    """The staff member's open patrol, for linking a report made during it (dispatch.intake)."""
    if staff_id is None:
        return None
    return session.scalar(select(Patrol.id).where(Patrol.staff_id == staff_id, Patrol.ended_at.is_(None)))


def start(session, staff: Staff) -> Patrol:
    """Open a patrol. A worker has at most one open patrol: a second start (or two racing
    ones) is 409 ``patrol_open`` naming the open one (the partial unique index decides)."""
    current = open_patrol(session, staff.id)
    if current is not None:
        raise Conflict("patrol_open", id=current.id, details={"patrol_id": current.id})
    patrol = Patrol(staff_id=staff.id, started_at=utcnow(), distance_m=0.0, accepted=0,
                    **{f"rejected_{r}": 0 for r in REASONS})
    try:
        with session.begin_nested():
            session.add(patrol)
            session.flush()
    except IntegrityError:
        current = open_patrol(session, staff.id)
        raise Conflict("patrol_open", id=current.id if current else "?",
                       details={"patrol_id": current.id if current else None}) from None
    return patrol


def mine(session, staff: Staff, patrol_id: int, *, lock: bool = False) -> Patrol:
    """One of my patrols (another's is 404, as if it did not exist)."""
    patrol = session.get(Patrol, patrol_id, with_for_update=lock or None)
    if patrol is None or patrol.staff_id != staff.id:
        raise NotFound("patrol", patrol_id)
    return patrol


def end(session, patrol: Patrol) -> Patrol:
    """End the patrol (ending an ended one changes nothing)."""
    if patrol.ended_at is None:
        patrol.ended_at = utcnow()
        session.flush()
    return patrol


def checkin(session, patrol: Patrol, staff: Staff, lon: float, lat: float, crs: str,
            at: datetime | None = None) -> tuple[PatrolCheckin, Grid]:
    """Check in at the grid the point lies in; it must be one of mine (422 ``not_my_grid``),
    inside some grid (404 ``point_outside``), during an open patrol (409 ``patrol_ended``)."""
    if patrol.ended_at is not None:
        raise Conflict("patrol_ended", id=patrol.id)
    lon, lat = convert_point(lon, lat, parse_crs(crs), "wgs84")
    grid = locator.locate(session, lon, lat)
    if grid is None:
        raise ApiError("point_outside", status=404, lon=lon, lat=lat)
    if grid.code not in my_grid_codes(session, staff.id):
        raise ApiError("not_my_grid", status=422, grid_code=grid.code, name=grid.name)
    row = PatrolCheckin(patrol_id=patrol.id, staff_id=staff.id, grid_code=grid.code, at=at or utcnow(),
                        lon=lon, lat=lat)
    session.add(row)
    session.flush()
    return row, grid


def checkins(session, patrol_id: int) -> list[PatrolCheckin]:
    return list(session.scalars(select(PatrolCheckin).where(PatrolCheckin.patrol_id == patrol_id)
                                .order_by(PatrolCheckin.at, PatrolCheckin.id)))


# --- uploads ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    patrol_id: int
    accepted: int
    rejected: dict
    totals: dict  # the patrol's running totals after this batch (Patrol.totals() shape)


@dataclass
class UploadTarget:
    """What an upload needs of its patrol, read (and row-locked) in one statement on
    PostgreSQL: the patrol's window and last accepted point, my grid codes now, and which of
    the batch's day partitions are missing."""

    id: int
    staff_id: int
    started_at: datetime
    ended_at: datetime | None
    last_at: datetime | None
    last_lon: float | None
    last_lat: float | None
    codes: tuple[str, ...]
    missing: frozenset[str]


# One round trip instead of four (patrol FOR UPDATE, my grids, partitions, and the ORM's
# own): the upload runs on Core, its patrol row locked until the request commits.
TARGET_PG = text(
    "SELECT p.id, p.staff_id, p.started_at, p.ended_at, p.last_at, p.last_lon, p.last_lat, "
    "ARRAY(SELECT a.grid_code FROM grid_assignments a WHERE a.staff_id = p.staff_id "
    "AND a.valid_from <= :now AND (a.valid_to IS NULL OR a.valid_to > :now) ORDER BY a.grid_code) AS codes, "
    "ARRAY(SELECT n FROM unnest(CAST(:names AS text[])) AS n WHERE to_regclass(n) IS NULL) AS missing "
    "FROM patrols p WHERE p.id = :id FOR UPDATE OF p").columns(
    column("id", Integer), column("staff_id", Integer), column("started_at", UTCDateTime),
    column("ended_at", UTCDateTime), column("last_at", UTCDateTime), column("last_lon", Float),
    column("last_lat", Float), column("codes"), column("missing"))


def upload_target(session, staff_id: int, patrol_id: int, days) -> UploadTarget:
    """My patrol ``patrol_id`` locked for an upload touching UTC ``days`` (another's is 404)."""
    if partitions.is_postgres(session):
        row = session.execute(TARGET_PG, {"id": patrol_id, "now": utcnow(),
                                          "names": [partitions.partition_name(d) for d in sorted(set(days))]}).first()
        if row is None or row.staff_id != staff_id:
            raise NotFound("patrol", patrol_id)
        return UploadTarget(row.id, row.staff_id, row.started_at, row.ended_at, row.last_at, row.last_lon,
                            row.last_lat, tuple(row.codes), frozenset(row.missing))
    p = Patrol.__table__.c
    row = session.execute(select(p.id, p.staff_id, p.started_at, p.ended_at, p.last_at, p.last_lon, p.last_lat)
                          .where(p.id == patrol_id)).first()
    if row is None or row.staff_id != staff_id:
        raise NotFound("patrol", patrol_id)
    return UploadTarget(*row, codes=tuple(my_grid_codes(session, staff_id)), missing=frozenset())


class LocalPlane:
    """An equirectangular plane tangent at (lon0, lat0), in metres, on the WGS-84 ellipsoid's
    local radii (meridian ``M`` north-south, prime vertical ``N`` east-west). numpy only.

    Why not :func:`projector` (pyproj): a pyproj ``Transformer`` builds its PROJ object again
    in every thread that uses it, and the development server answers each connection in a new
    thread: that rebuild was 28% of the server's CPU on an upload (py-spy). The ``outside``
    filter compares a distance with a threshold of hundreds of metres to kilometres; on this
    plane a distance within 20 km of the centre is off by under 0.3% (the east-west scale
    drifts with latitude as tan(lat0) * dlat), a few metres at the threshold."""

    A, F = 6_378_137.0, 1 / 298.257223563  # WGS-84

    def __init__(self, lon0: float, lat0: float):
        e2 = self.F * (2 - self.F)
        phi = math.radians(lat0)
        w = math.sqrt(1 - e2 * math.sin(phi) ** 2)
        self.lon0, self.lat0 = lon0, lat0
        self.kx = math.radians(1) * self.A / w * math.cos(phi)  # metres per degree of longitude
        self.ky = math.radians(1) * self.A * (1 - e2) / w ** 3  # metres per degree of latitude

    def xy(self, lons, lats) -> tuple[np.ndarray, np.ndarray]:
        return ((np.asarray(lons, dtype=float) - self.lon0) * self.kx,
                (np.asarray(lats, dtype=float) - self.lat0) * self.ky)

    def project(self, geom):
        return shapely.transform(geom, lambda c: np.column_stack(self.xy(c[:, 0], c[:, 1])))


_areas: dict[tuple, tuple] = {}  # (grid layer version, my codes) -> (plane, projected union)


def _my_area(session, codes: tuple[str, ...]):
    """The union of my grids ``codes`` on its :class:`LocalPlane`, kept per grid layer
    version and set of codes (the layer's version token changes with any grid change:
    grid.grids.locator)."""
    if not codes:
        return None
    key = (locator.current_index(session).version, codes)
    found = _areas.get(key)
    if found is None:
        grids = session.scalars(select(Grid.geom).where(Grid.code.in_(codes), Grid.valid_to.is_(None))).all()
        if not grids:
            return None
        union = shapely.union_all(list(grids))
        centre = union.centroid
        plane = LocalPlane(centre.x, centre.y)
        area = plane.project(union)
        shapely.prepare(area)
        if len(_areas) > 10_000:
            _areas.clear()
        found = _areas[key] = (plane, area)
    return found


def _outside_filter(session, codes: tuple[str, ...], lons: np.ndarray, lats: np.ndarray,
                    limit_m: float) -> np.ndarray:
    """True for each point farther than ``limit_m`` from all my grids (vectorised)."""
    mine = _my_area(session, codes) if len(lons) else None
    if mine is None:
        return np.zeros(len(lons), dtype=bool)
    plane, area = mine
    xs, ys = plane.xy(lons, lats)
    return shapely.distance(shapely.points(xs, ys), area) > limit_m


def _haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """:func:`haversine_m` for two floats, without numpy's per-call overhead (the speed walk)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def upload(session, staff_id: int, patrol_id: int, points: PointBatch | list[dict],
           default_crs: str = "wgs84") -> Outcome:
    """Store a batch of points (a :class:`PointBatch`, or dicts with ``t`` aware datetime,
    ``lon``, ``lat``, optional ``crs``, ``accuracy`` m, ``speed`` m/s) on my patrol
    ``patrol_id`` (another's is 404): filter, insert in one statement (``ON CONFLICT DO
    NOTHING`` on (patrol, time)), add to the patrol's totals, move its last point. The patrol
    row stays locked until the request commits: batches of one patrol queue. On PostgreSQL two
    statements, both Core: :data:`TARGET_PG` and :data:`UPLOAD_PG` (plus a partition when a
    day lacks one, and a second update when part of the batch was stored before); the work
    is column-wise (lists and numpy arrays)."""
    batch = points if isinstance(points, PointBatch) else PointBatch.from_dicts(points)
    settings = current_settings()
    n = len(batch)
    utc = [t.astimezone(UTC) for t in batch.t]
    patrol = upload_target(session, staff_id, patrol_id, {t.date() for t in utc})
    rejected = dict.fromkeys(REASONS, 0)
    if n == 0:
        return Outcome(patrol.id, 0, rejected, _totals(session, patrol.id))
    order = sorted(range(n), key=utc.__getitem__)  # stable: equal times keep their order
    ts = [utc[i] for i in order]
    accuracy = [batch.accuracy[i] for i in order]
    speed = [batch.speed[i] for i in order]
    lons = np.array(batch.lon, dtype=float)[order]
    lats = np.array(batch.lat, dtype=float)[order]
    default = parse_crs(default_crs)
    systems = [batch.crs[i] or default for i in order]
    for crs in set(systems) - {"wgs84"}:
        idx = [i for i in range(n) if systems[i] == crs]
        coords = convert_coords(np.column_stack([lons[idx], lats[idx]]), crs, "wgs84")
        lons[idx], lats[idx] = coords[:, 0], coords[:, 1]

    now = utcnow()
    earliest = max(patrol.started_at - CLOCK_SKEW,
                   datetime.combine(partitions.cutoff(), time.min, tzinfo=UTC))  # dropped days stay dropped
    latest = min(now, patrol.ended_at or now) + CLOCK_SKEW
    max_accuracy = settings.patrol_max_accuracy_m
    flags: list[str | None] = [None] * n
    first_of_time: list[int] = list(range(n))
    for i in range(n):
        if i and ts[i] == ts[i - 1]:
            flags[i] = "duplicate"
            first_of_time[i] = first_of_time[i - 1]
        elif not earliest <= ts[i] <= latest:
            flags[i] = "time"
        elif (acc := accuracy[i]) is not None and acc > max_accuracy:
            flags[i] = "accuracy"
    candidates = [i for i in range(n) if flags[i] is None]
    if candidates:
        far = _outside_filter(session, patrol.codes, lons[candidates], lats[candidates],
                              settings.patrol_max_outside_m)
        if far.any():
            for i, is_far in zip(candidates, far.tolist(), strict=True):
                if is_far:
                    flags[i] = "outside"
    # implied speed from the previous accepted point (sequential by nature). The distances
    # between consecutive candidates are computed at once (numpy); a point measured from an
    # earlier anchor (after a jump) is computed on its own.
    anchor = None
    if patrol.last_at is not None and patrol.last_lon is not None:
        anchor = (patrol.last_at, patrol.last_lon, patrol.last_lat)
    max_speed = settings.patrol_max_speed_mps
    gap = settings.patrol_gap_seconds
    lon_list, lat_list = lons.tolist(), lats.tolist()
    candidates = [i for i in candidates if flags[i] is None]
    step = [0.0]  # step[k]: metres from candidate k-1 to candidate k
    if len(candidates) > 1:
        c = np.asarray(candidates)
        step += haversine_m(lons[c[:-1]], lats[c[:-1]], lons[c[1:]], lats[c[1:]]).tolist()
    previous = None  # the point index of the anchor, None for the patrol's own last point
    chain = 0.0
    for k, i in enumerate(candidates):
        if anchor is not None and ts[i] > anchor[0]:
            dt = (ts[i] - anchor[0]).total_seconds()
            d = step[k] if k and candidates[k - 1] == previous \
                else _haversine(anchor[1], anchor[2], lon_list[i], lat_list[i])
            if d / dt > max_speed:
                flags[i] = "speed"
                continue
            if dt <= gap:
                chain += d
        if anchor is None or ts[i] > anchor[0]:
            anchor = (ts[i], lon_list[i], lat_list[i])
            previous = i

    # a point outside the patrol's time is stored (flagged) when its day is within the
    # retention and not after tomorrow; one further away (years) is counted only, each time
    storable_from = datetime.combine(partitions.cutoff(), time.min, tzinfo=UTC)
    storable_to = datetime.combine(partitions.utc_day(now) + timedelta(days=2), time.min, tzinfo=UTC)
    stored = [i for i in range(n) if flags[i] != "duplicate"
              and (flags[i] != "time" or storable_from <= ts[i] < storable_to)]
    days = {ts[i].date() for i in stored}
    if any(partitions.partition_name(day) in patrol.missing for day in days):
        partitions.ensure_days(session, days)
    columns = {"patrol_id": patrol.id, "t": [ts[i] for i in stored], "lon": [lon_list[i] for i in stored],
               "lat": [lat_list[i] for i in stored], "accuracy": [accuracy[i] for i in stored],
               "speed": [speed[i] for i in stored], "flag": [flags[i] for i in stored]}

    def account(ins: set[int]) -> tuple[int, dict, dict, dict]:
        """This batch's accepted and rejected counts, what they add to the patrol's totals, and
        the patrol's new last point (``{}`` when it stays), given ``ins``: the indices of the
        points actually inserted."""
        rejected = dict.fromkeys(REASONS, 0)
        accepted = 0
        for i in ins:
            if flags[i] is None:
                accepted += 1
            else:
                rejected[flags[i]] += 1
        totals = dict(rejected)
        for i in range(n):
            if flags[i] == "time" and i not in kept:
                rejected["time"] += 1
                totals["time"] += 1
            elif flags[i] == "duplicate":
                rejected["duplicate"] += 1
                if first_of_time[i] in ins:  # a retry's duplicates are not counted twice
                    totals["duplicate"] += 1
            elif i not in ins:  # already stored: a retried point
                rejected["duplicate"] += 1
        # ts is sorted: the newest accepted point inserted is the last such index
        newest = next((i for i in reversed(stored) if flags[i] is None and i in ins), None)
        moved = {}
        if newest is not None and (patrol.last_at is None or ts[newest] > patrol.last_at):
            moved = {"last_at": ts[newest], "last_lon": lon_list[newest], "last_lat": lat_list[newest],
                     "distance": chain}
        return accepted, rejected, totals, moved

    kept = set(stored)
    if partitions.is_postgres(session):
        # The usual batch (no point stored before): insert and update in one statement, the
        # update computed as if every row goes in and applied only if they all did.
        accepted, rejected, totals, moved = account(kept)
        row = session.execute(UPLOAD_PG, {
            **array_literals(columns), "stored": len(stored), "add_accepted": accepted,
            **{f"add_{reason}": totals[reason] for reason in REASONS},
            "last_at": moved.get("last_at"), "last_lon": moved.get("last_lon"), "last_lat": moved.get("last_lat"),
            "add_distance": moved.get("distance", 0.0)}).one()
        if row.inserted == len(stored):
            return Outcome(patrol.id, accepted, rejected, _totals_of(row[2:]))
        inserted = {t.astimezone(UTC) for t in row.times}  # a retry: some points were stored already
    else:
        inserted = set(_insert(session, patrol.id, columns))
    accepted, rejected, totals, moved = account({i for i in stored if ts[i] in inserted})
    values: dict = {}
    if accepted:
        values["accepted"] = P.accepted + accepted
    for reason, count in totals.items():
        if count:
            values[f"rejected_{reason}"] = getattr(P, f"rejected_{reason}") + count
    if moved:
        values.update(last_at=moved["last_at"], last_lon=moved["last_lon"], last_lat=moved["last_lat"],
                      distance_m=P.distance_m + moved["distance"])
    if not values:
        return Outcome(patrol.id, accepted, rejected, _totals(session, patrol.id))
    row = session.execute(update(Patrol.__table__).where(P.id == patrol.id).values(values).returning(*TOTALS)).one()
    return Outcome(patrol.id, accepted, rejected, _totals_of(row))


P = Patrol.__table__.c
TOTALS = (P.accepted, *(getattr(P, f"rejected_{reason}") for reason in REASONS))


def _totals_of(row) -> dict:
    return {"accepted": row[0], "rejected": dict(zip(REASONS, row[1:], strict=True))}


def _totals(session, patrol_id: int) -> dict:
    return _totals_of(session.execute(select(*TOTALS).where(P.id == patrol_id)).one())


# One statement per batch whatever its size: seven arrays, no per-row SQL to compile.
INSERT_PG = text(
    "INSERT INTO patrol_points (patrol_id, t, lon, lat, accuracy, speed, flag) "
    "SELECT :patrol_id, * FROM unnest(CAST(:t AS timestamptz[]), CAST(:lon AS float8[]), "
    "CAST(:lat AS float8[]), CAST(:accuracy AS float8[]), CAST(:speed AS float8[]), CAST(:flag AS text[])) "
    "ON CONFLICT (patrol_id, t) DO NOTHING RETURNING t, flag")

# The insert and the patrol's update in one round trip. The update is applied only when every
# row went in (``ins`` counted): then its additions, computed in Python as if so, are right.
# Otherwise (a retried batch) the statement answers the times inserted and the caller updates
# with the real counts. ``ins`` runs exactly once however often it is read.
UPLOAD_PG = text(
    "WITH ins AS (" + INSERT_PG.text + "), "
    "n AS (SELECT count(*) AS inserted FROM ins), "
    "upd AS (UPDATE patrols SET accepted = accepted + :add_accepted, "
    + "".join(f"rejected_{r} = rejected_{r} + :add_{r}, " for r in REASONS) +
    "last_at = COALESCE(CAST(:last_at AS timestamptz), last_at), "
    "last_lon = COALESCE(CAST(:last_lon AS float8), last_lon), "
    "last_lat = COALESCE(CAST(:last_lat AS float8), last_lat), distance_m = distance_m + :add_distance "
    "WHERE id = :patrol_id AND (SELECT inserted FROM n) = :stored "
    "RETURNING accepted, " + ", ".join(f"rejected_{r}" for r in REASONS) + ") "
    "SELECT n.inserted, CASE WHEN n.inserted = :stored THEN NULL ELSE ARRAY(SELECT t FROM ins) END AS times, "
    "upd.* FROM n LEFT JOIN upd ON true")


def _literal(values, write) -> str:
    if None in values:
        return "{" + ",".join("NULL" if v is None else write(v) for v in values) + "}"
    return "{" + ",".join(map(write, values)) + "}"


def _quoted_iso(t: datetime) -> str:
    return f'"{t.isoformat()}"'


def array_literals(columns: dict) -> dict:
    """The columns as PostgreSQL array literals (``{...}`` text the statement casts): built
    with ``repr`` and ``isoformat`` they cost ~0.1 ms a batch where psycopg's list dumper,
    escaping each element with a regular expression, cost ~0.5 ms. Exact: ``repr`` of a float
    reads back as the same float, ``isoformat`` keeps microseconds and the offset; the flags
    are the fixed words of REASONS."""
    return {"patrol_id": columns["patrol_id"],
            "t": _literal(columns["t"], _quoted_iso),
            "lon": _literal(columns["lon"], repr), "lat": _literal(columns["lat"], repr),
            "accuracy": _literal(columns["accuracy"], repr), "speed": _literal(columns["speed"], repr),
            "flag": _literal(columns["flag"], str)}


def _insert(session, patrol_id: int, columns: dict) -> list[datetime]:
    """SQLite: insert the rows (``ON CONFLICT DO NOTHING``) in one statement; the times
    inserted (UTC). PostgreSQL uses :data:`UPLOAD_PG`."""
    if not columns["t"]:
        return []
    names = ("t", "lon", "lat", "accuracy", "speed", "flag")
    rows = [{"patrol_id": patrol_id, **dict(zip(names, row, strict=True))}
            for row in zip(*(columns[name] for name in names), strict=True)]
    result = session.execute(sqlite.insert(PatrolPoint).values(rows).on_conflict_do_nothing(
        index_elements=["patrol_id", "t"]).returning(PatrolPoint.t))
    return [(t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC) for (t,) in result]


# --- who is on patrol now ---------------------------------------------------------------------

def active(session) -> list[tuple[Patrol, Staff]]:
    """Open patrols with their worker, latest position first (never-located ones last)."""
    rows = session.execute(select(Patrol, Staff).join(Staff, Staff.id == Patrol.staff_id)
                           .where(Patrol.ended_at.is_(None))
                           .order_by(Patrol.last_at.is_(None), Patrol.last_at.desc(), Patrol.id)).all()
    return [(p, s) for p, s in rows]


# --- tracks and figures ----------------------------------------------------------------------

def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(current_settings().timezone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def today() -> date:
    return utcnow().astimezone(ZoneInfo(current_settings().timezone)).date()


def patrols_during(session, staff_id: int | None, start: datetime, end: datetime) -> list[Patrol]:
    query = select(Patrol).where(Patrol.started_at < end, or_(Patrol.ended_at.is_(None), Patrol.ended_at > start))
    if staff_id is not None:
        query = query.where(Patrol.staff_id == staff_id)
    return list(session.scalars(query.order_by(Patrol.started_at, Patrol.id)))


def track_points(session, patrol_ids: list[int], start: datetime, end: datetime) -> dict[int, list[tuple]]:
    """patrol id -> [(t, lon, lat), ...] of accepted points in [start, end), by time."""
    if not patrol_ids:
        return {}
    rows = session.execute(select(PatrolPoint.patrol_id, PatrolPoint.t, PatrolPoint.lon, PatrolPoint.lat)
                           .where(PatrolPoint.patrol_id.in_(patrol_ids), PatrolPoint.t >= start,
                                  PatrolPoint.t < end, PatrolPoint.flag.is_(None))
                           .order_by(PatrolPoint.patrol_id, PatrolPoint.t))
    out: dict[int, list[tuple]] = {}
    for pid, t, lon, lat in rows:
        out.setdefault(pid, []).append((t, lon, lat))
    return out


def segments(points: list[tuple], gap_seconds: float) -> list[list[tuple]]:
    """Split a patrol's points where two are more than ``gap_seconds`` apart (signal lost:
    the straight line between them was not walked)."""
    out: list[list[tuple]] = []
    for p in points:
        if out and (p[0] - out[-1][-1][0]).total_seconds() <= gap_seconds:
            out[-1].append(p)
        else:
            out.append([p])
    return out


def _geometry(segment: list[tuple]):
    coords = [(lon, lat) for _, lon, lat in segment]
    return Point(coords[0]) if len(coords) == 1 else LineString(coords)


def _length_m(segment: list[tuple]) -> float:
    if len(segment) < 2:
        return 0.0
    a = np.array([(lon, lat) for _, lon, lat in segment])
    return float(np.sum(haversine_m(a[:-1, 0], a[:-1, 1], a[1:, 0], a[1:, 1])))


@dataclass
class DayTrack:
    staff_id: int
    day: date
    patrols: list[Patrol]
    segments: dict[int, list[list[tuple]]]  # patrol id -> its segments that day

    def all_segments(self) -> list[list[tuple]]:
        return [s for segs in self.segments.values() for s in segs]


def day_track(session, staff_id: int, day: date) -> DayTrack:
    start, end = local_day_bounds(day)
    patrols = patrols_during(session, staff_id, start, end)
    points = track_points(session, [p.id for p in patrols], start, end)
    gap = current_settings().patrol_gap_seconds
    return DayTrack(staff_id, day, patrols, {pid: segments(pts, gap) for pid, pts in points.items()})


def patrol_seconds(patrols: list[Patrol], start: datetime, end: datetime, now: datetime | None = None) -> float:
    """Time on patrol within [start, end) (an open patrol runs until now)."""
    now = now or utcnow()
    total = 0.0
    for p in patrols:
        lo, hi = max(p.started_at, start), min(p.ended_at or now, end)
        total += max((hi - lo).total_seconds(), 0.0)
    return total


def coverage(grids: list[Grid], segs: list[list[tuple]], distance_m: float) -> list[dict]:
    """Per grid: its area and the part of it within ``distance_m`` of the track (m²), each
    grid measured in its own equal-area projection."""
    out = []
    geoms = [_geometry(s) for s in segs]
    for grid in grids:
        transformer = projector(grid.geom)
        area_shape = project(grid.geom, transformer)
        area = float(area_shape.area)
        covered = 0.0
        if geoms:
            near = project(shapely.union_all(geoms), transformer).buffer(distance_m)
            covered = float(area_shape.intersection(near).area)
        out.append({"code": grid.code, "name": grid.name, "area_m2": area, "covered_m2": covered,
                    "coverage": covered / area if area else None})
    return out


def day_figures(session, staff_id: int, day: date) -> dict:
    """A worker's day: patrol time and distance, and the coverage of each of their grids."""
    start, end = local_day_bounds(day)
    track = day_track(session, staff_id, day)
    segs = track.all_segments()
    grids = my_grids(session, staff_id, min(end, utcnow()) - timedelta(microseconds=1))
    per_grid = coverage(grids, segs, current_settings().patrol_coverage_m)
    area = sum(g["area_m2"] for g in per_grid)
    covered = sum(g["covered_m2"] for g in per_grid)
    return {"staff_id": staff_id, "day": day, "patrols": len(track.patrols),
            "patrol_seconds": round(patrol_seconds(track.patrols, start, end)),
            "distance_m": round(sum(_length_m(s) for s in segs), 1),
            "points": sum(len(s) for s in segs),
            "coverage": covered / area if area else None, "grids": per_grid}


def period_figures(session, start: datetime, end: datetime) -> dict[int, dict]:
    """The indicators' patrol figures over local days touching [start, end): per worker who
    patrolled, seconds, metres, and per grid of theirs covered and total area summed over the
    days they patrolled (coverage on patrol days: a day without a patrol shows in the time)."""
    zone = ZoneInfo(current_settings().timezone)
    staff_ids = sorted({p.staff_id for p in patrols_during(session, None, start, end)})
    out: dict[int, dict] = {}
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    for staff_id in staff_ids:
        row = {"seconds": 0, "distance_m": 0.0, "grids": {}}
        day = first
        while day <= last:
            lo, hi = local_day_bounds(day)
            lo, hi = max(lo, start), min(hi, end)
            patrols = patrols_during(session, staff_id, lo, hi)
            if patrols:
                figures = day_figures(session, staff_id, day)
                row["seconds"] += round(patrol_seconds(patrols, lo, hi))
                row["distance_m"] += figures["distance_m"]
                for g in figures["grids"]:
                    covered, area = row["grids"].get(g["code"], (0.0, 0.0))
                    row["grids"][g["code"]] = (covered + g["covered_m2"], area + g["area_m2"])
            day += timedelta(days=1)
        out[staff_id] = row
    return out


def geojson_track(track: DayTrack, crs_out) -> dict:
    """The day's track as a FeatureCollection: one LineString (or Point) per segment, with
    its patrol, first and last time; ``crs_out(geom)`` converts to the client's system."""
    features = []
    for pid, segs in track.segments.items():
        for n, seg in enumerate(segs):
            geom = crs_out(_geometry(seg))
            features.append({"type": "Feature", "geometry": mapping(geom),
                             "properties": {"patrol_id": pid, "segment": n, "points": len(seg),
                                            "start": seg[0][0], "end": seg[-1][0],
                                            "distance_m": round(_length_m(seg), 1)}})
    return {"type": "FeatureCollection", "features": features}

