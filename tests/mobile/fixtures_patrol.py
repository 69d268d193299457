"""Helpers for the patrol tests: tracks across the ``city`` fixture's grids (一号网格 is
lon 121.40..121.41, lat 31.20..31.21, worker1's; 二号网格 is lon 121.41..121.42, worker2's)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pyproj import Geod

GEOD = Geod(ellps="WGS84")
PHONE = "/api/m/v1/patrols"
DESK = "/api/v1/patrols"


def iso(t: datetime) -> str:
    return t.isoformat()


def line(lon1, lon2, lat, n, t0, step_s=10, **extra) -> list[dict]:
    """``n`` points evenly from lon1 to lon2 along ``lat``, ``step_s`` seconds apart."""
    return [{"time": iso(t0 + timedelta(seconds=i * step_s)), "lon": lon1 + (lon2 - lon1) * i / (n - 1),
             "lat": lat, "accuracy": 8, "speed": 1.4, **extra} for i in range(n)]


def start(client, city, who="worker1") -> dict:
    r = client.post(PHONE, headers=city.h(who))
    assert r.status_code == 201, r.json
    return r.json


def upload(client, city, patrol_id, points, who="worker1", expect=200, **body):
    r = client.post(f"{PHONE}/{patrol_id}/points", json={"points": points, **body}, headers=city.h(who))
    assert r.status_code == expect, r.json
    return r.json


def begin() -> datetime:
    """A start time for track points: just after the patrol's start (now) minus the allowed
    clock skew, so every point of a few minutes is in the past and after the start."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=4)


def local_day(t: datetime):
    return t.astimezone(ZoneInfo("Asia/Shanghai")).date()


def geodesic_m(lon1, lat1, lon2, lat2) -> float:
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def box_area_m2(w, s, e, n) -> float:
    lons, lats = [w, e, e, w, w], [s, s, n, n, s]
    return abs(GEOD.polygon_area_perimeter(lons, lats)[0])
