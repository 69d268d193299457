import io

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from grid.grids import locator
from grid.grids.service import get_current
from grid.matrix import service as matrix
from grid.matrix.schemas import (
    ExplainQuery,
    Explanation,
    MatrixImportQuery,
    MatrixImportResult,
    RuleQuery,
    RuleSchema,
    RuleView,
)
from grid.models import Department, Responsibility
from grid.roles import ADMIN, DISPATCH_CENTER, LEADER, STAFF
from wangge.auth import requires
from wangge.contract import BINARY, DeletedSchema
from wangge.errors import ApiError, NotFound
from wangge.extensions import db
from wangge.i18n import current_language
from wangge.uploads import uploaded_text

blp = Blueprint("matrix", __name__, url_prefix="/api/v1/matrix",
                description="责任矩阵 Responsibility matrix: (category, grid) -> department")


def rule_view(r: Responsibility) -> dict:
    return {"id": r.id, "category_code": r.category_code, "grid_code": r.grid_code,
            "department_code": r.department.code, "department_name": r.department.name, "note": r.note}


@blp.route("")
class Rules(MethodView):
    @requires(*STAFF)
    @blp.arguments(RuleQuery, location="query")
    @blp.response(200, RuleView(many=True))
    def get(self, args):
        """Rules, filtered by category, grid or department code."""
        query = select(Responsibility).join(Department)
        if "category" in args:
            query = query.where(Responsibility.category_code == args["category"])
        if "grid" in args:
            query = query.where(Responsibility.grid_code == args["grid"])
        if "department" in args:
            query = query.where(Department.code == args["department"])
        rows = db.session.scalars(query.order_by(Responsibility.category_code, Responsibility.grid_code))
        return [rule_view(r) for r in rows]

    @requires(ADMIN)
    @blp.arguments(RuleSchema)
    @blp.response(200, RuleView)
    def post(self, body):
        """Add or change the rule for (category, grid); ``grid_code='*'`` means everywhere."""
        rule = matrix.set_rule(db.session, body["category_code"], body["grid_code"],
                               body["department_code"], body.get("note"))
        return rule_view(rule)


@blp.route("/<int:rule_id>")
class RuleDetail(MethodView):
    @requires(ADMIN)
    @blp.response(200, DeletedSchema)
    def delete(self, rule_id):
        """Remove a rule."""
        rule = db.session.get(Responsibility, rule_id)
        if rule is None:
            raise NotFound("rule", rule_id)
        db.session.delete(rule)
        return {"deleted": True}


@blp.route("/explain")
class Explain(MethodView):
    @requires(*DISPATCH_CENTER, ADMIN, LEADER)
    @blp.arguments(ExplainQuery, location="query")
    @blp.response(200, Explanation)
    def get(self, args):
        """Which department handles this category here, and why (every level checked)."""
        if "grid" in args:
            grid = get_current(db.session, args["grid"])
        else:
            grid = locator.locate(db.session, args["lon"], args["lat"], args["crs"])
            if grid is None:
                raise ApiError("point_outside", status=404, lon=args["lon"], lat=args["lat"])
        return matrix.explain(db.session, args["category"], grid).to_dict(current_language())


@blp.route("/export")
class Export(MethodView):
    @requires(ADMIN, LEADER, *DISPATCH_CENTER)
    @blp.response(200, BINARY, content_type="text/csv", description="matrix.csv")
    def get(self):
        """The whole matrix as CSV (UTF-8 with BOM, opens correctly in Excel)."""
        buf = io.StringIO()
        matrix.export_csv(db.session, buf)
        return Response("\ufeff" + buf.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=matrix.csv"})


@blp.route("/import")
class Import(MethodView):
    @requires(ADMIN)
    @blp.arguments(MatrixImportQuery, location="query")
    @blp.response(200, MatrixImportResult)
    def post(self, args):
        """Import CSV (request body or multipart ``file``). All rows checked; any bad row writes nothing.
        ``?replace=true`` also removes rules that are not in the file."""
        text, _ = uploaded_text("CSV")
        return matrix.import_csv(db.session, io.StringIO(text), replace=args["replace"])
