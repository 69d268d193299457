from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from grid.catalog import limits
from grid.catalog.schemas import CategoryPatchSchema, CategorySchema, LimitInForce, TimeLimitSchema
from grid.models import Category, TimeLimit
from grid.roles import ADMIN, STAFF
from wangge.auth import requires
from wangge.contract import DeletedSchema
from wangge.errors import ApiError, NotFound, validation_error
from wangge.extensions import db
from wangge.i18n import t

blp = Blueprint("categories", __name__, url_prefix="/api/v1/categories",
                description="问题类别与时限 Category catalog and time limits")


def get_category(code: str) -> Category:
    cat = db.session.get(Category, code)
    if cat is None:
        raise NotFound("category", code)
    return cat


def _check_parent(parent_code, kind):
    if parent_code is None:
        return
    parent = get_category(parent_code)
    if parent.parent_code is not None or parent.kind != kind:
        raise validation_error({"parent_code": [
            "parent must be a big class of the same kind (the catalog has two levels)"]})


@blp.route("")
class CategoryList(MethodView):
    @requires(*STAFF)
    @blp.response(200, CategorySchema(many=True))
    def get(self):
        """The whole catalog, big classes first then their small classes."""
        return db.session.scalars(select(Category).order_by(Category.kind, Category.code)).all()

    @requires(ADMIN)
    @blp.arguments(CategorySchema)
    @blp.response(201, CategorySchema)
    def post(self, body):
        """Add a category."""
        if db.session.get(Category, body["code"]) is not None:
            raise ApiError("already_exists", status=409, what=t("category"), key=body["code"])
        _check_parent(body.get("parent_code"), body["kind"])
        cat = Category(**body)
        db.session.add(cat)
        db.session.flush()
        return cat


@blp.route("/<code>")
class CategoryDetail(MethodView):
    @requires(*STAFF)
    @blp.response(200, CategorySchema)
    def get(self, code):
        """One category."""
        return get_category(code)

    @requires(ADMIN)
    @blp.arguments(CategoryPatchSchema)
    @blp.response(200, CategorySchema)
    def patch(self, body, code):
        """Rename, (de)activate or mark for automatic dispatch."""
        cat = get_category(code)
        body.pop("code", None)
        if "parent_code" in body or "kind" in body:
            _check_parent(body.get("parent_code", cat.parent_code), body.get("kind", cat.kind))
        for key, value in body.items():
            setattr(cat, key, value)
        db.session.flush()
        return cat


@blp.route("/<code>/limits")
class CategoryLimits(MethodView):
    @requires(*STAFF)
    @blp.response(200, LimitInForce(many=True))
    def get(self, code):
        """The limit in force for every stage, and where it comes from (own, big class, default)."""
        get_category(code)
        out = []
        for stage in limits.STAGES:
            row = limits.limit_for(db.session, code, stage)
            out.append({"stage": stage, "amount": row.amount, "unit": row.unit, "from": row.category_code})
        return out

    @requires(ADMIN)
    @blp.arguments(TimeLimitSchema)
    @blp.response(200, TimeLimitSchema)
    def put(self, body, code):
        """Set this category's own limit for one stage."""
        get_category(code)
        return limits.set_limit(db.session, code, body["stage"], body["amount"], body["unit"])


@blp.route("/<code>/limits/<stage>")
class CategoryLimit(MethodView):
    @requires(ADMIN)
    @blp.response(200, DeletedSchema)
    def delete(self, code, stage):
        """Drop this category's own limit for a stage (the inherited one applies again)."""
        row = db.session.scalar(select(TimeLimit).where(TimeLimit.category_code == code, TimeLimit.stage == stage))
        if row is None:
            raise NotFound("time_limit", f"{code}/{stage}")
        db.session.delete(row)
        return {"deleted": True}
