"""Correcting a case before dispatch: ``reclassify`` (改类) and ``relocate`` (改址/定位).

A citizen or hotline report often arrives without a category or a point; a clerk finds the
right ones later. Both verbs go through ``dispatch.workflow.actions.act`` like every verb
(lifecycle table, roles, ``expected_version``, the case row's version check, one event) and
these are their side effects, registered by ``dispatch.init_app``. They do again what
intake did with the report's category and place (docs/dispatch.md, "Correcting a case"):

- the category is checked as intake checks it (``rules.check_category``: an active small
  class); the point is located by the same in-memory grid index (``grid.grids.locator``),
  or the clerk names a current unit grid (an address with no geocoder);
- routing runs again: the responsibility matrix's suggestion and its reason
  (``grid.matrix.service.explain``), stored on the case as intake stores them; in
  ``opened``, a changed suggestion for an ``auto_dispatch`` category is dispatched, as
  ``open`` would have;
- the running stage clock is re-armed with the new category's limit
  (``dispatch.clocks.deadlines.rearm``, asked of ``act`` through the event data's ``_clock``); a verify task whose case moved to another grid goes to that grid's
  worker, with a fresh verify clock;
- the duplicate flag is worked out again (``service.find_duplicate``: same category, near);
- the event's ``data`` holds ``before`` and ``after`` (category, or grid, point and address),
  the suggested department before and after and the matrix's reason.

The KPI roll-up follows by itself: the trigger of migration 0015 marks the case dirty when
its ``category_code`` or ``grid_code`` changes, and the facts take the case's current ones.
"""
from __future__ import annotations

from shapely.geometry import Point
from sqlalchemy.orm.attributes import set_committed_value

from dispatch.cases.models import Case
from dispatch.intake import rules
from dispatch.intake.service import find_duplicate
from grid.catalog import reference
from grid.grids import locator
from grid.grids.service import workers_of
from grid.matrix import service as matrix
from grid.models import Department, Grid
from wangge.errors import ApiError, validation_error
from wangge.i18n import t

UNIT_LEVEL = "grid"  # relocate names a unit grid (单元网格), never a street or a community


def reclassify(session, case: Case, actor, payload, data: dict, target: str) -> None:
    """Another category: routing, the stage clock's limit and the duplicate flag follow."""
    code = payload.category_code
    problems = rules.check_category(code, lambda c: reference.category(session, c))
    if problems:
        raise rules.refusal({"category_code": problems})
    if code == case.category_code:
        raise ApiError("correction_unchanged", status=409, number=case.number,
                       fields={"category_code": [t("correction_same_category", code=code)]})
    data["before"], data["after"] = {"category_code": case.category_code}, {"category_code": code}
    case.category_code = code
    _reroute(session, case, data, locator.current_index(session))
    data["_clock"] = "rearm"  # the new category's limit for the running stage (``act`` moves clocks)
    _recheck_duplicate(session, case, data)


def relocate(session, case: Case, actor, payload, data: dict, target: str) -> None:
    """Another place: a WGS-84 point (its grid found as intake finds it) or a current unit grid
    named by the clerk, and optionally the address as text. Routing, a verify task and the
    duplicate flag follow."""
    built = locator.current_index(session)  # the grids as intake sees them, read once
    grid, point = _new_place(built, case, payload)
    address = payload.address.strip() if payload.address is not None else case.address
    if payload.address is not None and not address:
        raise validation_error({"address": [t("submission_required")]})
    before = _place(case)
    after = {"grid_code": grid.code, "lon": point[0] if point else None, "lat": point[1] if point else None,
             "address": address}
    if after == before:
        raise ApiError("correction_unchanged", status=409, number=case.number,
                       fields={"lon" if payload.lon is not None else "grid_code": [t("correction_same_place")]})
    data["before"], data["after"] = before, after
    data["grid_code"] = grid.code  # as the submit event records it
    moved = grid.code != case.grid_code
    case.grid_id, case.grid_code, case.address = grid.id, grid.code, address
    if point is None:
        case.lon = case.lat = case.location = None
    elif point != (case.lon, case.lat):
        case.lon, case.lat = point
        case.location = Point(*point)
    if moved:
        _reroute(session, case, data, built)
        if case.state == "verifying":
            _reassign_verification(session, case, data)
    _recheck_duplicate(session, case, data)


