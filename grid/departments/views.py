from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from grid.departments import service
from grid.departments.schemas import DepartmentPatchSchema, DepartmentSchema
from grid.models import Department
from grid.roles import ADMIN, STAFF
from wangge.auth import requires
from wangge.errors import ApiError
from wangge.extensions import db
from wangge.i18n import t

blp = Blueprint("departments", __name__, url_prefix="/api/v1/departments",
                description="部门 Departments, street offices, enforcement teams")


@blp.route("")
class DepartmentList(MethodView):
    @requires(*STAFF)
    @blp.response(200, DepartmentSchema(many=True))
    def get(self):
        """All departments."""
        return db.session.scalars(select(Department).order_by(Department.code)).all()

    @requires(ADMIN)
    @blp.arguments(DepartmentSchema)
    @blp.response(201, DepartmentSchema)
    def post(self, body):
        """Add a department."""
        if db.session.scalar(select(Department.id).where(Department.code == body["code"])):
            raise ApiError("already_exists", status=409, what=t("department"), key=body["code"])
        dept = Department(**body)
        db.session.add(dept)
        db.session.flush()
        return dept


@blp.route("/<code>")
class DepartmentDetail(MethodView):
    @requires(*STAFF)
    @blp.response(200, DepartmentSchema)
    def get(self, code):
        """One department."""
        return service.get_department(db.session, code)

    @requires(ADMIN)
    @blp.arguments(DepartmentPatchSchema)
    @blp.response(200, DepartmentSchema)
    def patch(self, body, code):
        """Change a department (its code stays)."""
        dept = service.get_department(db.session, code)
        body.pop("code", None)
        if "kind" in body:
            service.check_kind_change(db.session, dept, body["kind"])
        for key, value in body.items():
            setattr(dept, key, value)
        db.session.flush()
        return dept
