"""Device sessions for phones: sign-in with a device, refresh-token rotation, reuse detection
revoking the whole family, my devices, signing a lost device out, admins signing out all of a
person's devices, rate-limited sign-in, and two refreshes racing with one token."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from grid.models import ApiToken, DeviceSession, RefreshToken
from tests.factories import PASSWORD, StaffFactory
from tests.mobile.fixtures_me import ME, bearer, refresh, sign_in
from wangge.timeutil import utcnow


def test_sign_in_gives_a_short_lived_access_token_and_a_refresh_token(client, city, db_session):
    w = city.staff["worker1"]
    s = sign_in(client, w, device_id="a1b2", device_name="小米 13", platform="android")
    assert s["access_token"] and s["refresh_token"] and s["access_token"] != s["refresh_token"]
    assert s["device"]["device_name"] == "小米 13" and s["device"]["platform"] == "android"
    assert s["device"]["current"] is True and s["device"]["signed_out_at"] is None
    assert s["staff"]["username"] == w.username and s["staff"]["grid_codes"] == ["31010100100101"]
    assert s["access_expires_at"].endswith("+08:00")
    # the access token works like any bearer token, on the phone API and the desk API
    me = client.get(f"{ME}/me", headers=bearer(s["access_token"]))
    assert me.status_code == 200 and me.json["id"] == w.id
    assert client.get("/api/v1/auth/me", headers=bearer(s["access_token"])).status_code == 200
    # stored: digests only; the access token belongs to the device session, with the settings' lifetimes
    device = db_session.get(DeviceSession, s["device"]["id"])
    access = db_session.scalar(select(ApiToken).where(ApiToken.device_session_id == device.id))
    rt = db_session.scalar(select(RefreshToken).where(RefreshToken.device_session_id == device.id))
    assert s["refresh_token"] not in rt.token_hash and len(rt.token_hash) == 64
    assert abs(access.expires_at - access.created_at - timedelta(minutes=60)) < timedelta(seconds=1)
    assert rt.expires_at - rt.created_at == timedelta(days=30)
    assert device.device_id == "a1b2" and device.staff_id == w.id


def test_sign_in_failures_and_bad_bodies(client, city):
    w = city.staff["worker1"]
    body = {"username": w.username, "password": "wrong", "device_id": "d", "platform": "ios"}
    r = client.post(f"{ME}/sessions", json=body)
    assert r.status_code == 401 and r.json["code"] == "bad_credentials"
    r = client.post(f"{ME}/sessions", json={**body, "username": "nobody"})
    assert r.status_code == 401 and r.json["code"] == "bad_credentials"
    good = {**body, "password": PASSWORD}
    for bad, field in (({"platform": "symbian"}, "platform"), ({"device_id": ""}, "device_id"),
                       ({"device_id": "x" * 201}, "device_id"), ({"device_name": "n" * 101}, "device_name")):
        r = client.post(f"{ME}/sessions", json={**good, **bad})
        assert r.status_code == 422 and field in r.json["fields"], (bad, r.json)
    r = client.post(f"{ME}/sessions", json={**good, "device_id": "ab\u0000cd"})
    assert r.status_code == 422 and r.json["code"] == "invalid_characters"
    r = client.post(f"{ME}/sessions", json={k: v for k, v in good.items() if k != "device_id"})
    assert r.status_code == 422 and "device_id" in r.json["fields"]
    city.staff["worker2"].active = False
    r = client.post(f"{ME}/sessions", json={**good, "username": city.staff["worker2"].username})
    assert r.status_code == 403 and r.json["code"] == "account_disabled"


def test_refresh_rotates_and_the_old_refresh_token_is_spent(client, city, db_session):
    s = sign_in(client, city.staff["worker1"])
    r = refresh(client, s["refresh_token"])
    assert r.status_code == 200, r.json
    new = r.json
    assert new["refresh_token"] != s["refresh_token"] and new["access_token"] != s["access_token"]
    assert new["device"]["id"] == s["device"]["id"]
    assert client.get(f"{ME}/me", headers=bearer(new["access_token"])).status_code == 200
    # the new refresh token rotates again
    r2 = refresh(client, new["refresh_token"])
    assert r2.status_code == 200
    assert db_session.scalar(select(RefreshToken).where(RefreshToken.device_session_id == s["device"]["id"],
                                                        RefreshToken.used_at.is_(None))) is not None


def test_a_spent_refresh_token_presented_again_revokes_the_family(client, city, db_session):
    s = sign_in(client, city.staff["worker1"])
    new = refresh(client, s["refresh_token"]).json
    stolen = refresh(client, s["refresh_token"])  # an attacker (or the phone) replays the spent token
    assert stolen.status_code == 401
    assert stolen.json["code"] == "refresh_token_reused"
    # every token of the family is dead: the old and new access tokens, the new refresh token
    for access in (s["access_token"], new["access_token"]):
        r = client.get(f"{ME}/me", headers=bearer(access))
        assert r.status_code == 401 and r.json["code"] == "token_revoked"
    r = refresh(client, new["refresh_token"])
    assert r.status_code == 401 and r.json["code"] == "refresh_token_revoked"
    device = db_session.get(DeviceSession, s["device"]["id"])
    db_session.refresh(device)
    assert device.revoked_at is not None and device.revoked_reason == "reuse"
    assert all(t.revoked_at for t in db_session.scalars(
        select(RefreshToken).where(RefreshToken.device_session_id == device.id)))
    # the person's other sign-ins (desk token, another phone) are untouched
    assert client.get(f"{ME}/me", headers=city.h("worker1")).status_code == 200


def test_the_family_stays_revoked_when_reuse_is_detected_again(client, city):
    s = sign_in(client, city.staff["worker1"])
    refresh(client, s["refresh_token"])
    assert refresh(client, s["refresh_token"]).json["code"] == "refresh_token_reused"
    r = refresh(client, s["refresh_token"])
    assert r.status_code == 401 and r.json["code"] == "refresh_token_revoked"


def test_unknown_expired_and_malformed_refresh_tokens(client, city, db_session):
    r = refresh(client, "no-such-token")
    assert r.status_code == 401 and r.json["code"] == "refresh_token_invalid"
    s = sign_in(client, city.staff["worker1"])
    rt = db_session.scalar(select(RefreshToken).where(RefreshToken.device_session_id == s["device"]["id"]))
    rt.expires_at = utcnow() - timedelta(seconds=1)
    r = refresh(client, s["refresh_token"])
    assert r.status_code == 401 and r.json["code"] == "refresh_token_expired"
    assert client.post(f"{ME}/sessions/refresh", json={}).status_code == 422
    assert client.post(f"{ME}/sessions/refresh", json={"refresh_token": "x" * 201}).status_code == 422
    r = client.post(f"{ME}/sessions/refresh", json={"refresh_token": "a\u0000b"})
    assert r.status_code == 422 and r.json["code"] == "invalid_characters"
    assert client.post(f"{ME}/sessions/refresh", json=["x"]).status_code == 422


def test_refresh_of_a_disabled_account_is_refused(client, city, admin):
    w = city.staff["worker1"]
    s = sign_in(client, w)
    r = client.patch(f"/api/v1/staff/{w.id}", json={"active": False}, headers=admin)
    assert r.status_code == 200
    r = refresh(client, s["refresh_token"])
    assert r.status_code == 401 and r.json["code"] == "refresh_token_revoked"


def test_password_change_signs_every_device_out(client, city, admin):
    w = city.staff["worker1"]
    s = sign_in(client, w)
    assert client.patch(f"/api/v1/staff/{w.id}", json={"password": "another-password-1"},
                        headers=admin).status_code == 200
    assert refresh(client, s["refresh_token"]).json["code"] == "refresh_token_revoked"
    assert client.get(f"{ME}/me", headers=bearer(s["access_token"])).status_code == 401


def test_my_devices_and_the_current_one(client, city):
    w = city.staff["worker1"]
    phone = sign_in(client, w, device_id="p1", device_name="手机", platform="android")
    pad = sign_in(client, w, device_id="p2", device_name="平板", platform="ios")
    sign_in(client, city.staff["worker2"], device_id="p1")  # another person, same kind of id
    r = client.get(f"{ME}/me/devices", headers=bearer(phone["access_token"]))
    assert r.status_code == 200
    listed = {d["id"]: d for d in r.json}
    assert set(listed) == {phone["device"]["id"], pad["device"]["id"]}
    assert listed[phone["device"]["id"]]["current"] is True and listed[pad["device"]["id"]]["current"] is False
    assert listed[pad["device"]["id"]]["platform"] == "ios" and listed[pad["device"]["id"]]["device_name"] == "平板"
    assert {"created_at", "last_seen_at"} <= set(listed[pad["device"]["id"]])
    # a desk token has no current device
    desk = client.get(f"{ME}/me/devices", headers=city.h("worker1")).json
    assert [d["current"] for d in desk] == [False, False]
    # signing in again on the same device replaces its session
    again = sign_in(client, w, device_id="p1", device_name="手机")
    ids = {d["id"] for d in client.get(f"{ME}/me/devices", headers=city.h("worker1")).json}
    assert ids == {again["device"]["id"], pad["device"]["id"]}
    assert refresh(client, phone["refresh_token"]).json["code"] == "refresh_token_revoked"


def test_sign_a_lost_device_out(client, city):
    w = city.staff["worker1"]
    lost = sign_in(client, w, device_id="lost")
    kept = sign_in(client, w, device_id="kept")
    r = client.delete(f"{ME}/me/devices/{lost['device']['id']}", headers=bearer(kept["access_token"]))
    assert r.status_code == 200, r.json
    assert r.json["id"] == lost["device"]["id"] and r.json["signed_out_at"] and r.json["current"] is False
    assert client.get(f"{ME}/me", headers=bearer(lost["access_token"])).json["code"] == "token_revoked"
    assert refresh(client, lost["refresh_token"]).json["code"] == "refresh_token_revoked"
    assert [d["id"] for d in client.get(f"{ME}/me/devices", headers=city.h("worker1")).json] == [kept["device"]["id"]]
    # the same request twice changes nothing more
    again = client.delete(f"{ME}/me/devices/{lost['device']['id']}", headers=bearer(kept["access_token"]))
    assert again.status_code == 200 and again.json["signed_out_at"] == r.json["signed_out_at"]
    assert refresh(client, kept["refresh_token"]).status_code == 200


def test_signing_out_the_current_device(client, city):
    s = sign_in(client, city.staff["worker1"])
    r = client.delete(f"{ME}/me/devices/{s['device']['id']}", headers=bearer(s["access_token"]))
    assert r.status_code == 200 and r.json["current"] is True
    assert client.get(f"{ME}/me", headers=bearer(s["access_token"])).status_code == 401


def test_another_persons_device_is_404_and_untouched(client, city):
    theirs = sign_in(client, city.staff["worker2"])
    for who in ("worker1", "leader", "dispatcher"):
        r = client.delete(f"{ME}/me/devices/{theirs['device']['id']}", headers=city.h(who))
        assert r.status_code == 404 and r.json["code"] == "not_found", who
    assert refresh(client, theirs["refresh_token"]).status_code == 200
    # ids that do not exist, are out of range or are not numbers
    assert client.delete(f"{ME}/me/devices/{2**31 - 1}", headers=city.h("worker1")).json["code"] == "not_found"
    r = client.delete(f"{ME}/me/devices/{2**31}", headers=city.h("worker1"))
    assert r.status_code == 404 and r.json["code"] == "route_not_found"
    assert client.delete(f"{ME}/me/devices/99999999999999999999", headers=city.h("worker1")).status_code == 404
    assert client.delete(f"{ME}/me/devices/0", headers=city.h("worker1")).status_code == 404
    assert client.delete(f"{ME}/me/devices/1%00", headers=city.h("worker1")).status_code == 404


def test_admin_signs_out_all_of_a_persons_devices(client, city, admin):
    w = city.staff["worker1"]
    a, b = sign_in(client, w, device_id="a"), sign_in(client, w, device_id="b")
    other = sign_in(client, city.staff["worker2"])
    r = client.post(f"/api/v1/staff/{w.id}/devices/sign-out", headers=admin)
    assert r.status_code == 200 and r.json == {"signed_out": 2}
    for s in (a, b):
        assert client.get(f"{ME}/me", headers=bearer(s["access_token"])).status_code == 401
        assert refresh(client, s["refresh_token"]).json["code"] == "refresh_token_revoked"
    assert client.get(f"{ME}/me/devices", headers=city.h("worker1")).json == []
    # the desk sign-in and other people's devices are kept; twice is harmless
    assert client.get(f"{ME}/me", headers=city.h("worker1")).status_code == 200
    assert refresh(client, other["refresh_token"]).status_code == 200
    assert client.post(f"/api/v1/staff/{w.id}/devices/sign-out", headers=admin).json == {"signed_out": 0}


def test_only_admins_sign_out_a_persons_devices(client, city, admin):
    w = city.staff["worker1"]
    s = sign_in(client, w)
    for who in ("leader", "worker1", "dispatcher", "shift"):
        r = client.post(f"/api/v1/staff/{w.id}/devices/sign-out", headers=city.h(who))
        assert r.status_code == 403 and r.json["code"] == "forbidden_role", who
    assert client.post(f"/api/v1/staff/{w.id}/devices/sign-out").status_code == 401
    assert refresh(client, s["refresh_token"]).status_code == 200
    r = client.post(f"/api/v1/staff/{2**31 - 1}/devices/sign-out", headers=admin)
    assert r.status_code == 404 and r.json["code"] == "not_found"
    assert client.post(f"/api/v1/staff/{2**31}/devices/sign-out", headers=admin).status_code == 404


def test_failed_phone_sign_ins_are_rate_limited_with_the_desk_budget(client, db_session, redis_conn):
    """The phone's sign-in shares the desk sign-in's limits (per address and username):
    a second door does not double an attacker's tries."""
    StaffFactory(username="zhao")
    wrong = {"username": "zhao", "password": "wrong-password", "device_id": "d", "platform": "android"}
    for _ in range(5):
        assert client.post("/api/v1/auth/login", json={"username": "zhao", "password": "x"}).status_code == 401
    for _ in range(5):
        assert client.post(f"{ME}/sessions", json=wrong).status_code == 401
    r = client.post(f"{ME}/sessions", json={**wrong, "password": PASSWORD})
    assert r.status_code == 429 and r.json["code"] == "rate_limited"
    assert client.post("/api/v1/auth/login", json={"username": "zhao", "password": PASSWORD}).status_code == 429
    # another user from the same address is not locked out
    StaffFactory(username="qian")
    assert client.post(f"{ME}/sessions", json={**wrong, "username": "qian", "password": PASSWORD}).status_code == 201


