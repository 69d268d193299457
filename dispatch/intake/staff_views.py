"""Staff report a case: a grid worker on patrol, or the desk entering a phone call
(``POST /api/v1/cases``; reading and acting on cases is ``dispatch.workflow.views``)."""
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from dispatch.attachments.service import check_attachable
from dispatch.cases.lifecycle import VERBS
from dispatch.intake import service as intake
from dispatch.intake.answer import answerable, created_detail
from dispatch.intake.schemas import CaseCreateSchema
from dispatch.workflow.actions import Actor, Payload, act, choose_role
from dispatch.workflow.presenters import case_detail
from dispatch.workflow.schemas import CaseDetailView
from grid import roles as R
from grid.models import Staff
from wangge.answers import as_built
from wangge.auth import current_staff, current_token, requires
from wangge.errors import validation_error
from wangge.extensions import db

blp = Blueprint("staff_reports", __name__, url_prefix="/api/v1/cases", description="上报 Staff reports")

REPORTERS = (R.GRID_WORKER, R.INTAKE_CLERK, R.DISPATCHER, R.SHIFT_LEADER)


def fresh(case) -> bool:
    """Whether this request just wrote the case through the fast path and it is still as
    written: its answer comes from memory, and the token's ``Reporter`` is staff enough for it."""
    return answerable(case) and case.state == "reported"


def detail(case, staff):
    """The case as the reporter sees it: from memory when this request just wrote it."""
    if fresh(case):
        return as_built(created_detail(case, staff), CaseDetailView)
    return case_detail(db.session, case, current_staff())


def current_reporter() -> intake.Reporter:
    """The signed-in staff member from the token alone (no staff SELECT)."""
    token = current_token()
    return intake.Reporter(token.staff_id, token.roles)


def check_self_handle(staff, sub: intake.Submission) -> None:
    """What ``self_handle`` will ask, asked before the case exists: a refused request must
    leave nothing behind (on SQLite the intake savepoint can commit on its own)."""
    choose_role(staff, VERBS["self_handle"], R.GRID_WORKER if staff.has_role(R.GRID_WORKER) else None)
    if not sub.attachments:
        raise validation_error({"attachments": ["a self-handled report needs a photo of the result"]})
    check_attachable(db.session, staff, sub.attachments)


@blp.route("")
class StaffReports(MethodView):
    @requires(*REPORTERS)
    @blp.arguments(CaseCreateSchema)
    @blp.response(201, CaseDetailView)
    @blp.alt_response(200, schema=CaseDetailView, success=True,
                      description="A retry with the same idempotency key: the case it made")
    def post(self, body):
        """Report a case (grid worker on patrol, or desk entry of a phone call). Send an
        ``Idempotency-Key`` header (or ``idempotency_key``): a retry returns the same case (200)."""
        staff = current_reporter()
        key = intake.client_key(request.headers.get("Idempotency-Key"), body.get("idempotency_key"))
        case, created = submit_staff_report(db.session, staff, body, key)
        return detail(case, staff), 201 if created else 200


def submit_staff_report(session, staff, body: dict, key: str | None):
    """A staff member's report (``CaseCreateSchema`` body, the client key already checked):
    ``(case, created)``. The phone API's single report and offline batch use it too.
    ``staff``: a ``Staff`` or an ``intake.Reporter`` (self-handling needs the row: loaded)."""
    self_handled = body["self_handled"]
    if self_handled and isinstance(staff, intake.Reporter):
        staff = session.get(Staff, staff.id)
    channel = body.pop("channel")
    if staff.has_role(R.GRID_WORKER) and not staff.has_role(R.INTAKE_CLERK, R.DISPATCHER, R.SHIFT_LEADER):
        channel = "grid_worker"
    sub = intake.Submission(channel=channel, idempotency_key=key, sender=f"staff:{staff.id}", **{k: v for k, v in body.items()
                                                                      if k != "idempotency_key"})
    role = R.GRID_WORKER if channel == "grid_worker" else choose_role(staff, VERBS["accept"], None) \
        if staff.has_role(R.INTAKE_CLERK) else staff.roles[0]
    if self_handled:
        existing = intake.replay(session, sub)
        if existing is not None:  # a retry of a self-handle that went through
            return existing, False
        check_self_handle(staff, sub)
    case, created = intake.submit(session, sub, reporter=staff, role=role)
    if created and self_handled:
        act(session, case, "self_handle", Actor(staff, R.GRID_WORKER),
            Payload(note=body["description"], attachments=body.get("attachments", [])))
    return case, created
