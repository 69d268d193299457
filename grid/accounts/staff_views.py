from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from grid.accounts import devices
from grid.accounts import service as accounts
from grid.accounts.schemas import (
    AssignmentSchema,
    AssignmentView,
    DevicesSignedOutView,
    StaffDetailView,
    StaffPatchSchema,
    StaffSchema,
    StaffView,
)
from grid.departments.service import get_department
from grid.grids.service import get_current
from grid.models import GridAssignment, Staff
from grid.roles import ADMIN, LEADER
from wangge.auth import requires
from wangge.errors import NotFound, validation_error
from wangge.extensions import db
from wangge.timeutil import utcnow

blp = Blueprint("staff", __name__, url_prefix="/api/v1/staff", description="人员 Staff, roles and grid assignments")


def get_staff(staff_id: int) -> Staff:
    staff = db.session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("staff", staff_id)
    return staff


@blp.route("")
class StaffList(MethodView):
    @requires(ADMIN, LEADER)
    @blp.response(200, StaffView(many=True))
    def get(self):
        """All staff with their roles."""
        return db.session.scalars(select(Staff).order_by(Staff.username)).all()

    @requires(ADMIN)
    @blp.arguments(StaffSchema)
    @blp.response(201, StaffView)
    def post(self, body):
        """Create a staff account."""
        dept = get_department(db.session, body["department_code"]) if body.get("department_code") else None
        staff = accounts.create_staff(db.session, username=body["username"], name=body["name"],
                                      password=body["password"], roles=body["roles"],
                                      department_id=dept.id if dept else None, phone=body.get("phone"),
                                      language=body["language"])
        staff.active = body["active"]
        return staff


@blp.route("/<int:staff_id>")
class StaffDetail(MethodView):
    @requires(ADMIN, LEADER)
    @blp.response(200, StaffDetailView)
    def get(self, staff_id):
        """One staff member with current grid assignments."""
        staff = get_staff(staff_id)
        assignments = db.session.scalars(
            select(GridAssignment).where(GridAssignment.staff_id == staff_id).order_by(GridAssignment.id)).all()
        return {**StaffView().dump(staff), "assignments": AssignmentView(many=True).dump(assignments)}

    @requires(ADMIN)
    @blp.arguments(StaffPatchSchema)
    @blp.response(200, StaffView)
    def patch(self, body, staff_id):
        """Change name, roles, department, password or active flag. Disabling revokes tokens."""
        staff = get_staff(staff_id)
        if "department_code" in body:
            code = body.pop("department_code")
            staff.department = get_department(db.session, code) if code else None
        if "roles" in body:
            accounts.set_roles(staff, body.pop("roles"))
        if "password" in body:
            staff.password_hash = accounts.hash_password(body.pop("password"))
            accounts.revoke_all(db.session, staff)
        for key, value in body.items():
            setattr(staff, key, value)
        if not staff.active:
            accounts.revoke_all(db.session, staff)
        db.session.flush()
        return staff


@blp.route("/<int:staff_id>/assignments")
class Assignments(MethodView):
    @requires(ADMIN)
    @blp.arguments(AssignmentSchema)
    @blp.response(201, AssignmentView)
    def post(self, body, staff_id):
        """Assign a grid to a staff member (from now, or from ``valid_from``)."""
        staff = get_staff(staff_id)
        get_current(db.session, body["grid_code"])
        start, end = body.get("valid_from") or utcnow(), body.get("valid_to")
        if start.tzinfo is None or (end is not None and end.tzinfo is None):
            raise validation_error({"valid_from": ["must include a time zone offset"]})
        if end is not None and end <= start:
            raise validation_error({"valid_to": ["must be after valid_from"]})
        a = GridAssignment(staff_id=staff.id, grid_code=body["grid_code"], valid_from=start, valid_to=end)
        db.session.add(a)
        db.session.flush()
        return a


@blp.route("/<int:staff_id>/assignments/<int:assignment_id>")
class AssignmentDetail(MethodView):
    @requires(ADMIN)
    @blp.response(200, AssignmentView)
    def delete(self, staff_id, assignment_id):
        """End an assignment now (history is kept)."""
        a = db.session.get(GridAssignment, assignment_id)
        if a is None or a.staff_id != staff_id:
            raise NotFound("staff", f"{staff_id}/assignments/{assignment_id}")
        if a.valid_to is None or a.valid_to > utcnow():
            a.valid_to = utcnow()
        return a


@blp.route("/<int:staff_id>/devices/sign-out")
class DevicesSignOut(MethodView):
    @requires(ADMIN)
    @blp.response(200, DevicesSignedOutView)
    def post(self, staff_id):
        """Sign out every phone of a staff member (device sessions, their refresh and access
        tokens); their desk sign-ins are kept."""
        return {"signed_out": devices.sign_out_all(db.session, get_staff(staff_id))}
