from flask.views import MethodView
from flask_smorest import Blueprint

from mobile_api import PREFIX
from mobile_api.inbox.cursor import encode
from mobile_api.sync import service
from mobile_api.sync.schemas import PullQuery, PullView
from wangge.auth import current_staff, requires
from wangge.extensions import db

blp = Blueprint("mobile_sync", __name__, url_prefix=f"{PREFIX}/sync",
                description="手机 离线同步 Phone: offline sync")


@blp.route("/pull")
class Pull(MethodView):
    @requires()
    @blp.arguments(PullQuery, location="query")
    @blp.response(200, PullView)
    def get(self, args):
        """Everything I can see that changed since ``cursor``: cases and enforcement cases
        (``updated``: upsert by number; ``removed``: numbers that left my view - another
        department, grid or assignee, merged) and my grids. The first pull (no cursor) sends
        what I see now. The cursor is the server's position in its change feed, never a
        clock: a change committed late by a transaction that started earlier comes with the
        next pull. ``has_more``: pull again at once with the new cursor. ``reset``: empty
        those tables first (my roles, department or grids changed)."""
        answer = service.pull(db.session, current_staff(), args.get("cursor"), limit=args["limit"],
                              crs=args["crs"])
        answer["cursor"] = encode(answer["cursor"])
        return answer
