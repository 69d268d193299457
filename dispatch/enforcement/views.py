from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from dispatch.clocks import deadlines
from dispatch.clocks.models import StageClock
from dispatch.enforcement import lifecycle, scope, service
from dispatch.enforcement.models import EnforcementCase, EnforcementGroup
from dispatch.workflow.actions import state_name
from dispatch.workflow.schemas import CodeName
from grid import roles as R
from wangge import fields as bounded
from wangge.auth import current_staff, requires
from wangge.contract import CommaSeparated, LocalTime, QuerySchema
from wangge.errors import ApiError
from wangge.extensions import db
from wangge.present import local_iso
from wangge.timeutil import utcnow

blp = Blueprint("enforcement", __name__, url_prefix="/api/v1/enforcement",
                description="综合执法 Enforcement referrals (一队伍): stages, officers, records, groups")

READERS = scope.READERS
GROUP_READERS = scope.GROUP_READERS
# where an enforcement case can be moved to, in the table's order
TARGETS = list(dict.fromkeys(v.target for state in lifecycle.STATES for v in lifecycle.advancing(state)))


class EnforcementQuery(QuerySchema):
    stage = CommaSeparated([*lifecycle.STAGES, lifecycle.CLOSED])
    open = fields.Boolean()
    light = fields.String(validate=validate.OneOf(["green", "yellow", "red"]))
    group = bounded.Id()
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = bounded.BoundedInt(load_default=0)


class OfficersSchema(Schema):
    staff_ids = fields.List(bounded.Id(), required=True, validate=validate.Length(min=1, max=50))
    whole_group = fields.Boolean(load_default=False)
    expected_version = bounded.BoundedInt()


class AdvanceSchema(Schema):
    to_stage = fields.String(required=True, validate=validate.OneOf(TARGETS))
    note = fields.String(validate=validate.Length(max=5000))
    penalty_amount = fields.Float(validate=validate.Range(min=0, max=1e12), allow_nan=False)
    attachments = fields.List(bounded.Id(), load_default=list, validate=validate.Length(max=50))
    expected_version = bounded.BoundedInt()


class RecordSchema(Schema):
    kind = fields.String(load_default="note", validate=validate.OneOf(lifecycle.RECORD_KINDS))
    note = fields.String(validate=validate.Length(max=5000))
    attachments = fields.List(bounded.Id(), load_default=list, validate=validate.Length(max=50))
    expected_version = bounded.BoundedInt()


# --- answers (the dicts below are built by summary, detail, record_view and group_view) ----

class ParentCaseView(Schema):
    number = fields.String()
    state = fields.String()
    state_name = fields.String()
    category_code = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    lon = fields.Float(allow_none=True)
    lat = fields.Float(allow_none=True)
    grid_code = fields.String(allow_none=True)


class OfficerView(Schema):
    id = fields.Integer()
    name = fields.String()


class EnforcementSummaryView(Schema):
    number = fields.String()
    stage = fields.String(validate=validate.OneOf([*service.STAGES, service.CLOSED]))
    stage_name = fields.String()
    team = fields.Nested(CodeName)
    parent = fields.Nested(ParentCaseView)
    group_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    stage_started_at = LocalTime()
    stage_warn_at = LocalTime()
    stage_due_at = LocalTime()
    light = fields.String(allow_none=True, validate=validate.OneOf(["green", "yellow", "red"]))
    officers = fields.List(fields.Nested(OfficerView))
    created_at = LocalTime()
    closed_at = LocalTime()
    version = fields.Integer()


class EnforcementListView(Schema):
    enforcement_cases = fields.List(fields.Nested(EnforcementSummaryView))


class RecordView(Schema):
    id = fields.Integer()
    kind = fields.String()
    from_stage = fields.String(allow_none=True)
    to_stage = fields.String(allow_none=True)
    actor_id = fields.Integer(allow_none=True)
    at = LocalTime()
    note = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)
    attachments = fields.List(fields.Integer(), allow_none=True)