def test_two_refreshes_racing_with_one_token(fresh_pg_url):
    """Both requests present the same refresh token at once, with their work committed
    (separate connections): exactly one gets new tokens, the other is reuse, and the whole
    family ends up revoked (including what the winner got). Run a few rounds."""
    from tests.conftest import make_settings
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(fresh_pg_url))
    try:
        with app.app_context():
            from grid.accounts.service import create_staff

            create_staff(db.session, username="racer", name="赛跑", password=PASSWORD, roles=["grid_worker"])
            db.session.commit()
        for round_ in range(4):
            client = app.test_client()
            s = client.post(f"{ME}/sessions", json={"username": "racer", "password": PASSWORD,
                                                    "device_id": f"race-{round_}", "platform": "android"}).json
            barrier = threading.Barrier(2)
            answers = []

            def go(s=s, barrier=barrier, answers=answers):
                c = app.test_client()
                barrier.wait()
                r = c.post(f"{ME}/sessions/refresh", json={"refresh_token": s["refresh_token"]})
                answers.append((r.status_code, r.json))

            threads = [threading.Thread(target=go) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            statuses = sorted(code for code, _ in answers)
            assert statuses == [200, 401], answers
            loser = next(body for code, body in answers if code == 401)
            winner = next(body for code, body in answers if code == 200)
            assert loser["code"] == "refresh_token_reused"
            client = app.test_client()
            assert client.get(f"{ME}/me", headers=bearer(winner["access_token"])).status_code == 401
            assert client.post(f"{ME}/sessions/refresh",
                               json={"refresh_token": winner["refresh_token"]}).status_code == 401
            with app.app_context():
                device = db.session.get(DeviceSession, s["device"]["id"])
                assert device.revoked_reason == "reuse"
                tokens = db.session.scalars(select(RefreshToken).where(
                    RefreshToken.device_session_id == device.id)).all()
                assert len(tokens) == 2 and all(t.revoked_at is not None for t in tokens)
                assert sum(t.used_at is not None for t in tokens) == 1
                db.session.remove()
    finally:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
