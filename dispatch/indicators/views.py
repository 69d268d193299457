"""Evaluation indicators over a period: JSON, CSV or XLSX (docs/indicators.md)."""
from __future__ import annotations

import io

from flask import Response, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from dispatch.indicators import exports, kpi
from dispatch.indicators.schemas import ExportStatusView, KpiQuery, KpiView
from grid import roles as R
from wangge.auth import current_staff, requires
from wangge.config import current_settings
from wangge.contract import binary_download
from wangge.errors import ApiError, NotFound, validation_error
from wangge.extensions import db
from wangge.i18n import current_language
from wangge.present import local_iso
from wangge.replica import reads_replica

blp = Blueprint("kpi", __name__, url_prefix="/api/v1/kpi", description="综合评价 Evaluation indicators")

SEE_ALL = (R.LEADER, R.ADMIN, *R.DISPATCH_CENTER)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def weights():
    try:
        return kpi.parse_weights(current_settings().kpi_weights)
    except kpi.WeightsError as exc:
        raise ApiError("internal_error", status=500, details={"kpi_weights": str(exc)}) from None


@blp.route("")
class Kpi(MethodView):
    @requires(*SEE_ALL, R.DEPARTMENT_HANDLER)
    @reads_replica
    @blp.arguments(KpiQuery, location="query")
    @blp.response(200, KpiView)
    @binary_download(blp, ("text/csv", XLSX), description="format=csv or xlsx: the table as a file")
    def get(self, args):
        """Every indicator of docs/domain.md §4 per department, grid, worker or category,
        with numerators, denominators (ratios are null when nothing was due) and composite
        scores. Leaders, admins and the dispatch center see every group; a department
        handler sees only what is attributed to their own department."""
        first, last, by, fmt, level = args["first"], args["last"], args["by"], args["format"], args.get("level")
        staff = current_staff()
        department_id = None
        if not staff.has_role(*SEE_ALL):
            if not staff.department_id:
                raise ApiError("forbidden_role", status=403, roles="、".join(SEE_ALL))
            department_id = staff.department_id
        settings = current_settings()
        start, end = kpi.local_period(first, last, settings.timezone)
        rows = kpi.compute(db.session, start, end, by, department_id=department_id, weights=weights(), level=level,
                           patrols=args["patrols"])
        period = {"from": first.isoformat(), "to": last.isoformat(), "timezone": settings.timezone,
                  "start": local_iso(start), "end": local_iso(end)}
        name = f"kpi-{by}{'-' + level if level else ''}-{first.isoformat()}-{last.isoformat()}"
        header = {"header": args["header"], "lang": current_language()}
        if fmt == "csv":
            buf = io.StringIO()
            kpi.to_csv(rows, buf, **header)
            return Response("\ufeff" + buf.getvalue(), mimetype="text/csv",
                            headers={"Content-Disposition": f"attachment; filename={name}.csv"})
        if fmt == "xlsx":
            buf = io.BytesIO()
            kpi.to_xlsx(rows, buf, period=period, **header)
            return Response(buf.getvalue(), mimetype=XLSX,
                            headers={"Content-Disposition": f"attachment; filename={name}.xlsx"})
        return {"period": period, "by": by, "level": level, "rows": rows}


def _scope(staff) -> int | None:
    if staff.has_role(*SEE_ALL):
        return None
    if not staff.department_id:
        raise ApiError("forbidden_role", status=403, roles="、".join(SEE_ALL))
    return staff.department_id


def _export_status(export_id: str) -> dict:

    try:
        status = exports.read_status(export_id)
    except (FileNotFoundError, ValueError):

        raise NotFound("export", export_id) from None
    if status["owner_id"] != current_staff().id:

        raise NotFound("export", export_id)
    return status


def _status_view(status: dict) -> dict:
    out = {k: status.get(k) for k in ("id", "state", "done", "total", "step", "error", "filename", "rows")}
    out["progress"] = round(status["done"] / status["total"], 2) if status.get("total") else None
    out["file_url"] = f"/api/v1/kpi/exports/{status['id']}/file" if status["state"] == "done" else None
    return out


@blp.route("/exports")
class Exports(MethodView):
    @requires(*SEE_ALL, R.DEPARTMENT_HANDLER)
    @blp.arguments(KpiQuery, location="query")
    @blp.response(202, ExportStatusView)
    def post(self, args):
        """Start an export in the background (same query parameters as GET, format csv or
        xlsx; ``header=labels`` for a header row in the request's language). Answers 202 with the export's id; poll its status for progress."""
        first, last, by, fmt = args["first"], args["last"], args["by"], args["format"]
        if fmt == "json":
            raise validation_error({"format": ["an export file is csv or xlsx"]})
        status = exports.start_kpi_export(owner_id=current_staff().id, first=first, last=last, by=by, fmt=fmt,
                                          department_id=_scope(current_staff()), level=args.get("level"),
                                          header=args["header"], lang=current_language(), patrols=args["patrols"])
        return _status_view(status)


@blp.route("/exports/<export_id>")
class ExportStatus(MethodView):
    @requires()
    @blp.response(200, ExportStatusView)
    def get(self, export_id):
        """Progress of my export: queued, running (done of total steps), done or failed."""
        return _status_view(_export_status(export_id))


@blp.route("/exports/<export_id>/file")
class ExportFile(MethodView):
    @requires()
    @binary_download(blp, ("text/csv", XLSX))
    def get(self, export_id):
        """The finished file (409 while it is still being made)."""
        status = _export_status(export_id)
        if status["state"] != "done":
            raise ApiError("export_not_ready", status=409, state=status["state"])
        mimetype = XLSX if status["file"].endswith(".xlsx") else "text/csv"
        return send_file(exports.file_path(status), mimetype=mimetype, as_attachment=True,
                         download_name=status["filename"])