class GroupView(Schema):
    id = fields.Integer()
    lon = fields.Float(allow_none=True)
    lat = fields.Float(allow_none=True)
    address = fields.String(allow_none=True)
    opened_at = LocalTime()
    window_ends_at = LocalTime()
    size = fields.Integer()
    open = fields.Boolean()
    members = fields.List(fields.Nested(EnforcementSummaryView))


class GroupListView(Schema):
    groups = fields.List(fields.Nested(GroupView))


class LimitView(Schema):
    amount = fields.Float()
    unit = fields.String()


class NextStageView(Schema):
    stage = fields.String()
    name = fields.String()
    you_may_advance = fields.Boolean()


class EnforcementDetailView(EnforcementSummaryView):
    limit = fields.Nested(LimitView, allow_none=True)
    decision = fields.String(allow_none=True)
    penalty_amount = fields.Float(allow_none=True)
    outcome = fields.String(allow_none=True)
    next_stage = fields.Nested(NextStageView, allow_none=True)
    records = fields.List(fields.Nested(RecordView))
    group = fields.Nested(GroupView, allow_none=True)


def _limit_view(enf):
    limit = service.stage_limit(db.session, enf)
    return limit and {"amount": limit.amount, "unit": limit.unit}


def summary(enf: EnforcementCase, now=None, clock: StageClock | None = None) -> dict:
    """``clock``: the running stage clock, when the caller loaded it with others'."""
    parent = enf.parent
    if clock is None:
        clock = service.clock(db.session, enf)
    return {
        "number": enf.number, "stage": enf.stage, "stage_name": service.stage_name(enf.stage),
        "team": {"code": enf.team.code, "name": enf.team.name},
        "parent": {"number": parent.number, "state": parent.state, "state_name": state_name(parent.state),
                   "category_code": parent.category_code, "title": parent.title, "address": parent.address,
                   "lon": parent.lon, "lat": parent.lat, "grid_code": parent.grid_code},
        "group_id": enf.group_id, "reason": enf.reason,
        "stage_started_at": local_iso(enf.stage_started_at),
        "stage_warn_at": local_iso(clock.warn_at if clock else None),
        "stage_due_at": local_iso(clock.due_at if clock else None), "light": service.light(clock, now),
        "officers": [{"id": o.staff_id, "name": o.staff.name} for o in enf.officers],
        "created_at": local_iso(enf.created_at), "closed_at": local_iso(enf.closed_at), "version": enf.version,
    }


def record_view(r) -> dict:
    return {"id": r.id, "kind": r.kind, "from_stage": r.from_stage, "to_stage": r.to_stage,
            "actor_id": r.actor_id, "at": local_iso(r.at), "note": r.note, "data": service.record_data(r),
            "attachments": r.attachment_ids}


def summaries(enfs: list[EnforcementCase], now=None) -> list[dict]:
    """Summaries of several enforcement cases, their clocks loaded in one query."""
    clocks = deadlines.current_clocks(db.session, enfs)
    return [summary(e, now, clocks.get(e.id)) for e in enfs]


def group_view(group: EnforcementGroup, members, exclude_id=None) -> dict:
    now = utcnow()
    return {"id": group.id, "lon": group.lon, "lat": group.lat, "address": group.address,
            "opened_at": local_iso(group.opened_at), "window_ends_at": local_iso(group.window_ends_at),
            "size": len(members),
            "open": group.window_ends_at >= now and any(m.stage != lifecycle.CLOSED for m in members),
            "members": summaries([m for m in members if m.id != exclude_id], now)}


def detail(enf: EnforcementCase) -> dict:
    staff = current_staff()
    data = summary(enf)
    nxt = service.next_stage(enf.stage)
    may_advance = nxt is not None and service.may_advance(staff, enf)
    data.update({
        "limit": _limit_view(enf), "decision": enf.decision, "penalty_amount": enf.penalty_amount,
        "outcome": enf.outcome,
        "next_stage": nxt and {"stage": nxt, "name": service.stage_name(nxt), "you_may_advance": may_advance},
        "records": [record_view(r) for r in enf.records],
        "group": None,
    })
    if enf.group_id is not None:
        _, members = scope.get_group(db.session, staff, enf.group_id)
        data["group"] = group_view(enf.group, members, exclude_id=enf.id)
    return data


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
