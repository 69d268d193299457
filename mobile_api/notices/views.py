"""My notifications (``/notifications``) and my push subscriptions (``/push-subscriptions``)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from dispatch.notifications import personal, subscriptions
from dispatch.notifications.push import public_key_of
from mobile_api import PREFIX
from mobile_api.notices.presenters import notice_view
from mobile_api.notices.schemas import (
    NoticeCounts,
    NoticePage,
    NoticeQuery,
    ReadBody,
    ReadResult,
    SubscriptionBody,
    SubscriptionView,
    VapidKeyView,
)
from wangge.auth import current_staff, requires
from wangge.config import current_settings
from wangge.contract import DeletedSchema
from wangge.errors import NotFound
from wangge.extensions import db
from wangge.i18n import current_language

blp = Blueprint("mobile_notices", __name__, url_prefix=PREFIX,
                description="我的通知与推送 My notifications (read / unread) and push subscriptions")


@blp.route("/notifications")
class Notices(MethodView):
    @requires()
    @blp.arguments(NoticeQuery, location="query")
    @blp.response(200, NoticePage)
    def get(self, args):
        """My notifications, newest first (only mine, whatever my roles): every notification
        addressed to me lands here as well as on any channel. ``?unread=true`` for the unread
        ones; keyset pages: pass ``next_cursor`` back as ``?cursor=``. Text in my language."""
        rows, cursor = personal.mine(db.session, current_staff().id, unread=args["unread"],
                                     before=args.get("cursor"), limit=args["limit"])
        lang = current_language()
        return {"items": [notice_view(row, lang) for row in rows], "next_cursor": cursor}


@blp.route("/notifications/counts")
class NoticeCountsView(MethodView):
    @requires()
    @blp.response(200, NoticeCounts)
    def get(self):
        """How many notifications I have, and how many are unread (for a badge)."""
        return personal.counts(db.session, current_staff().id)


@blp.route("/notifications/read")
class NoticesRead(MethodView):
    @requires()
    @blp.arguments(ReadBody)
    @blp.response(200, ReadResult)
    def post(self, body):
        """Mark my notifications read: ``ids``, or every one ``up_to`` an id (both may be
        given). Idempotent: read ones stay read with their first time. Ids that are not mine
        are ignored (nobody can mark another person's notices)."""
        staff_id = current_staff().id
        marked = personal.mark_read(db.session, staff_id, ids=body.get("ids"), up_to=body.get("up_to"))
        return {"marked": marked, **personal.counts(db.session, staff_id)}


@blp.route("/push-subscriptions")
class PushSubscriptions(MethodView):
    @requires()
    @blp.response(200, SubscriptionView(many=True))
    def get(self):
        """My devices registered for push messages."""
        return subscriptions.mine(db.session, current_staff().id)

    @requires()
    @blp.arguments(SubscriptionBody)
    @blp.response(201, SubscriptionView)
    @blp.alt_response(200, schema=SubscriptionView, success=True,
                      description="The same subscription was registered before (now mine, refreshed)")
    def post(self, body):
        """Register this device for push: a Web Push subscription (``endpoint``, ``keys``:
        the JSON of the browser's ``PushSubscription``) or a vendor push ``token`` with its
        ``vendor``. Endpoints must be https on a known push service (docs/notifications.md);
        409 ``push_not_configured`` when the server has no key or vendor for that kind. The same
        subscription again answers 200 with the same id."""
        row, created = subscriptions.register(db.session, current_staff().id, body, current_settings())
        return row, 201 if created else 200


@blp.route("/push-subscriptions/vapid-key")
class VapidKey(MethodView):
    @requires()
    @blp.response(200, VapidKeyView)
    def get(self):
        """The server's public VAPID key (``applicationServerKey`` for
        ``PushManager.subscribe()``) and the vendor names a token may have."""
        s = current_settings()
        vendors = [v.strip() for v in s.push_vendors.split(",") if v.strip()] if s.push_vendor_url else []
        return {"public_key": public_key_of(s.vapid_private_key) if s.vapid_private_key else None,
                "vendors": vendors}


@blp.route("/push-subscriptions/<int:subscription_id>")
class PushSubscriptionOne(MethodView):
    @requires()
    @blp.response(200, DeletedSchema)
    def delete(self, subscription_id):
        """Stop pushing to this device (404 if it is not one of mine)."""
        if not subscriptions.remove(db.session, current_staff().id, subscription_id):
            raise NotFound("push_subscription", subscription_id)
        return {"deleted": True}
