from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from dispatch.attachments.service import check_attachable
from dispatch.cases.actions import Actor, Payload, act, choose_role
from dispatch.cases.lifecycle import VERBS
from dispatch.cases.models import Case
from dispatch.cases.presenters import case_detail, case_summary
from dispatch.cases.schemas import ActionSchema, CaseDetailView, CaseListView, CaseQuery, EventView
from dispatch.cases.scope import get_visible_case, visible
from dispatch.clocks.models import StageClock
from dispatch.intake import service as intake
from dispatch.intake.schemas import CaseCreateSchema
from grid import roles as R
from grid.grids import subtree_codes
from grid.models import Category, Department, Grid
from wangge.auth import current_staff, requires
from wangge.errors import ApiError, validation_error
from wangge.extensions import db
from wangge.i18n import t
from wangge.timeutil import utcnow

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="案件 Cases: intake, lifecycle, events")

REPORTERS = (R.GRID_WORKER, R.INTAKE_CLERK, R.DISPATCHER, R.SHIFT_LEADER)


def detail(case):
    return case_detail(db.session, case, current_staff())


def check_codes(args: dict) -> None:
    """An unknown department, grid or category code is a 422 naming the parameter, not an
    empty list that looks like "no cases". A grid code counts at any level and in any version."""
    lookups = {"department": (Department.code, "department"), "grid": (Grid.code, "grid"),
               "category": (Category.code, "category")}
    errors = {}
    for name, (column, noun) in lookups.items():
        if name in args and db.session.scalar(select(column).where(column == args[name]).limit(1)) is None:
            errors[name] = [t("not_found", what=t(noun), key=args[name])]
    if errors:
        raise validation_error(errors)


def check_self_handle(staff, sub: intake.Submission) -> None:
    """What ``self_handle`` will ask, asked before the case exists: a refused request must
    leave nothing behind (on SQLite the intake savepoint can commit on its own)."""
    choose_role(staff, VERBS["self_handle"], R.GRID_WORKER if staff.has_role(R.GRID_WORKER) else None)
    if not sub.attachments:
        raise validation_error({"attachments": ["a self-handled report needs a photo of the result"]})
    check_attachable(db.session, staff, sub.attachments)


@blp.route("")
class Cases(MethodView):
    @requires(*REPORTERS)
    @blp.arguments(CaseCreateSchema)
    @blp.response(201, CaseDetailView)
    @blp.alt_response(200, schema=CaseDetailView, success=True,
                      description="A retry with the same idempotency key: the case it made")
    def post(self, body):
        """Report a case (grid worker on patrol, or desk entry of a phone call). Send an
        ``Idempotency-Key`` header (or ``idempotency_key``): a retry returns the same case (200)."""
        staff = current_staff()
        key = intake.client_key(request.headers.get("Idempotency-Key"), body.get("idempotency_key"))
        self_handled = body["self_handled"]
        channel = body.pop("channel")
        if staff.has_role(R.GRID_WORKER) and not staff.has_role(R.INTAKE_CLERK, R.DISPATCHER, R.SHIFT_LEADER):
            channel = "grid_worker"
        sub = intake.Submission(channel=channel, idempotency_key=key, sender=f"staff:{staff.id}", **{k: v for k, v in body.items()
                                                                          if k != "idempotency_key"})
        role = R.GRID_WORKER if channel == "grid_worker" else choose_role(staff, VERBS["accept"], None) \
            if staff.has_role(R.INTAKE_CLERK) else staff.roles[0]
        if self_handled:
            existing = intake.replay(db.session, sub)
            if existing is not None:  # a retry of a self-handle that went through
                return detail(existing), 200
            check_self_handle(staff, sub)
        case, created = intake.submit(db.session, sub, reporter=staff, role=role)
        if created and self_handled:
            act(db.session, case, "self_handle", Actor(staff, R.GRID_WORKER),
                Payload(note=body["description"], attachments=body.get("attachments", [])))
        return detail(case), 201 if created else 200

    @requires()
    @blp.arguments(CaseQuery, location="query")
    @blp.response(200, CaseListView)
    def get(self, args):
        """Cases I may see, newest first; filter by state and channel (comma lists), department,
        grid (any level: a street answers the cases of all its grids), category, light,
        supervised. An unknown parameter, state, channel or code is a 422 naming it."""
        check_codes(args)
        staff = current_staff()
        query = select(Case)
        clause = visible(staff)
        if clause is not None:
            query = query.where(clause)
        if "state" in args:
            query = query.where(Case.state.in_(args["state"]))
        if "channel" in args:
            query = query.where(Case.channel.in_(args["channel"]))
        if "department" in args:
            query = query.join(Department, Case.department_id == Department.id).where(
                Department.code == args["department"])
        if "grid" in args:
            query = query.where(Case.grid_code.in_(subtree_codes(args["grid"])))
        if "category" in args:
            query = query.where(Case.category_code == args["category"])
        if "supervised" in args:
            query = query.where(Case.supervised.is_(args["supervised"]))
        if "light" in args:
            now = utcnow()
            running = select(StageClock.case_id).where(StageClock.ended_at.is_(None),
                                                       StageClock.segment_started_at.is_not(None))
            cond = {"red": StageClock.due_at < now,
                    "yellow": (StageClock.warn_at <= now) & (StageClock.due_at >= now),
                    "green": StageClock.warn_at > now}[args["light"]]
            query = query.where(Case.id.in_(running.where(cond)))
        cases = db.session.scalars(query.order_by(Case.id.desc()).limit(args["limit"]).offset(args["offset"])).all()
        clocks = {c.case_id: c for c in db.session.scalars(select(StageClock).where(
            StageClock.case_id.in_([c.id for c in cases]), StageClock.ended_at.is_(None)))} if cases else {}
        return {"cases": [case_summary(c, clocks.get(c.id)) for c in cases]}


@blp.route("/<number>")
class CaseDetail(MethodView):
    @requires()
    @blp.response(200, CaseDetailView)
    def get(self, number):
        """One case with its events, its running stage clock (light) and the verbs I may use now."""
        return detail(get_visible_case(db.session, current_staff(), number))


@blp.route("/<number>/actions/<verb>")
class CaseAction(MethodView):
    @requires()
    @blp.arguments(ActionSchema)
    @blp.response(200, CaseDetailView)
    def post(self, body, number, verb):
        """Act on a case: accept, reject, request_verify, verify, open, dispatch, sign, return,
        rule_return, redispatch, request_extension, decide_extension, request_suspend,
        decide_suspend, restore, refer_enforcement, report_back, request_check, check, close,
        request_void, decide_void, merge, supervise, urge, self_handle, rate, follow_up.
        See docs/lifecycle.md. 409 when the verb is not possible in the current state or
        someone else changed the case at the same moment; 403 when not your role."""
        staff = current_staff()
        case = get_visible_case(db.session, staff, number)
        if verb not in VERBS:
            raise ApiError("unknown_verb", status=404, verb=verb)
        role = choose_role(staff, VERBS[verb], body.pop("role", None))
        expected = body.pop("expected_version", None)
        try:
            act(db.session, case, verb, Actor(staff, role), Payload(**body), expected_version=expected)
        except StaleDataError:
            db.session.rollback()
            raise ApiError("case_conflict", status=409, number=number) from None
        return detail(case)


@blp.route("/<number>/events")
class CaseEvents(MethodView):
    @requires()
    @blp.response(200, EventView(many=True))
    def get(self, number):
        """The case's immutable event log."""
        return detail(get_visible_case(db.session, current_staff(), number))["events"]
