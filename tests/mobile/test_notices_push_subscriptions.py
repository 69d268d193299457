"""My push subscriptions (/api/m/v1/push-subscriptions): registered per person and device,
listed and removed by their owner only; endpoints only on allowed push services (never an
internal address), keys checked, nothing accepted for a kind the server cannot push."""
from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dispatch.notifications.push import generate_vapid_keys

URL = "/api/m/v1/push-subscriptions"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def keys() -> dict:
    public = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"p256dh": b64url(public), "auth": b64url(os.urandom(16))}


@pytest.fixture
def configured(app, monkeypatch):
    s = app.config["WANGGE"]
    monkeypatch.setattr(s, "vapid_private_key", generate_vapid_keys()[0])
    monkeypatch.setattr(s, "vapid_subject", "mailto:ops@wangge.example")
    monkeypatch.setattr(s, "push_vendor_url", "https://push.vendor.example/send")
    return s


FCM = "https://fcm.googleapis.com/fcm/send/abc123"


def test_register_list_and_remove_my_devices(client, city, configured):
    h = city.h("worker1")
    first = client.post(URL, json={"endpoint": FCM, "keys": keys(), "expirationTime": None, "device": "Chrome"},
                        headers=h)
    assert first.status_code == 201 and first.json["kind"] == "webpush" and first.json["device"] == "Chrome"
    again = client.post(URL, json={"endpoint": FCM, "keys": keys(), "device": "Chrome 2"}, headers=h)
    assert again.status_code == 200 and again.json["id"] == first.json["id"]  # the same device, refreshed
    vendor = client.post(URL, json={"vendor": "xiaomi", "token": "mi-token-1"}, headers=h)
    assert vendor.status_code == 201 and vendor.json["kind"] == "vendor"
    assert "token" not in vendor.json and "keys" not in first.json
    mine = client.get(URL, headers=h).json
    assert [s["id"] for s in mine] == [first.json["id"], vendor.json["id"]] and mine[0]["device"] == "Chrome 2"

    # another person sees none of them and cannot remove them
    assert client.get(URL, headers=city.h("worker2")).json == []
    r = client.delete(f"{URL}/{first.json['id']}", headers=city.h("worker2"))
    assert r.status_code == 404 and r.json["code"] == "not_found"
    assert len(client.get(URL, headers=h).json) == 2

    assert client.delete(f"{URL}/{first.json['id']}", headers=h).json == {"deleted": True}
    assert client.delete(f"{URL}/{first.json['id']}", headers=h).status_code == 404  # twice: gone already
    assert [s["id"] for s in client.get(URL, headers=h).json] == [vendor.json["id"]]
    for bad in (0, 2**31):
        assert client.delete(f"{URL}/{bad}", headers=h).status_code == 404


def test_a_handed_over_device_moves_to_its_new_user(client, city, configured):
    body = {"vendor": "huawei", "token": "shared-phone"}
    one = client.post(URL, json=body, headers=city.h("worker1")).json
    two = client.post(URL, json=body, headers=city.h("worker2"))
    assert two.status_code == 200 and two.json["id"] == one["id"]
    assert client.get(URL, headers=city.h("worker1")).json == []


@pytest.mark.parametrize("endpoint, code", [
    ("http://fcm.googleapis.com/fcm/send/x", "push_endpoint_not_https"),
    ("https://169.254.169.254/latest/meta-data", "push_endpoint_host"),
    ("https://10.0.0.1/push", "push_endpoint_host"),
    ("https://localhost/push", "push_endpoint_host"),
    ("https://redis.internal:6379/x", "push_endpoint_host"),
    ("https://fcm.googleapis.com:8443/fcm/send/x", "push_endpoint_host"),
    ("https://fcm.googleapis.com.evil.example/x", "push_endpoint_host"),
    ("https://evilfcm.googleapis.com/x", "push_endpoint_host"),
    ("https://user:pw@fcm.googleapis.com/fcm/send/x", "push_endpoint_invalid"),
    ("file:///etc/passwd", "push_endpoint_invalid"),
    ("gopher://127.0.0.1:6379/_FLUSHALL", "push_endpoint_not_https"),
    ("https://fcm.googleapis.com:99999/x", "push_endpoint_invalid"),
])
def test_endpoints_outside_the_push_services_are_refused(client, city, configured, endpoint, code):
    from wangge.i18n import t

    r = client.post(URL, json={"endpoint": endpoint, "keys": keys()}, headers=city.h("worker1"))
    assert r.status_code == 422, r.json
    assert r.json["fields"]["endpoint"] == [t(code, lang="zh")]


def test_loopback_only_while_testing(client, city, configured, monkeypatch):
    body = {"endpoint": "http://127.0.0.1:9/wp/x", "keys": keys()}
    assert client.post(URL, json=body, headers=city.h("worker1")).status_code == 201
    monkeypatch.setattr(configured, "testing", False)
    body = {"endpoint": "http://127.0.0.1:9/wp/y", "keys": keys()}
    assert client.post(URL, json=body, headers=city.h("worker1")).status_code == 422
    ok = {"endpoint": "https://updates.push.services.mozilla.com/wpush/v2/gAAA", "keys": keys()}
    assert client.post(URL, json=ok, headers=city.h("worker1")).status_code == 201


def test_bad_bodies(client, city, configured):
    h = city.h("worker1")
    short = {"p256dh": b64url(os.urandom(10)), "auth": b64url(os.urandom(16))}
    not_a_point = {"p256dh": b64url(b"\x05" + os.urandom(64)), "auth": b64url(os.urandom(16))}
    for body in ({}, {"endpoint": FCM}, {"keys": keys()}, {"vendor": "huawei"}, {"token": "t"},
                 {"endpoint": FCM, "keys": keys(), "vendor": "huawei", "token": "t"},
                 {"endpoint": FCM, "keys": short}, {"endpoint": FCM, "keys": not_a_point},
                 {"endpoint": FCM, "keys": {**keys(), "auth": "!!!"}},
                 {"endpoint": FCM + "\x00", "keys": keys()}, {"vendor": "huawei", "token": "a\x00b"},
                 {"vendor": "nokia", "token": "t"}, {"vendor": "huawei", "token": "x" * 513},
                 {"endpoint": FCM + "/" + "x" * 1100, "keys": keys()},
                 {"endpoint": FCM, "keys": keys(), "expirationTime": 10**40},
                 {"vendor": "huawei", "token": "t", "owner": 1}):
        r = client.post(URL, json=body, headers=h)
        assert r.status_code == 422, (body, r.json)
    assert client.get(URL, headers=h).json == []


def test_not_configured_and_anonymous(client, city, app, monkeypatch):
    s = app.config["WANGGE"]
    monkeypatch.setattr(s, "vapid_private_key", "")
    monkeypatch.setattr(s, "push_vendor_url", "")
    h = city.h("worker1")
    for body, kind in (({"endpoint": FCM, "keys": keys()}, "webpush"), ({"vendor": "huawei", "token": "t"}, "vendor")):
        r = client.post(URL, json=body, headers=h)
        assert r.status_code == 409 and r.json["code"] == "push_not_configured" and kind in r.json["message"]
    assert client.get(f"{URL}/vapid-key", headers=h).json == {"public_key": None, "vendors": []}
    for method, path in (("get", URL), ("post", URL), ("get", f"{URL}/vapid-key"), ("delete", f"{URL}/1")):
        assert getattr(client, method)(path, json={"vendor": "huawei", "token": "t"}).status_code == 401
