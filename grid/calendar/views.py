from datetime import date, timedelta

from flask.views import MethodView
from flask_smorest import Blueprint

from grid.calendar import service
from grid.calendar.schemas import (
    CalendarDaySchema,
    CalendarDayView,
    CalendarQuery,
    DeadlineSchema,
    DeadlineView,
    ScheduleLoaded,
)
from grid.roles import ADMIN, STAFF
from wangge.auth import requires
from wangge.contract import DeletedSchema
from wangge.errors import NotFound, validation_error
from wangge.extensions import db
from wangge.fields import MAX_YEAR, MIN_YEAR
from wangge.i18n import t
from wangge.present import local_iso
from wangge.uploads import uploaded_text

blp = Blueprint("calendar", __name__, url_prefix="/api/v1/calendar",
                description="工作日历 Work calendar: holidays, make-up working days, deadlines")


def parse_day(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise validation_error({"day": [f"{text!r} is not YYYY-MM-DD"]}) from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise validation_error({"day": [t("year_out_of_range", min=MIN_YEAR, max=MAX_YEAR)]})
    return day


@blp.route("")
class Days(MethodView):
    @requires(*STAFF)
    @blp.arguments(CalendarQuery, location="query")
    @blp.response(200, CalendarDayView(many=True))
    def get(self, args):
        """Each day in the range: workday or not, and whether that comes from a local override,
        the official schedule, or the provisional rule (year not yet published)."""
        cal = service.work_calendar(db.session)
        out, day = [], args["start"]
        while day <= args["end"]:
            info = cal.day(day)
            out.append({"day": day.isoformat(), "is_workday": info.is_workday,
                        "source": info.source, "name": info.name})
            day += timedelta(days=1)
        return out


@blp.route("/days/<day>")
class Day(MethodView):
    @requires(ADMIN)
    @blp.arguments(CalendarDaySchema)
    @blp.response(200, CalendarDayView)
    def put(self, body, day):
        """Override one day (a local holiday, or a make-up working day)."""
        row = service.set_day(db.session, parse_day(day), body["is_workday"], body.get("name"))
        return {"day": row.day.isoformat(), "is_workday": row.is_workday, "name": row.name}

    @requires(ADMIN)
    @blp.response(200, DeletedSchema)
    def delete(self, day):
        """Remove a local override (the official calendar applies again)."""
        if not service.clear_day(db.session, parse_day(day)):
            raise NotFound("calendar_day", day)
        return {"deleted": True}


@blp.route("/schedule")
class Schedule(MethodView):
    @requires(ADMIN)
    @blp.response(200, ScheduleLoaded)
    def post(self):
        """Load a year's schedule (CSV ``date,kind,name`` or JSON list), e.g. before the
        calendar library knows the new year. ``kind``: holiday | workday."""
        text, filename = uploaded_text("the schedule")
        rows = service.parse_schedule(text, filename)
        return {"loaded": service.load_schedule(db.session, rows)}


@blp.route("/deadline")
class Deadline(MethodView):
    @requires(*STAFF)
    @blp.arguments(DeadlineSchema)
    @blp.response(200, DeadlineView)
    def post(self, body):
        """Compute a deadline: ``amount`` of ``unit`` from ``start`` over the work calendar."""
        cal = service.work_calendar(db.session)
        due = cal.add(body["start"], body["amount"], body["unit"])
        return {"due": local_iso(due), "due_utc": due.isoformat()}
