from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from dispatch.attachments.service import note_photos, photos_exist_column
from dispatch.cases.lifecycle import VERBS
from dispatch.cases.scope import get_visible_case
from dispatch.clocks import deadlines
from dispatch.workflow import queue
from dispatch.workflow.actions import Actor, Payload, act, choose_role
from dispatch.workflow.presenters import case_detail, case_summaries
from dispatch.workflow.schemas import (
    ActionSchema,
    CaseCountsView,
    CaseDetailView,
    CaseFilters,
    CaseListView,
    CaseQuery,
    EventView,
)
from grid.models import Category, Department, Grid
from wangge.answers import as_built
from wangge.auth import current_identity, requires
from wangge.errors import ApiError, validation_error
from wangge.extensions import db
from wangge.i18n import t
from wangge.replica import reads_replica

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="案件 Cases: the list, one case, its events and actions")

def detail(case):
    return case_detail(db.session, case, current_identity())


def detail_answer(case):
    """The case's answer sent as built (``wangge.answers``): a verb's answer is made on every
    action, and dumping it again through its schema cost a tenth of the action's CPU."""
    return as_built(detail(case), CaseDetailView)


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


@blp.route("")
class Cases(MethodView):
    @requires()
    @reads_replica
    @blp.arguments(CaseQuery, location="query")
    @blp.response(200, CaseListView)
    def get(self, args):
        """Cases I may see, newest first (``sort=newest``) or soonest deadline first
        (``sort=deadline``, cases without a running clock last); filter by state and channel
        (comma lists), department, grid (any level: a street answers the cases of all its
        grids), category, light, supervised, the day reported (``reported_from``,
        ``reported_to``, in the user's zone) and a search ``q`` (case number, words of the
        title, description or address, the reporter's phone or its last digits for those who
        see reporters' phones). An unknown parameter, state, channel or code is a 422 naming
        it. Pages by ``cursor`` (``next_cursor`` of the previous page, null on the
        last; a cursor that is not one is a 400 ``bad_cursor``); ``offset`` still works."""
        check_codes(args)
        page = queue.page(db.session, current_identity(), args)
        return as_built({"cases": case_summaries(db.session, page.cases, page.clocks),
                         "next_cursor": page.next.dump() if page.next else None}, CaseListView)


@blp.route("/counts")
class CaseCounts(MethodView):
    @requires()
    @reads_replica
    @blp.arguments(CaseFilters, location="query")
    @blp.response(200, CaseCountsView)
    def get(self, args):
        """How many cases of the list (the same filters, ``q`` included, and the same cases I may
        see; every page) show each light: green, yellow, red, and none (no running clock: none
        yet, ended, or paused, as the light filter sees it), and in all. Each number is exact up
        to ``cap`` (the ``count_cap`` setting, 10,000); one that would be more is ``cap`` and is
        named in ``capped`` ("more than")."""
        check_codes(args)
        return queue.counts(db.session, current_identity(), args)


@blp.route("/<number>")
class CaseDetail(MethodView):
    @requires()
    @blp.response(200, CaseDetailView)
    def get(self, number):
        """One case with its events, its running stage clock (light) and the verbs I may use now."""
        return detail_answer(get_visible_case(db.session, current_identity(), number))


@blp.route("/<number>/actions/<verb>")
class CaseAction(MethodView):
    @requires()
    @blp.arguments(ActionSchema)
    @blp.response(200, CaseDetailView)
    def post(self, body, number, verb):
        """Act on a case: accept, reject, request_verify, verify, open, dispatch, sign, return,
        rule_return, redispatch, request_extension, decide_extension, request_suspend,
        decide_suspend, restore, refer_enforcement, report_back, request_check, check, close,
        request_void, decide_void, merge, reclassify, relocate, supervise, urge, self_handle,
        rate, follow_up. See docs/lifecycle.md; reclassify and relocate: docs/dispatch.md. 409 when the verb is not possible in the current state or
        someone else changed the case at the same moment; 403 when not your role."""
        staff = current_identity()
        case, has_photos = deadlines.visible_case_and_clock(db.session, staff, number, photos_exist_column())
        note_photos(db.session, case.id, has_photos)
        if verb not in VERBS:
            raise ApiError("unknown_verb", status=404, verb=verb)
        role = choose_role(staff, VERBS[verb], body.pop("role", None))
        expected = body.pop("expected_version", None)
        try:
            act(db.session, case, verb, Actor(staff, role), Payload(**body), expected_version=expected)
        except StaleDataError:
            db.session.rollback()
            raise ApiError("case_conflict", status=409, number=number) from None
        return detail_answer(case)


@blp.route("/<number>/events")
class CaseEvents(MethodView):
    @requires()
    @blp.response(200, EventView(many=True))
    def get(self, number):
        """The case's immutable event log."""
        return detail(get_visible_case(db.session, current_identity(), number))["events"]
