"""The push channel against a local HTTP server playing both the Web Push service and a
vendor push service: delivery, receipts, retries with backoff without duplicates, gone
subscriptions removed, the Web Push payload really encrypted for the browser's key and
signed with our VAPID key."""
from __future__ import annotations

import base64
import json
import os
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import func, select

from dispatch.notifications.models import (
    Delivery,
    Outbox,
    PersonalNotice,
    PushReceipt,
    PushSubscription,
)
from dispatch.notifications.outbox import deliver
from dispatch.notifications.push import PushChannel, generate_vapid_keys, public_key_of
from tests.dispatch.conftest import do, report
from wangge.timeutil import utcnow

SUBS = "/api/m/v1/push-subscriptions"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushServer:
    """A threaded HTTP server on 127.0.0.1: records every POST; answers each path with the
    statuses queued for it (``fail(path, 500, 410...)``), then with success: 201 and a
    ``Location`` for Web Push paths (``/wp/...``), 200 ``{"message_id"}`` for the vendor."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: dict[str, list[int]] = {}
        server = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    n = len(server.requests) + 1
                    server.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                    queued = server.script.get(self.path) or []
                    status = queued.pop(0) if queued else None
                if status is not None:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path.startswith("/wp/"):
                    self.send_response(201)
                    self.send_header("Location", f"http://127.0.0.1/messages/m{n}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    answer = json.dumps({"message_id": f"vendor-msg-{n}"}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fail(self, path: str, *statuses: int) -> None:
        self.script[path] = list(statuses)

    def to(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Browser:
    """What a browser keeps for one push subscription: its P-256 key pair and auth secret."""

    def __init__(self, endpoint: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.endpoint = endpoint
        public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
        self.subscription = {"endpoint": endpoint, "expirationTime": None,
                             "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> dict:
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"))


@pytest.fixture
def push(app, monkeypatch):
    """The local push server, VAPID keys and a vendor URL in the settings."""
    server = PushServer()
    private, public = generate_vapid_keys()
    s = app.config["WANGGE"]
    monkeypatch.setattr(s, "vapid_private_key", private)
    monkeypatch.setattr(s, "vapid_subject", "mailto:ops@wangge.example")
    monkeypatch.setattr(s, "push_vendor_url", f"{server.base}/vendor/send")
    monkeypatch.setattr(s, "push_vendor_app_key", "app-key-1")
    server.vapid_public = public
    yield server
    server.close()


def dispatched(client, city) -> str:
    n = report(client, city)["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")  # E0102 to ENV: its handler is told
    return n


def outbox_of(session, number: str) -> Outbox:
    return session.scalars(select(Outbox).where(Outbox.payload["case"].as_string() == number)
                           .order_by(Outbox.id.desc())).first()


def subscribe(client, city, who: str, body: dict, expect: int = 201) -> dict:
    r = client.post(SUBS, json=body, headers=city.h(who))
    assert r.status_code == expect, r.json
    return r.json


def verify_vapid(header: str, public_key: str) -> dict:
    """``vapid t=<jwt>, k=<key>``: the key is ours and the ES256 signature holds."""
    scheme, _, rest = header.partition(" ")
    assert scheme == "vapid"
    parts = dict(p.strip().split("=", 1) for p in rest.split(","))
    assert parts["k"] == public_key
    signing_input, _, signature = parts["t"].rpartition(".")
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        key.verify(der, signing_input.encode() + b"x", ec.ECDSA(hashes.SHA256()))
    return json.loads(unb64url(signing_input.split(".")[1]))


def test_web_push_is_encrypted_for_the_browser_and_signed(client, city, db_session, app, push):
    browser = Browser(f"{push.base}/wp/env-phone")
    sub = subscribe(client, city, "env", {**browser.subscription, "device": "华为 Mate"})
    n = dispatched(client, city)
    row = outbox_of(db_session, n)

    assert deliver(db_session, row.id, channels=[PushChannel(app.config["WANGGE"])])["status"] == "delivered"
    [request] = push.to("/wp/env-phone")
    headers = request["headers"]
    assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0
    assert n.encode() not in request["body"] and "案件".encode() not in request["body"]  # ciphertext
    message = browser.decrypt(request["body"])
    notice = db_session.scalar(select(PersonalNotice).where(PersonalNotice.outbox_id == row.id))
    assert message["title"] == "案件通知" and n in message["body"]
    assert message["data"]["notice_id"] == notice.id and message["data"]["case"] == n
    claims = verify_vapid(headers["authorization"], push.vapid_public)
    assert claims["aud"] == push.base and claims["sub"] == "mailto:ops@wangge.example"
    assert claims["exp"] > utcnow().timestamp()

    receipt = db_session.scalar(select(PushReceipt).where(PushReceipt.outbox_id == row.id))
    assert receipt.subscription_id == sub["id"] and receipt.receipt.startswith("http://127.0.0.1/messages/m")
    assert db_session.scalar(select(func.count(Delivery.id)).where(
        Delivery.outbox_id == row.id, Delivery.channel == "push")) == 1
    # the English reader gets English
    city.staff["env"].language = "en"
    n2 = dispatched(client, city)
    deliver(db_session, outbox_of(db_session, n2).id, channels=[PushChannel(app.config["WANGGE"])])
    assert browser.decrypt(push.to("/wp/env-phone")[-1]["body"])["title"] == "Case notice"


def test_retry_after_500_then_success_each_device_once(client, city, db_session, app, push):
    browser = Browser(f"{push.base}/wp/env-browser")
    subscribe(client, city, "env", browser.subscription)
    vendor = subscribe(client, city, "env", {"vendor": "huawei", "token": "tok-env-1", "device": "荣耀"})
    push.fail("/vendor/send", 500, 503)
    n = dispatched(client, city)
    row = outbox_of(db_session, n)
    channel = PushChannel(app.config["WANGGE"])

    t0 = utcnow()
    assert deliver(db_session, row.id, channels=[channel], now=t0)["status"] == "retry"
    db_session.expire_all()
    assert row.attempts == 1 and "500" in row.last_error and row.available_at == t0 + timedelta(seconds=10)
    assert len(push.to("/wp/env-browser")) == 1 and len(push.to("/vendor/send")) == 1
    # backing off: a stray job before available_at does nothing
    assert deliver(db_session, row.id, channels=[channel], now=t0 + timedelta(seconds=5))["status"] == "waiting"
    assert deliver(db_session, row.id, channels=[channel], now=row.available_at)["status"] == "retry"  # 503
    db_session.expire_all()
    assert row.attempts == 2 and row.available_at - t0 >= timedelta(seconds=30)
    assert deliver(db_session, row.id, channels=[channel], now=row.available_at)["status"] == "delivered"
    assert deliver(db_session, row.id, channels=[channel], now=row.available_at)["status"] == "already"

    assert len(push.to("/wp/env-browser")) == 1  # the browser was served once, never again
    tries = push.to("/vendor/send")
    assert len(tries) == 3
    bodies = [json.loads(r["body"]) for r in tries]
    assert {b["request_id"] for b in bodies} == {bodies[0]["request_id"]}  # one key across retries
    assert bodies[0]["tokens"] == ["tok-env-1"] and bodies[0]["app_key"] == "app-key-1"
    assert bodies[0]["vendor"] == "huawei" and n in bodies[0]["body"] and bodies[0]["title"] == "案件通知"
    receipts = {r.subscription_id: r.receipt for r in db_session.scalars(
        select(PushReceipt).where(PushReceipt.outbox_id == row.id))}
    assert receipts[vendor["id"]] == "vendor-msg-4"  # the 4th request (browser, 500, 503, 200) is the one that worked
    assert len(receipts) == 2


def test_gone_subscriptions_are_removed_not_retried(client, city, db_session, app, push):
    browser = Browser(f"{push.base}/wp/old-browser")
    gone_web = subscribe(client, city, "env", browser.subscription)
    gone_vendor = subscribe(client, city, "env", {"vendor": "xiaomi", "token": "stale"})
    push.fail("/wp/old-browser", 410)
    push.fail("/vendor/send", 404)
    row = outbox_of(db_session, dispatched(client, city))
    assert deliver(db_session, row.id, channels=[PushChannel(app.config["WANGGE"])])["status"] == "delivered"
    assert db_session.scalars(select(PushSubscription).where(
        PushSubscription.id.in_([gone_web["id"], gone_vendor["id"]]))).all() == []
    assert db_session.scalar(select(func.count(PushReceipt.id)).where(PushReceipt.outbox_id == row.id)) == 0
    assert client.get(SUBS, headers=city.h("env")).json == []


def test_unreachable_push_service_is_retried(client, city, db_session, app, push):
    from tests.servers import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    browser = Browser(f"{dead}/wp/nobody-listens")
    subscribe(client, city, "env", browser.subscription)
    row = outbox_of(db_session, dispatched(client, city))
    assert deliver(db_session, row.id, channels=[PushChannel(app.config["WANGGE"])])["status"] == "retry"
    db_session.expire_all()
    assert row.attempts == 1 and db_session.scalar(select(func.count(PushSubscription.id))) == 1


def test_configured_push_channel_delivers_with_the_request(client, city, db_session, app, push, monkeypatch):
    """WANGGE_NOTIFICATION_CHANNELS=log,push with jobs inline: the case action's commit
    relays the row, the handler's phone gets the push, the inbox has the notice."""
    monkeypatch.setattr(app.config["WANGGE"], "notification_channels", "log,push")
    monkeypatch.setattr(app.config["WANGGE"], "jobs_inline", True)
    subscribe(client, city, "env", {"vendor": "jpush", "token": "reg-id-9"})
    n = dispatched(client, city)
    [sent] = push.to("/vendor/send")
    assert json.loads(sent["body"])["tokens"] == ["reg-id-9"] and n in json.loads(sent["body"])["body"]
    db_session.expire_all()
    row = outbox_of(db_session, n)
    assert row.delivered_at is not None
    assert client.get("/api/m/v1/notifications/counts", headers=city.h("env")).json == {"unread": 1, "total": 1}
    # road's handler has no device and no notice; nobody else was pushed to
    assert len(push.requests) == 1


