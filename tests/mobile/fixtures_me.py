"""Helpers for the tests of the phone API's ``me`` part."""
from __future__ import annotations

from tests.factories import PASSWORD

ME = "/api/m/v1"


def sign_in(client, staff, *, device_id="dev-1", device_name="工作手机", platform="android", **extra):
    """Sign ``staff`` in on a device; the answer's JSON (asserting 201)."""
    r = client.post(f"{ME}/sessions", json={"username": staff.username, "password": PASSWORD,
                                            "device_id": device_id, "device_name": device_name,
                                            "platform": platform, **extra})
    assert r.status_code == 201, r.json
    return r.json


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def refresh(client, secret: str):
    return client.post(f"{ME}/sessions/refresh", json={"refresh_token": secret})
