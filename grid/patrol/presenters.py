"""How patrols look in answers (points converted to the client's ``crs``)."""
from __future__ import annotations

from geo.crs import convert_geometry, convert_point
from wangge.config import current_settings

from . import service
from .models import Patrol

STORED = "wgs84"


def position(lon, lat, at, crs: str) -> dict | None:
    if lon is None or lat is None:
        return None
    lon, lat = convert_point(lon, lat, STORED, crs)
    return {"lon": lon, "lat": lat, "at": at}


def patrol_view(patrol: Patrol, crs: str = STORED) -> dict:
    return {"id": patrol.id, "staff_id": patrol.staff_id, "started_at": patrol.started_at,
            "ended_at": patrol.ended_at, "open": patrol.ended_at is None,
            "last": position(patrol.last_lon, patrol.last_lat, patrol.last_at, crs),
            "distance_m": round(patrol.distance_m or 0.0, 1), "totals": patrol.totals()}


def upload_view(outcome: service.Outcome) -> dict:
    return {"patrol_id": outcome.patrol_id, "accepted": outcome.accepted, "rejected": outcome.rejected,
            "totals": outcome.totals}


def checkin_view(row, grid, crs: str = STORED) -> dict:
    lon, lat = convert_point(row.lon, row.lat, STORED, crs)
    return {"id": row.id, "patrol_id": row.patrol_id, "grid_code": grid.code, "grid_name": grid.name,
            "at": row.at, "lon": lon, "lat": lat}


def figures_view(figures: dict) -> dict:
    return {**figures, "coverage_distance_m": current_settings().patrol_coverage_m}


def track_view(track: service.DayTrack, crs: str) -> dict:
    collection = service.geojson_track(track, lambda geom: convert_geometry(geom, STORED, crs))
    return {**collection, "staff_id": track.staff_id, "day": track.day, "crs": crs}


def active_view(rows, crs: str) -> dict:
    return {"crs": crs, "items": [
        {"patrol_id": p.id, "staff": {"id": s.id, "name": s.name, "username": s.username},
         "started_at": p.started_at, "last": position(p.last_lon, p.last_lat, p.last_at, crs),
         "distance_m": round(p.distance_m or 0.0, 1), "accepted": p.accepted} for p, s in rows]}
