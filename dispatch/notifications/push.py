"""The ``push`` channel: notifications pushed to people's phones and browsers.

Each staff member registers devices (``push_subscriptions``, through the phone API):

- **Web Push** (browsers and installed web apps): the subscription the browser's
  ``PushManager.subscribe()`` returns (``endpoint`` and ``keys.p256dh`` / ``keys.auth``). The
  message is encrypted for that browser (RFC 8291, ``aes128gcm``) and signed with our VAPID
  key (RFC 8292) by pywebpush. Settings: ``WANGGE_VAPID_PRIVATE_KEY`` (``wangge notify
  vapid-keys`` makes one), ``WANGGE_VAPID_SUBJECT``.
- **A vendor push service** (Huawei, Xiaomi, Honor, OPPO, vivo, or an aggregator such as
  JPush or Getui): the app's device ``token`` and ``vendor`` name. One HTTP adapter
  (``VendorSender``) POSTs JSON to ``WANGGE_PUSH_VENDOR_URL``:
  ``{"app_key", "vendor", "tokens": [token], "title", "body", "data", "request_id"}`` and
  reads ``{"message_id": ...}`` from a 2xx answer (the receipt). Each vendor's own API is a
  small gateway in front of it, or a subclass that reshapes ``body()`` and ``receipt()``.

Once per device: a ``push_receipts`` row (outbox row x subscription) is written with each
successful push, so when one device fails and the outbox retries the row (with its backoff),
devices already served are skipped. A push service's 404 or 410 means the subscription is
gone: the row is removed, nothing is retried. Any other 4xx (400, 401, 403, 413...) is a
permanent refusal of this message for this device: retrying the same request would get the
same answer, so the device is given up for this message -- a ``push_receipts`` row is written
with ``receipt`` = ``"failed: <reason>"`` (``FAILED_PREFIX``), which the retry skips like a
success, and the other devices are served as usual. The subscription stays (the next message
is tried again: a 403 may come from a key rotated since). 5xx, 429, timeouts and refused
connections raise, so the outbox retries.

**Which addresses a subscription may make the server call** (``check_endpoint``): only
``https://`` endpoints on the push services named in ``WANGGE_WEBPUSH_HOSTS`` (FCM, Mozilla,
Windows, Apple by default; ``.example.com`` allows its subdomains), on the default port, with
no user info. ``http://127.0.0.1:<port>`` is accepted only when the app runs with
``testing`` on (the test suite's local push service). Redirects are never followed. The rule
is checked when a subscription is registered and again before each push. The vendor URL is
the operator's setting, not the client's.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import exists, select

from dispatch.notifications.models import Outbox, PushReceipt, PushSubscription
from dispatch.notifications.personal import notice_for, notice_title
from grid.models import Staff
from wangge.extensions import db

log = logging.getLogger("wangge.notify")

WEBPUSH = "webpush"
VENDOR = "vendor"
LOOPBACK_HOSTS = {"127.0.0.1"}
MAX_BODY_CHARS = 1000  # a push message is a few KB at most; the inbox has the full text


FAILED_PREFIX = "failed: "  # a push_receipts.receipt starting so records a permanent refusal


class Gone(Exception):
    """The push service says this subscription no longer exists (404, 410)."""


class Rejected(Exception):
    """The push service refuses this message for this device for good (a 4xx other than 404,
    410 and 429): not retried."""


def refusal(status: int | None, what: str) -> Exception:
    """The exception for a push service's non-2xx answer (module docstring)."""
    if status in (404, 410):
        return Gone(f"{what} answered {status}")
    if status is not None and 400 <= status < 500 and status != 429:
        return Rejected(f"{what} answered {status}")
    return RuntimeError(f"{what} answered {status}")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- keys and rules ------------------------------------------------------------------------

def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair: (private key as base64url of its 32 raw bytes, for
    WANGGE_VAPID_PRIVATE_KEY; public key as base64url of the uncompressed point, the
    ``applicationServerKey`` a browser subscribes with)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(private), public_key_of(b64url(private))


def public_key_of(private_key: str) -> str:
    """The public VAPID key (applicationServerKey) of a base64url raw private key."""
    value = int.from_bytes(b64url_decode(private_key.strip()), "big")
    key = ec.derive_private_key(value, ec.SECP256R1())
    return b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint))


def allowed_host(host: str, allowed: str) -> bool:
    host = host.lower().rstrip(".")
    for entry in (e.strip().lower() for e in (allowed or "").split(",") if e.strip()):
        if entry.startswith(".") and host.endswith(entry) and len(host) > len(entry):
            return True
        if host == entry.lstrip("."):
            return True
    return False


