"""Leaders' patrol views (``/api/v1/patrols``): who is on patrol now, any worker's track and
figures for a day. Leaders, the shift leader, dispatchers and admins; a grid worker reads
only their own through the phone API (``mobile_api.patrol``)."""
from flask.views import MethodView
from flask_smorest import Blueprint

from grid import roles as R
from grid.models import Staff
from wangge.auth import requires
from wangge.errors import NotFound
from wangge.extensions import db

from . import presenters, service
from .schemas import ActiveQuery, ActiveView, FiguresView, StaffDayQuery, StaffTrackQuery, TrackView

blp = Blueprint("patrols", __name__, url_prefix="/api/v1/patrols", description="巡查 Patrols (leaders)")

WATCHERS = (R.LEADER, R.SHIFT_LEADER, R.DISPATCHER, R.ADMIN)


def _staff(staff_id: int) -> Staff:
    staff = db.session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("staff", staff_id)
    return staff


@blp.route("/active")
class Active(MethodView):
    @requires(*WATCHERS)
    @blp.arguments(ActiveQuery, location="query")
    @blp.response(200, ActiveView)
    def get(self, args):
        """Who is on patrol now: every open patrol with its worker's latest accepted position."""
        return presenters.active_view(service.active(db.session), args["crs"])


@blp.route("/track")
class Track(MethodView):
    @requires(*WATCHERS)
    @blp.arguments(StaffTrackQuery, location="query")
    @blp.response(200, TrackView)
    def get(self, args):
        """A worker's accepted track for a local day as GeoJSON (one feature per segment)."""
        staff = _staff(args["staff_id"])
        track = service.day_track(db.session, staff.id, args["day"] or service.today())
        return presenters.track_view(track, args["crs"])


@blp.route("/figures")
class Figures(MethodView):
    @requires(*WATCHERS)
    @blp.arguments(StaffDayQuery, location="query")
    @blp.response(200, FiguresView)
    def get(self, args):
        """A worker's day: patrol time, distance and the coverage of each of their grids."""
        staff = _staff(args["staff_id"])
        return presenters.figures_view(service.day_figures(db.session, staff.id, args["day"] or service.today()))