def test_vapid_keys_cli_and_public_key(app, client, city, push):
    result = app.test_cli_runner().invoke(args=["notify", "vapid-keys"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    private = lines[0].split("=", 1)[1]
    assert lines[0].startswith("WANGGE_VAPID_PRIVATE_KEY=") and public_key_of(private) in lines[1]
    assert len(unb64url(private)) == 32 and len(unb64url(public_key_of(private))) == 65
    r = client.get(f"{SUBS}/vapid-key", headers=city.h("worker1"))
    assert r.status_code == 200 and r.json["public_key"] == push.vapid_public
    assert "huawei" in r.json["vendors"]


@pytest.mark.parametrize("status", [403, 400, 401, 413])
def test_permanent_refusal_gives_up_that_device_only(client, city, db_session, app, push, status):
    """A 4xx other than 404/410/429 is not retried: that device is given up for this message
    (a receipt row with the error), the other device is served, the subscription stays; a
    retry forced by a third device's 500 does not call the refusing device again."""
    refusing = Browser(f"{push.base}/wp/refusing")
    refused = subscribe(client, city, "env", refusing.subscription)
    vendor = subscribe(client, city, "env", {"vendor": "huawei", "token": "tok-ok"})
    push.fail("/wp/refusing", status)
    row = outbox_of(db_session, dispatched(client, city))
    channel = PushChannel(app.config["WANGGE"])
    assert deliver(db_session, row.id, channels=[channel])["status"] == "delivered"
    receipts = {r.subscription_id: r.receipt for r in db_session.scalars(
        select(PushReceipt).where(PushReceipt.outbox_id == row.id))}
    assert receipts[refused["id"]] == f"failed: web push answered {status}"
    assert receipts[vendor["id"]].startswith("vendor-msg-")
    assert len(push.to("/wp/refusing")) == 1 and len(push.to("/vendor/send")) == 1
    assert db_session.get(PushSubscription, refused["id"]) is not None  # kept: the next message tries again

    # the vendor refuses (403) while a browser fails transiently (500): one retry, the vendor not called twice
    flaky = Browser(f"{push.base}/wp/flaky")
    subscribe(client, city, "env", flaky.subscription)
    push.fail("/vendor/send", 403)
    push.fail("/wp/flaky", 500)
    row2 = outbox_of(db_session, dispatched(client, city))
    assert deliver(db_session, row2.id, channels=[channel])["status"] == "retry"
    db_session.expire_all()
    assert deliver(db_session, row2.id, channels=[channel], now=row2.available_at)["status"] == "delivered"
    assert len(push.to("/vendor/send")) == 2  # once for each message, never retried
    assert len(push.to("/wp/flaky")) == 2 and len(push.to("/wp/refusing")) == 2
    receipts2 = {r.subscription_id: r.receipt for r in db_session.scalars(
        select(PushReceipt).where(PushReceipt.outbox_id == row2.id))}
    assert receipts2[vendor["id"]] == "failed: vendor push answered 403" and len(receipts2) == 3


def test_429_is_retried_not_given_up(client, city, db_session, app, push):
    subscribe(client, city, "env", {"vendor": "oppo", "token": "tok-busy"})
    push.fail("/vendor/send", 429)
    row = outbox_of(db_session, dispatched(client, city))
    channel = PushChannel(app.config["WANGGE"])
    assert deliver(db_session, row.id, channels=[channel])["status"] == "retry"
    db_session.expire_all()
    assert db_session.scalar(select(func.count(PushReceipt.id)).where(PushReceipt.outbox_id == row.id)) == 0
    assert deliver(db_session, row.id, channels=[channel], now=row.available_at)["status"] == "delivered"
    assert len(push.to("/vendor/send")) == 2