def _new_place(built, case: Case, payload) -> tuple[locator.GridInfo, tuple[float, float] | None]:
    """(the grid, the WGS-84 point or None) the payload names: 422 naming the field otherwise."""
    lon, lat, code = payload.lon, payload.lat, payload.grid_code
    if (lon is None) != (lat is None):
        raise validation_error({"lon" if lon is None else "lat": [t("submission_pair")]})
    if lon is None and code is None:
        message = [t("correction_place_required")]
        raise validation_error({"lon": message, "lat": message, "grid_code": message})
    chosen = None
    if code is not None:
        chosen = built.grids.get(code)
        if chosen is None:
            raise validation_error({"grid_code": [t("correction_grid_not_current", code=code)]})
        if chosen.level != UNIT_LEVEL:
            raise validation_error({"grid_code": [t("correction_not_unit_grid", code=code)]})
    if lon is None:
        # the clerk names the grid (an address without a point): the case's point stays if it
        # lies in that grid, else it was wrong and goes
        kept = case.lon is not None and built.index.locate(case.lon, case.lat) == chosen.code
        return chosen, (case.lon, case.lat) if kept else None
    found = built.grids.get(built.index.locate(lon, lat))  # the point's grid (``locator.locate_info``)
    if found is None or found.level != UNIT_LEVEL:  # in no grid, or in a street but no unit grid of it
        raise ApiError("point_outside_grids", status=422, lon=f"{lon:g}", lat=f"{lat:g}",
                       fields={"lon": [t("correction_outside_grids")], "lat": [t("correction_outside_grids")]})
    if chosen is not None and found.code != chosen.code:
        raise validation_error({"grid_code": [t("correction_point_elsewhere", grid=found.code, code=chosen.code)]})
    return found, (lon, lat)


def _place(case: Case) -> dict:
    return {"grid_code": case.grid_code, "lon": case.lon, "lat": case.lat, "address": case.address}


def _grid(session, case: Case, built) -> tuple[object | None, list | None]:
    """(the case's grid, its chain or None) for the matrix: the index's records when it is
    current (no SELECT), else the retired version the case was reported in (``explain`` walks
    its chain up)."""
    if case.grid_code is None:
        return None, []
    info = built.grids.get(case.grid_code)
    if info is not None and info.id == case.grid_id:
        return info, built.chain(info.code)
    return (session.get(Grid, case.grid_id) if case.grid_id is not None else None), None


def _reroute(session, case: Case, data: dict, built) -> None:
    """The matrix's suggestion for the case's category and grid, as intake makes it (none
    without a category); the event keeps the suggestion before and after and the reason."""
    explanation = matrix.explain(session, case.category_code, *_grid(session, case, built)) \
        if case.category_code else None
    suggested = explanation.department if explanation is not None else None
    previous = reference.department(session, case.suggested_department_id) \
        or (session.get(Department, case.suggested_department_id) if case.suggested_department_id else None)
    before = previous.code if previous is not None else None
    data["suggested_department"] = {"before": before, "after": suggested.code if suggested else None}
    data["suggestion_reason"] = explanation.reason() if explanation is not None else None
    case.suggestion_reason = explanation.stored_reason() if explanation is not None else None
    if (suggested.id if suggested else None) != case.suggested_department_id:
        case.suggested_department_id = suggested.id if suggested else None
        if "suggested_department" in case.__dict__:  # loaded with the case: kept right
            set_committed_value(case, "suggested_department", session.get(Department, suggested.id) if suggested else None)
        data["_auto_dispatch"] = case.state == "opened"  # as ``open`` would have (``act``)


def _reassign_verification(session, case: Case, data: dict) -> None:
    """A verify task follows the case to its new grid: the first worker there (as
    ``request_verify`` chooses), with a verify clock of their own. A grid without a worker
    leaves the task where it is."""
    workers = workers_of(session, case.grid_code)
    if not workers or case.assignee_id in {w.id for w in workers}:
        return
    data["previous_assignee_id"], data["assignee_id"] = case.assignee_id, workers[0].id
    case.assignee_id, case.assignee = workers[0].id, workers[0]
    data["_clock"] = "restart"


def _recheck_duplicate(session, case: Case, data: dict) -> None:
    """The duplicate flag with the case's category and point now (intake's rule)."""
    found = find_duplicate(session, case)
    if (found.id if found else None) != case.duplicate_of_id:
        data["possible_duplicate_of"] = found.number if found else None
        case.duplicate_of_id = found.id if found else None
