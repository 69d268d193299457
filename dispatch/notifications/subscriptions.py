"""Push subscriptions: each person registers the devices that receive their push messages
(``dispatch.notifications.push`` sends to them). Plain functions over a session."""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dispatch.notifications.models import PushSubscription
from dispatch.notifications.push import VENDOR, WEBPUSH, check_endpoint, subscription_identity
from wangge.errors import ApiError, validation_error
from wangge.i18n import t


def register(session, staff_id: int, body: dict, settings) -> tuple[PushSubscription, bool]:
    """Register (or refresh) a device for ``staff_id``. ``body`` is a Web Push subscription
    (``endpoint``, ``keys``) or a vendor token (``vendor``, ``token``), with an optional
    ``device`` label. The same subscription again is the same row; sent by another person
    (a shared phone handed over) it moves to them. Returns (row, created)."""
    if body.get("endpoint"):
        if not settings.vapid_private_key:
            raise ApiError("push_not_configured", status=409, kind=WEBPUSH)
        reason = check_endpoint(body["endpoint"], settings)
        if reason:
            raise validation_error({"endpoint": [t(reason)]})
        keys = body["keys"]
        fields = {"kind": WEBPUSH, "endpoint": body["endpoint"], "p256dh": keys["p256dh"], "auth": keys["auth"],
                  "vendor": None, "token": None}
        identity = subscription_identity(WEBPUSH, endpoint=body["endpoint"])
    else:
        if not settings.push_vendor_url:
            raise ApiError("push_not_configured", status=409, kind=VENDOR)
        vendors = [v.strip() for v in settings.push_vendors.split(",") if v.strip()]
        if body["vendor"] not in vendors:
            raise validation_error({"vendor": [t("push_vendor_unknown", vendors=", ".join(vendors))]})
        fields = {"kind": VENDOR, "vendor": body["vendor"], "token": body["token"], "endpoint": None,
                  "p256dh": None, "auth": None}
        identity = subscription_identity(VENDOR, vendor=body["vendor"], token=body["token"])
    # INSERT ... ON CONFLICT DO NOTHING, then the row locked: two registrations of one
    # subscription at the same moment (a retry racing its original, two taps) make one row and
    # both answer it, where a look-up first would let both insert (a unique violation, a 500).
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    new_id = session.execute(insert(PushSubscription).values(identity=identity, staff_id=staff_id,
                                                             device=body.get("device"), **fields)
                             .on_conflict_do_nothing(index_elements=["identity"])
                             .returning(PushSubscription.id)).scalar()
    row = session.scalar(select(PushSubscription).where(PushSubscription.identity == identity).with_for_update()
                         .execution_options(populate_existing=True))
    created = new_id is not None
    if not created:
        for name, value in fields.items():
            setattr(row, name, value)
        row.staff_id = staff_id
        row.device = body.get("device")
    session.flush()
    return row, created


def mine(session, staff_id: int) -> list[PushSubscription]:
    return list(session.scalars(select(PushSubscription).where(PushSubscription.staff_id == staff_id)
                                .order_by(PushSubscription.id)))


def remove(session, staff_id: int, subscription_id: int) -> bool:
    """Remove one of my subscriptions; False when it is not mine (or not there)."""
    result = session.execute(delete(PushSubscription).where(PushSubscription.id == subscription_id,
                                                            PushSubscription.staff_id == staff_id))
    return bool(result.rowcount)
