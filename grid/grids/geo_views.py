from flask.views import MethodView
from flask_smorest import Blueprint

from grid.grids import locator
from grid.grids import service as grid_service
from grid.grids.schemas import BatchLocated, BatchLocateSchema, LocatedView, LocateQuery
from grid.grids.views import staff_brief
from grid.roles import STAFF
from wangge.auth import requires
from wangge.errors import ApiError
from wangge.extensions import db

blp = Blueprint("geo", __name__, url_prefix="/api/v1/geo", description="定位 Point-to-grid lookup")


def located(grid) -> dict:
    chain = grid_service.chain(db.session, grid)
    return {"code": grid.code, "name": grid.name, "level": grid.level, "grid_id": grid.id,
            "chain": [{"code": g.code, "name": g.name, "level": g.level} for g in chain],
            "workers": [staff_brief(s) for s in grid_service.workers_of(db.session, grid.code)]}


@blp.route("/locate")
class Locate(MethodView):
    @requires(*STAFF)
    @blp.arguments(LocateQuery, location="query")
    @blp.response(200, LocatedView)
    def get(self, args):
        """Which grid is this point in? ``crs`` says the point's system (wgs84, gcj02, bd09).

        A point on a shared edge belongs to the deepest grid covering it, then the smallest code.
        A point outside every grid answers 404 with code ``point_outside``."""
        grid = locator.locate(db.session, args["lon"], args["lat"], args["crs"])
        if grid is None:
            raise ApiError("point_outside", status=404, lon=args["lon"], lat=args["lat"])
        return located(grid)

    @requires(*STAFF)
    @blp.arguments(BatchLocateSchema)
    @blp.response(200, BatchLocated)
    def post(self, body):
        """Batch lookup: up to 10,000 points; ``null`` for a point outside every grid."""
        points = [(p["lon"], p["lat"]) for p in body["points"]]
        grids = locator.locate_many(db.session, points, body["crs"])
        return {"results": grids}
