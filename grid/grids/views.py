import json

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from shapely.geometry import mapping
from sqlalchemy import or_, select

from geo.io import GeoFormatError, read_geojson_obj
from grid.grids import imports, service
from grid.grids.schemas import (
    GridCollection,
    GridFeature,
    GridImportQuery,
    GridImportResult,
    GridImportStatus,
    GridQuery,
    GridRetired,
    TopologyQuery,
    TopologyReport,
)
from grid.models import Grid
from grid.roles import ADMIN, STAFF
from wangge.auth import current_staff, requires
from wangge.errors import ApiError, NotFound
from wangge.extensions import db
from wangge.uploads import uploaded_text

blp = Blueprint("grids", __name__, url_prefix="/api/v1/grids", description="网格 Grids (GeoJSON)")


def feature(grid: Grid, *, geometry: bool = True, extra: dict | None = None) -> dict:
    props = {"id": grid.id, "code": grid.code, "name": grid.name, "level": grid.level,
             "parent_code": grid.parent_code, "area_m2": grid.area_m2,
             "valid_from": grid.valid_from, "valid_to": grid.valid_to}
    props.update(extra or {})
    return {"type": "Feature", "id": grid.code, "properties": props,
            "geometry": mapping(grid.geom) if geometry else None}


def staff_brief(staff) -> dict:
    return {"id": staff.id, "name": staff.name, "phone": staff.phone}


@blp.route("")
class GridList(MethodView):
    @requires(*STAFF)
    @blp.arguments(GridQuery, location="query")
    @blp.response(200, GridCollection)
    def get(self, args):
        """Current grids as a GeoJSON FeatureCollection (filter by level, parent, name/code)."""
        query = select(Grid).where(Grid.valid_to.is_(None))
        if "level" in args:
            query = query.where(Grid.level == args["level"])
        if "parent" in args:
            query = query.where(Grid.parent_code == args["parent"])
        if "q" in args:
            like = f"%{args['q']}%"
            query = query.where(or_(Grid.name.like(like), Grid.code.like(like)))
        grids = db.session.scalars(query.order_by(Grid.code).limit(args["limit"]).offset(args["offset"]))
        return {"type": "FeatureCollection",
                "features": [feature(g, geometry=args["geometry"]) for g in grids]}


@blp.route("/import")
class GridImport(MethodView):
    @requires(ADMIN)
    @blp.arguments(GridImportQuery, location="query")
    @blp.response(200, GridImportResult)
    def post(self, args):
        """Import a GeoJSON FeatureCollection (request body). All or nothing, unless skip_invalid."""
        try:
            doc = json.loads(request.get_data(as_text=True) or "null")
            features = read_geojson_obj(doc, code_field=args["code_field"], name_field=args["name_field"],
                                        level_field=args["level_field"], parent_field=args["parent_field"],
                                        default_level=args.get("level"), default_parent=args.get("parent"))
        except (ValueError, GeoFormatError) as exc:
            raise ApiError("invalid_file", status=400, detail=str(exc)) from None
        result = service.import_features(db.session, features, crs=args["crs"], fix=args["fix"],
                                         skip_invalid=args["skip_invalid"], source="api")
        return result.to_dict()


@blp.route("/imports")
class GridImports(MethodView):
    @requires(ADMIN)
    @blp.arguments(GridImportQuery, location="query")
    @blp.response(202, GridImportStatus)
    def post(self, args):
        """Import a GeoJSON FeatureCollection (request body, or multipart ``file``) in the
        background, with the options of ``/import``. Answers 202 with the import's id once the
        file is read (400 ``invalid_file`` if it cannot be); poll its status for progress."""
        text, filename = uploaded_text("GeoJSON")
        status = imports.start_import(owner_id=current_staff().id, text=text, options=args, filename=filename)
        return imports.status_view(status)


@blp.route("/imports/<job_id>")
class GridImportProgress(MethodView):
    @requires(ADMIN)
    @blp.response(200, GridImportStatus)
    def get(self, job_id):
        """Progress of my import: queued, running (done of total features), done with the
        result, or failed with the error (nothing was written)."""
        status = imports.read_status(job_id, current_staff().id)
        if status is None:
            raise NotFound("grid_import", job_id)
        return imports.status_view(status)


@blp.route("/check")
class GridCheck(MethodView):
    @requires(ADMIN)
    @blp.arguments(TopologyQuery, location="query")
    @blp.response(200, TopologyReport)
    def get(self, args):
        """Topology report: sibling overlaps, gaps inside parents, children leaving parents."""
        return service.check_topology(db.session, min_area_m2=args["min_area_m2"]).to_dict()


@blp.route("/<code>")
class GridDetail(MethodView):
    @requires(*STAFF)
    @blp.response(200, GridFeature)
    def get(self, code):
        """One current grid with its level chain and its grid workers."""
        grid = service.get_current(db.session, code)
        chain = [{"code": g.code, "name": g.name, "level": g.level} for g in service.chain(db.session, grid)]
        workers = [staff_brief(s) for s in service.workers_of(db.session, code)]
        return feature(grid, extra={"chain": chain, "workers": workers})

    @requires(ADMIN)
    @blp.response(200, GridRetired)
    def delete(self, code):
        """Retire a grid (it stays in history for old cases)."""
        return service.retire(db.session, code)


@blp.route("/<code>/history")
class GridHistory(MethodView):
    @requires(*STAFF)
    @blp.response(200, GridCollection)
    def get(self, code):
        """Every version of a grid, newest first."""
        versions = db.session.scalars(select(Grid).where(Grid.code == code).order_by(Grid.valid_from.desc(),
                                                                                      Grid.id.desc())).all()
        if not versions:
            raise NotFound("grid", code)
        return {"type": "FeatureCollection", "features": [feature(g) for g in versions]}
