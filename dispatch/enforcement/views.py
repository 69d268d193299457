from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from dispatch.clocks.models import StageClock
from dispatch.enforcement import lifecycle, scope, service
from dispatch.enforcement.models import EnforcementCase
from dispatch.enforcement.presenters import detail, group_view, summaries
from dispatch.enforcement.schemas import (
    AdvanceSchema,
    EnforcementDetailView,
    EnforcementListView,
    EnforcementQuery,
    GroupListView,
    GroupView,
    OfficerListView,
    OfficersSchema,
    RecordSchema,
    StageCountsView,
)
from grid import roles as R
from wangge.auth import current_staff, requires
from wangge.errors import ApiError
from wangge.extensions import db
from wangge.timeutil import utcnow

blp = Blueprint("enforcement", __name__, url_prefix="/api/v1/enforcement",
                description="综合执法 Enforcement referrals (一队伍): stages, officers, records, groups")

READERS = scope.READERS
GROUP_READERS = scope.GROUP_READERS
def _write(number, action):
    """Run a change; a concurrent change of the same enforcement case is 409."""
    staff = current_staff()
    enf = scope.get_enforcement(db.session, staff, number)
    try:
        action(enf, staff)
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise ApiError("enforcement_conflict", status=409, number=number) from None
    db.session.refresh(enf)
    return detail(enf)


@blp.route("")
class EnforcementCases(MethodView):
    @requires(*READERS)
    @blp.arguments(EnforcementQuery, location="query")
    @blp.response(200, EnforcementListView)
    def get(self, args):
        """Referrals I may see, newest first: an enforcement team sees its own, the dispatch
        center and leaders all, a department those of its cases. Filter by ``stage``
        (comma-separated; ``closed`` for finished ones), ``open``, ``light``, ``group``."""
        staff = current_staff()
        query = select(EnforcementCase)
        clause = scope.visible(staff)
        if clause is not None:
            query = query.where(clause)
        if "stage" in args:
            query = query.where(EnforcementCase.stage.in_(args["stage"]))
        if "open" in args:
            query = query.where(EnforcementCase.closed_at.is_(None) if args["open"]
                                else EnforcementCase.closed_at.is_not(None))
        if "group" in args:
            query = query.where(EnforcementCase.group_id == args["group"])
        now = utcnow()
        if "light" in args:  # the case clocks' lights: a running stage clock's thresholds
            running = select(StageClock.enforcement_id).where(StageClock.ended_at.is_(None),
                                                              StageClock.segment_started_at.is_not(None))
            query = query.where(EnforcementCase.id.in_(running.where({
                "red": StageClock.due_at < now,
                "yellow": (StageClock.warn_at <= now) & (StageClock.due_at >= now),
                "green": StageClock.warn_at > now}[args["light"]])))
        rows = db.session.scalars(query.order_by(EnforcementCase.id.desc())
                                  .limit(args["limit"]).offset(args["offset"])).all()
        return {"enforcement_cases": summaries(rows, now)}


@blp.route("/counts")
class EnforcementCounts(MethodView):
    @requires(*READERS)
    @blp.response(200, StageCountsView)
    def get(self):
        """How many referrals I may see are in each stage (``closed`` included, 0 for none):
        the same referrals as the list."""
        stages = [*lifecycle.STAGES, lifecycle.CLOSED]
        return {"counts": scope.stage_counts(db.session, current_staff(), stages)}


@blp.route("/officers")
class EnforcementTeamOfficers(MethodView):
    @requires(R.ENFORCEMENT_LEADER)
    @blp.response(200, OfficerListView)
    def get(self):
        """The active enforcement officers of my team: whom I may name on
        ``POST /{number}/officers``."""
        staff = current_staff()
        return {"officers": [{"id": s.id, "name": s.name}
                             for s in service.assignable_officers(db.session, staff.department_id)]}


@blp.route("/<number>")
class EnforcementDetail(MethodView):
    @requires(*READERS)
    @blp.response(200, EnforcementDetailView)
    def get(self, number):
        """One enforcement case: stage and its deadline light, officers, the records in
        order, and its group with the other referrals at the same place."""
        return detail(scope.get_enforcement(db.session, current_staff(), number))


@blp.route("/<number>/officers")
class EnforcementOfficers(MethodView):
    @requires(R.ENFORCEMENT_LEADER)
    @blp.arguments(OfficersSchema)
    @blp.response(200, EnforcementDetailView)
    def post(self, body, number):
        """The team leader names the officers (``staff_ids`` replaces the list; each must be
        an enforcement officer of the team, else 422). ``whole_group``: the same officers
        take every open referral of the group, so one visit handles them."""
        return _write(number, lambda enf, staff: service.assign_officers(
            db.session, enf, staff, body["staff_ids"], whole_group=body["whole_group"],
            expected_version=body.get("expected_version")))


@blp.route("/<number>/advance")
class EnforcementAdvance(MethodView):
    @requires(R.ENFORCEMENT_LEADER, R.ENFORCEMENT_OFFICER)
    @blp.arguments(AdvanceSchema)
    @blp.response(200, EnforcementDetailView)
    def post(self, body, number):
        """Move to the next stage (受理 accept -> 调查取证 investigate -> 处罚决定 decide ->
        执行 execute -> 结案 close -> closed). The leader moves it out of accept (officers
        assigned first) and out of close; the assigned officers out of investigate (``note``:
        the findings), decide (``note``: the decision, optional ``penalty_amount``) and
        execute (``note``: what was done). Leaving close needs ``note``: the outcome; the
        parent case then goes back for checking (核查). Out of order: 409."""
        return _write(number, lambda enf, staff: service.advance(
            db.session, enf, staff, body["to_stage"], note=body.get("note"),
            penalty_amount=body.get("penalty_amount"), attachments=body["attachments"],
            expected_version=body.get("expected_version")))


@blp.route("/<number>/records")
class EnforcementRecords(MethodView):
    @requires(R.ENFORCEMENT_LEADER, R.ENFORCEMENT_OFFICER)
    @blp.arguments(RecordSchema)
    @blp.response(201, EnforcementDetailView)
    def post(self, body, number):
        """Add a ``finding`` (during 调查取证) or a ``note`` without changing the stage.
        Records are never changed afterwards."""
        return _write(number, lambda enf, staff: service.add_record(
            db.session, enf, staff, body["kind"], body.get("note"), body["attachments"],
            expected_version=body.get("expected_version")))


@blp.route("/groups")
class EnforcementGroups(MethodView):
    @requires(*GROUP_READERS)
    @blp.response(200, GroupListView)
    def get(self):
        """Open groups with more than one referral that I may see: places where one visit
        handles several referrals."""
        staff = current_staff()
        query = select(EnforcementCase).where(EnforcementCase.group_id.is_not(None),
                                              EnforcementCase.closed_at.is_(None))
        clause = scope.visible(staff)
        if clause is not None:
            query = query.where(clause)
        group_ids = sorted({e.group_id for e in db.session.scalars(query)}, reverse=True)
        out = []
        for group_id in group_ids:
            group, members = scope.get_group(db.session, staff, group_id)
            if len(members) > 1:
                out.append(group_view(group, members))
        return {"groups": out}


@blp.route("/groups/<int:group_id>")
class EnforcementGroupDetail(MethodView):
    @requires(*GROUP_READERS)
    @blp.response(200, GroupView)
    def get(self, group_id):
        """One group: the place, its window and every referral in it (one team, one visit)."""
        group, members = scope.get_group(db.session, current_staff(), group_id)
        return group_view(group, members)
