from flask.views import MethodView
from flask_smorest import Blueprint

from mobile_api import PREFIX
from mobile_api.inbox import service
from mobile_api.inbox.cursor import encode
from mobile_api.inbox.schemas import InboxQuery, InboxView
from wangge.auth import current_staff, requires
from wangge.extensions import db

blp = Blueprint("mobile_inbox", __name__, url_prefix=f"{PREFIX}/inbox",
                description="手机 待办 Phone: what needs me now")


@blp.route("")
class Inbox(MethodView):
    @requires(*service.ROLES)
    @blp.arguments(InboxQuery, location="query")
    @blp.response(200, InboxView)
    def get(self, args):
        """What needs me now, across my roles: the grid worker's verify and check tasks and own
        reports waiting at the desk, the handler's department's cases to sign and handle, the
        enforcement stages I complete. Sorted by deadline (the running stage clock's due time;
        none last), then kind and id. ``counts`` per light are over the whole inbox. Pages by
        ``cursor`` (``next_cursor`` of the previous page; ``limit`` 1..100, default 20).
        Send ``lon``/``lat`` (in ``crs``) for ``distance_m``."""
        me = (args["lon"], args["lat"]) if "lon" in args else None
        page = service.inbox(db.session, current_staff(), after=args.get("cursor"), limit=args["limit"],
                             crs=args["crs"], me=me)
        return {"items": page.items, "counts": page.counts, "total": sum(page.counts.values()),
                "next_cursor": encode(page.next.dump()) if page.next else None}
