"""Phone patrol views (``/api/m/v1/patrols``): start, end, upload GPS points, check in, and
my own track and figures. The rules are ``grid.patrol.service``."""
from flask.views import MethodView
from flask_smorest import Blueprint

from grid import roles as R
from grid.patrol import presenters, service
from grid.patrol.schemas import (
    CheckinIn,
    CheckinView,
    DayQuery,
    FiguresView,
    PatrolView,
    TrackBatchIn,
    TrackQuery,
    TrackView,
    UploadView,
)
from mobile_api import PREFIX
from mobile_api.crs import CrsQuery
from wangge.auth import current_staff, current_staff_id, requires
from wangge.errors import NotFound
from wangge.extensions import db

blp = Blueprint("mobile_patrols", __name__, url_prefix=f"{PREFIX}/patrols",
                description="巡查 Patrols (phone)")

WORKER = (R.GRID_WORKER,)


@blp.route("")
class Patrols(MethodView):
    @requires(*WORKER)
    @blp.response(201, PatrolView)
    def post(self):
        """Start a patrol. One open patrol per worker: a second start is 409 ``patrol_open``
        with the open one's id in ``details.patrol_id`` (resume it or end it)."""
        return presenters.patrol_view(service.start(db.session, current_staff()))


@blp.route("/current")
class Current(MethodView):
    @requires(*WORKER)
    @blp.arguments(CrsQuery, location="query")
    @blp.response(200, PatrolView)
    def get(self, args):
        """My open patrol (404 when none is open)."""
        patrol = service.open_patrol(db.session, current_staff().id)
        if patrol is None:
            raise NotFound("patrol", "current")
        return presenters.patrol_view(patrol, args["crs"])


@blp.route("/<int:patrol_id>/end")
class End(MethodView):
    @requires(*WORKER)
    @blp.response(200, PatrolView)
    def post(self, patrol_id):
        """End my patrol (ending it again answers it unchanged). Points taken before the end
        may still be uploaded afterwards."""
        patrol = service.mine(db.session, current_staff(), patrol_id, lock=True)
        return presenters.patrol_view(service.end(db.session, patrol))


@blp.route("/<int:patrol_id>/points")
class Points(MethodView):
    @requires(*WORKER)
    @blp.arguments(TrackBatchIn)
    @blp.response(200, UploadView)
    def post(self, body, patrol_id):
        """Upload up to 500 GPS points. Idempotent on (patrol, time): a retried batch adds
        nothing. Bad points are filtered and counted per reason (``speed``, ``accuracy``,
        ``outside``, ``duplicate``, ``time``), never silently kept (docs/mobile.md)."""
        return presenters.upload_view(service.upload(db.session, current_staff_id(), patrol_id, body["points"],
                                                     body["crs"]))


@blp.route("/<int:patrol_id>/checkins")
class Checkins(MethodView):
    @requires(*WORKER)
    @blp.arguments(CheckinIn)
    @blp.response(201, CheckinView)
    def post(self, body, patrol_id):
        """Check in at the grid I am in: it must be one of mine (422 ``not_my_grid``). The
        answer's point is in the request's ``crs``."""
        staff = current_staff()
        patrol = service.mine(db.session, staff, patrol_id)
        row, grid = service.checkin(db.session, patrol, staff, body["lon"], body["lat"], body["crs"])
        return presenters.checkin_view(row, grid, body["crs"])


@blp.route("/figures")
class Figures(MethodView):
    @requires(*WORKER)
    @blp.arguments(DayQuery, location="query")
    @blp.response(200, FiguresView)
    def get(self, args):
        """My day (default today): patrol time, distance, coverage of each of my grids."""
        return presenters.figures_view(service.day_figures(db.session, current_staff().id,
                                                           args["day"] or service.today()))


@blp.route("/track")
class Track(MethodView):
    @requires(*WORKER)
    @blp.arguments(TrackQuery, location="query")
    @blp.response(200, TrackView)
    def get(self, args):
        """My accepted track for a day as GeoJSON, in ``?crs=``."""
        track = service.day_track(db.session, current_staff().id, args["day"] or service.today())
        return presenters.track_view(track, args["crs"])
