"""Evaluation indicators over a period: JSON, CSV or XLSX (docs/indicators.md)."""
from __future__ import annotations

import io
from datetime import date

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from grid import roles as R
from wangge.auth import current_staff, requires
from wangge.errors import ApiError, validation_error
from wangge.extensions import db
from wangge.present import local_iso

from .. import kpi

blp = Blueprint("kpi", __name__, url_prefix="/api/v1/kpi", description="综合评价 Evaluation indicators")

SEE_ALL = (R.LEADER, R.ADMIN, *R.DISPATCH_CENTER)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _parse_day(name: str, errors: dict) -> date | None:
    raw = request.args.get(name)
    if not raw:
        errors[name] = ["required (YYYY-MM-DD)"]
        return None
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else _bad(name, errors)
    except ValueError:
        return _bad(name, errors)


def _bad(name: str, errors: dict) -> None:
    errors[name] = ["not a valid date (YYYY-MM-DD)"]
    return None


def parse_query() -> tuple[date, date, str, str]:
    errors: dict = {}
    first, last = _parse_day("from", errors), _parse_day("to", errors)
    by = request.args.get("by", "department")
    fmt = request.args.get("format", "json")
    if by not in kpi.GROUPS:
        errors["by"] = [f"must be one of {', '.join(kpi.GROUPS)}"]
    if fmt not in kpi.FORMATS:
        errors["format"] = [f"must be one of {', '.join(kpi.FORMATS)}"]
    if first and last and last < first:
        errors["to"] = ["must not be before from"]
    if errors:
        raise validation_error(errors)
    return first, last, by, fmt


def weights():
    try:
        return kpi.parse_weights(current_app.config["WANGGE"].kpi_weights)
    except kpi.WeightsError as exc:
        raise ApiError("internal_error", status=500, details={"kpi_weights": str(exc)}) from None


@blp.route("")
class Kpi(MethodView):
    @requires(*SEE_ALL, R.DEPARTMENT_HANDLER)
    @blp.doc(parameters=[
        {"in": "query", "name": "from", "required": True, "schema": {"type": "string", "format": "date"},
         "description": "first local day (deployment zone) of the period, included"},
        {"in": "query", "name": "to", "required": True, "schema": {"type": "string", "format": "date"},
         "description": "last local day of the period, included"},
        {"in": "query", "name": "by", "schema": {"type": "string", "enum": list(kpi.GROUPS),
                                                 "default": "department"}},
        {"in": "query", "name": "format", "schema": {"type": "string", "enum": list(kpi.FORMATS),
                                                     "default": "json"}},
    ])
    def get(self):
        """Every indicator of DOMAIN.md section 4 per department, grid, worker or category,
        with numerators, denominators (ratios are null when nothing was due) and composite
        scores. Leaders, admins and the dispatch center see every group; a department
        handler sees only what is attributed to their own department."""
        first, last, by, fmt = parse_query()
        staff = current_staff()
        department_id = None
        if not staff.has_role(*SEE_ALL):
            if not staff.department_id:
                raise ApiError("forbidden_role", status=403, roles="、".join(SEE_ALL))
            department_id = staff.department_id
        settings = current_app.config["WANGGE"]
        start, end = kpi.local_period(first, last, settings.timezone)
        rows = kpi.compute(db.session, start, end, by, department_id=department_id, weights=weights())
        period = {"from": first.isoformat(), "to": last.isoformat(), "timezone": settings.timezone,
                  "start": local_iso(start), "end": local_iso(end)}
        name = f"kpi-{by}-{first.isoformat()}-{last.isoformat()}"
        if fmt == "csv":
            buf = io.StringIO()
            kpi.to_csv(rows, buf)
            return Response("\ufeff" + buf.getvalue(), mimetype="text/csv",
                            headers={"Content-Disposition": f"attachment; filename={name}.csv"})
        if fmt == "xlsx":
            buf = io.BytesIO()
            kpi.to_xlsx(rows, buf, period=period)
            return Response(buf.getvalue(), mimetype=XLSX,
                            headers={"Content-Disposition": f"attachment; filename={name}.xlsx"})
        return {"period": period, "by": by, "rows": rows}
