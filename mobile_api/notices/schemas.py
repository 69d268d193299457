"""Requests and answers of my notifications and my push subscriptions."""
from __future__ import annotations

import base64
import binascii

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from wangge.contract import LocalTime, QuerySchema
from wangge.fields import BoundedInt, Id
from wangge.i18n import t


class NoticeQuery(QuerySchema):
    unread = fields.Boolean(load_default=False, metadata={"description": "only the unread ones"})
    cursor = Id(metadata={"description": "next_cursor of the previous page (keyset: notices older than it)"})
    limit = BoundedInt(min_value=1, max_value=200, load_default=50)


class NoticeView(Schema):
    id = fields.Integer(required=True)
    topic = fields.String(required=True, metadata={"description": "case_event, deadline, enforcement..."})
    template = fields.String(allow_none=True, metadata={"description": "what happened (a verb, deadline_warning...)"})
    title = fields.String(required=True, metadata={"description": "in the user's language"})
    text = fields.String(required=True, metadata={"description": "in the user's language"})
    case_number = fields.String(allow_none=True)
    created_at = LocalTime(required=True)
    read = fields.Boolean(required=True)
    read_at = LocalTime()


class NoticePage(Schema):
    items = fields.List(fields.Nested(NoticeView), required=True)
    next_cursor = fields.Integer(allow_none=True, required=True,
                                 metadata={"description": "pass as ?cursor= for the next page; null on the last"})


class NoticeCounts(Schema):
    unread = fields.Integer(required=True)
    total = fields.Integer(required=True)


class ReadBody(Schema):
    ids = fields.List(Id(), validate=validate.Length(max=500), metadata={"description": "my notices to mark read"})
    up_to = Id(metadata={"description": "mark every notice of mine up to and including this id"})

    @validates_schema
    def _something(self, data, **kwargs):
        if not data.get("ids") and data.get("up_to") is None:
            raise ValidationError(t("notices_read_nothing"), "ids")


class ReadResult(Schema):
    marked = fields.Integer(required=True, metadata={"description": "notices marked read now"})
    unread = fields.Integer(required=True, metadata={"description": "my unread notices after this"})
    total = fields.Integer(required=True)


def _b64url_bytes(value: str, size: int, first: int | None = None) -> None:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValidationError(t("push_key_invalid")) from None
    if len(raw) != size or (first is not None and raw[0] != first):
        raise ValidationError(t("push_key_invalid"))


class PushKeys(Schema):
    p256dh = fields.String(required=True, validate=validate.Length(min=1, max=200),
                           metadata={"description": "the browser's P-256 key, base64url (65 bytes)"})
    auth = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"description": "the browser's auth secret, base64url (16 bytes)"})

    @validates_schema
    def _keys(self, data, **kwargs):
        errors = {}
        for name, size, first in (("p256dh", 65, 4), ("auth", 16, None)):
            try:
                _b64url_bytes(data[name], size, first)
            except ValidationError as exc:
                errors[name] = exc.messages
        if errors:
            raise ValidationError(errors)


class SubscriptionBody(Schema):
    """A Web Push subscription as ``PushSubscription.toJSON()`` gives it (``endpoint``,
    ``keys``, ``expirationTime``), or a vendor push token (``vendor``, ``token``)."""

    endpoint = fields.String(validate=validate.Length(min=8, max=1024))
    keys = fields.Nested(PushKeys)
    expirationTime = fields.Integer(allow_none=True, load_only=True,  # noqa: N815 - the browser's name
                                    validate=validate.Range(min=0, max=2**53),
                                    metadata={"description": "sent by browsers (ms since 1970); ignored"})
    vendor = fields.String(validate=validate.Length(min=1, max=32),
                           metadata={"description": "huawei, xiaomi, honor, oppo, vivo, jpush, getui (setting)"})
    token = fields.String(validate=validate.Length(min=1, max=512), metadata={"description": "the device token"})
    device = fields.String(validate=validate.Length(max=100), allow_none=True,
                           metadata={"description": "a label of the device (shown in my list)"})

    @validates_schema
    def _one_kind(self, data, **kwargs):
        web = data.get("endpoint") is not None or data.get("keys") is not None
        vendor = data.get("vendor") is not None or data.get("token") is not None
        if web == vendor:
            raise ValidationError(t("push_subscription_kind"), "endpoint")
        missing = [name for name in (("endpoint", "keys") if web else ("vendor", "token")) if data.get(name) is None]
        if missing:
            raise ValidationError({name: [t("push_subscription_kind")] for name in missing})


class SubscriptionView(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "webpush or vendor"})
    endpoint = fields.String(allow_none=True)
    vendor = fields.String(allow_none=True)
    device = fields.String(allow_none=True)
    created_at = LocalTime(required=True)


class VapidKeyView(Schema):
    public_key = fields.String(allow_none=True, required=True,
                               metadata={"description": "applicationServerKey for PushManager.subscribe(); "
                                                        "null when Web Push is not configured"})
    vendors = fields.List(fields.String(), required=True,
                          metadata={"description": "vendor names accepted (empty when no vendor is configured)"})