def check_endpoint(url: str, settings) -> str | None:
    """None when the server may POST to this Web Push endpoint, else the reason (a message
    key). See the module docstring for the rule."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "push_endpoint_invalid"
    host = parts.hostname or ""
    if parts.username or parts.password or not host or any(c in url for c in "\x00\r\n \\"):
        return "push_endpoint_invalid"
    if parts.scheme == "http" and settings.testing and host in LOOPBACK_HOSTS:
        return None
    if parts.scheme != "https":
        return "push_endpoint_not_https"
    if port not in (None, 443) or not allowed_host(host, settings.webpush_hosts):
        return "push_endpoint_host"
    return None


def subscription_identity(kind: str, endpoint: str | None = None, vendor: str | None = None,
                          token: str | None = None) -> str:
    raw = f"{WEBPUSH}\n{endpoint}" if kind == WEBPUSH else f"{VENDOR}\n{vendor}\n{token}"
    return hashlib.sha256(raw.encode()).hexdigest()


# --- senders -------------------------------------------------------------------------------

class _NoRedirects(requests.Session):
    """A push is never redirected: a redirect could point anywhere, the rule above could not."""

    def request(self, method, url, **kwargs):
        kwargs["allow_redirects"] = False
        return super().request(method, url, **kwargs)


class WebPushSender:
    """Encrypts and signs with pywebpush; returns the push service's message location."""

    def __init__(self, settings):
        from py_vapid import Vapid  # pywebpush's own VAPID helper

        self.settings = settings
        self.vapid = Vapid.from_string(settings.vapid_private_key)
        self.subject = settings.vapid_subject
        self.session = _NoRedirects()

    def send(self, sub: PushSubscription, message: dict, key: str) -> str | None:
        from pywebpush import WebPushException, webpush

        reason = check_endpoint(sub.endpoint or "", self.settings)
        if reason:
            raise Gone(reason)  # registered under another rule: never call it, drop it
        try:
            response = webpush({"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
                               data=json.dumps(message, ensure_ascii=False), vapid_private_key=self.vapid,
                               vapid_claims={"sub": self.subject}, timeout=self.settings.push_timeout_seconds,
                               ttl=86400, headers={"Urgency": "high"}, requests_session=self.session)
        except WebPushException as exc:
            raise refusal(getattr(exc.response, "status_code", None), "web push") from exc
        return (response.headers.get("Location") or "")[:500] or None


class VendorSender:
    """A vendor push service's HTTP API, in the common shape (module docstring)."""

    def __init__(self, settings):
        self.url = settings.push_vendor_url
        self.app_key = settings.push_vendor_app_key
        self.timeout = settings.push_timeout_seconds
        self.session = _NoRedirects()

    def body(self, sub: PushSubscription, message: dict, key: str) -> dict:
        return {"app_key": self.app_key, "vendor": sub.vendor, "tokens": [sub.token],
                "title": message["title"], "body": message["body"], "data": message["data"], "request_id": key}

    def receipt(self, response) -> str | None:
        try:
            answer = response.json()
        except ValueError:
            return None
        value = answer.get("message_id") if isinstance(answer, dict) else None
        return None if value is None else str(value)[:500]

    def send(self, sub: PushSubscription, message: dict, key: str) -> str | None:
        response = self.session.post(self.url, json=self.body(sub, message, key), timeout=self.timeout,
                                     headers={"X-Request-Id": key})
        if not 200 <= response.status_code < 300:
            raise refusal(response.status_code, "vendor push")
        return self.receipt(response)


# --- the channel ---------------------------------------------------------------------------

class PushChannel:
    """Pushes each message to every registered device of each staff recipient (module
    docstring). Reads and writes through the delivering session (``db.session``, the one
    ``dispatch.notifications.outbox.deliver`` commits)."""

    name = "push"

    def __init__(self, settings, session_getter=None):
        self.settings = settings
        self.senders: dict = {}
        if settings.vapid_private_key:
            self.senders[WEBPUSH] = WebPushSender(settings)
        if settings.push_vendor_url:
            self.senders[VENDOR] = VendorSender(settings)
        self._session = session_getter or (lambda: db.session)

    def accepts(self, recipient: dict) -> bool:
        sid = recipient.get("id")
        if recipient.get("kind", "staff") != "staff" or not isinstance(sid, int):
            return False
        return bool(self._session().scalar(select(exists().where(PushSubscription.staff_id == sid))))

    def send(self, message: dict, recipient: dict, key: str) -> None:
        session = self._session()
        staff_id = recipient["id"]
        outbox_id = session.scalar(select(Outbox.id).where(Outbox.dedup_key == message.get("key")))
        subs = session.scalars(select(PushSubscription).where(PushSubscription.staff_id == staff_id)
                               .order_by(PushSubscription.id)).all()
        done = set(session.scalars(select(PushReceipt.subscription_id).where(PushReceipt.outbox_id == outbox_id)))
        lang = session.scalar(select(Staff.language).where(Staff.id == staff_id)) or "zh"
        notice = notice_for(session, staff_id, outbox_id) if outbox_id is not None else None
        text = message.get(f"text_{lang}") or message.get("text_zh") or message.get("text_en") or ""
        push = {"title": notice_title(message.get("topic"), lang), "body": text[:MAX_BODY_CHARS],
                "data": {"notice_id": notice.id if notice else None, "case": message.get("case"),
                         "topic": message.get("topic"), "key": key}}
        failures = []
        for sub in subs:
            sender = self.senders.get(sub.kind)
            if sub.id in done or sender is None:
                if sender is None:
                    log.warning("push subscription %s (%s) skipped: that kind is not configured", sub.id, sub.kind)
                continue
            device_key = f"{key}/{sub.id}"
            try:
                receipt = sender.send(sub, {**push, "data": {**push["data"], "key": device_key}}, device_key)
            except Gone as exc:
                log.info("push subscription %s of staff %s is gone (%s): removed", sub.id, staff_id, exc)
                session.delete(sub)
                continue
            except Rejected as exc:  # given up for this message only; recorded so no retry repeats it
                log.warning("push to subscription %s of staff %s refused for good (%s)", sub.id, staff_id, exc)
                receipt = f"{FAILED_PREFIX}{exc}"[:500]
            except Exception as exc:  # 5xx, 429, timeout, refused: the outbox retries this device
                failures.append(f"subscription {sub.id}: {exc}")
                continue
            session.add(PushReceipt(outbox_id=outbox_id, subscription_id=sub.id, staff_id=staff_id,
                                    kind=sub.kind, receipt=receipt))
        session.flush()
        if failures:
            raise RuntimeError("; ".join(failures))
