"""What the ``me`` part answers, built from the registry's services (accounts, grids)."""
from __future__ import annotations

from shapely.geometry import mapping

from grid.accounts.service import current_grid_codes
from grid.grids.service import current_grids_by_code
from grid.models import GRID_LEVELS, DeviceSession, Staff
from grid.roles import role_label
from mobile_api.crs import geometry_out
from wangge.i18n import current_language


def profile(session, staff: Staff) -> dict:
    lang = current_language()
    dept = staff.department
    return {"id": staff.id, "username": staff.username, "name": staff.name, "phone": staff.phone,
            "language": staff.language, "timezone": staff.timezone,
            "roles": [{"code": role, "label": role_label(role, lang)} for role in staff.roles],
            "department": dept and {"code": dept.code, "name": dept.name, "kind": dept.kind},
            "grid_codes": current_grid_codes(session, staff)}


def my_grids(session, staff: Staff, crs: str) -> dict:
    """My current grids and every current parent up the chain, as a FeatureCollection in
    ``crs``, from the top level down (then by code)."""
    mine = current_grids_by_code(session, current_grid_codes(session, staff))
    grids = dict(mine)
    # One query per level up (not one per grid and level, as ``chain`` for each grid would):
    # the current grids of the parent codes not yet seen, which also stops on a cycle.
    wanted = {g.parent_code for g in mine.values() if g.parent_code} - grids.keys()
    while wanted:
        found = current_grids_by_code(session, wanted)
        grids.update(found)
        wanted = {g.parent_code for g in found.values() if g.parent_code} - grids.keys()
    ordered = sorted(grids.values(), key=lambda g: (GRID_LEVELS.index(g.level), g.code))
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": g.code,
         "properties": {"code": g.code, "name": g.name, "level": g.level, "parent_code": g.parent_code,
                        "mine": g.code in mine},
         "geometry": mapping(geometry_out(g.geom, crs))}
        for g in ordered]}


def device_view(device: DeviceSession, current_id: int | None) -> dict:
    return {"id": device.id, "device_name": device.device_name, "platform": device.platform,
            "created_at": device.created_at, "last_seen_at": device.last_seen_at,
            "signed_out_at": device.revoked_at, "current": device.id == current_id}
