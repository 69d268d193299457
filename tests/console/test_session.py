"""The console's cookie session over HTTP: sign-in through the page's form (same accounts,
same token, same rate-limit budget as the API), the cookie's flags, CSRF on changes made with
the cookie, sign-out revoking the token, and anonymous pages sent to the sign-in page."""
from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD, StaffFactory
from wangge.auth import SESSION_COOKIE


def login_form(client, **query):
    page = client.get("/console/login", query_string=query)
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def sign_in(client, username, password=PASSWORD, next_=""):
    token = login_form(client)
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": token, "next": next_})


def session_secret(client) -> str:
    return client.get_cookie(SESSION_COOKIE).value


def csrf_of(client) -> str:
    html = client.get("/console/queue").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', html).group(1)


def test_anonymous_pages_go_to_sign_in(client):
    r = client.get("/console/queue?state=reported")
    assert r.status_code == 302
    assert r.headers["Location"] == "/console/login?next=/console/queue?state%3Dreported"
    assert client.get("/").headers["Location"] == "/console/"
    assert client.get("/console/").headers["Location"].startswith("/console/login")
    # the citizen's pages and the sign-in page need no account
    for path in ("/console/login", "/citizen/report", "/citizen/track"):
        assert client.get(path).status_code == 200, path


def test_sign_in_sets_an_httponly_lax_cookie_holding_an_api_token(client, db_session):
    StaffFactory(username="clerk1", roles=["intake_clerk"])
    r = sign_in(client, "clerk1", next_="/console/queue?light=red")
    assert r.status_code == 303 and r.headers["Location"] == "/console/queue?light=red"
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # WANGGE_COOKIE_SECURE is off in the tests
    me = client.get("/api/v1/auth/me")  # the pages call the JSON API with the cookie alone
    assert me.status_code == 200 and me.json["staff"]["username"] == "clerk1"
    queue = client.get("/console/queue")
    assert queue.status_code == 200 and "受理员" in queue.get_data(as_text=True)


def test_next_never_leaves_the_site(client, db_session):
    StaffFactory(username="clerk2", roles=["intake_clerk"])
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        client.delete_cookie(SESSION_COOKIE)
        assert sign_in(client, "clerk2", next_=target).headers["Location"] == "/console/"


def test_a_wrong_password_is_refused_on_the_page(client, db_session):
    StaffFactory(username="clerk3", roles=["intake_clerk"])
    r = sign_in(client, "clerk3", password="not-the-password")
    assert r.status_code == 401
    assert "用户名或密码错误" in r.get_data(as_text=True) or "密码" in r.get_data(as_text=True)
    assert client.get_cookie(SESSION_COOKIE) is None


def test_the_sign_in_form_needs_its_own_token(client, db_session):
    """Login CSRF: another site cannot post the form (no double-submit cookie there)."""
    StaffFactory(username="clerk4", roles=["intake_clerk"])
    r = client.post("/console/login", data={"username": "clerk4", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400
    assert client.get_cookie(SESSION_COOKIE) is None


def test_changes_with_the_cookie_need_the_csrf_token(client, db_session):
    StaffFactory(username="clerk5", roles=["intake_clerk"])
    sign_in(client, "clerk5")
    csrf = csrf_of(client)
    body = {"description": "井盖缺失", "lon": 121.4751, "lat": 31.2112}
    refused = client.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "console-csrf-0001"})
    assert refused.status_code == 403 and refused.json["code"] == "csrf_failed"
    wrong = client.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "console-csrf-0001",
                                                             "X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403 and wrong.json["code"] == "csrf_failed"
    made = client.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "console-csrf-0001",
                                                            "X-CSRF-Token": csrf})
    assert made.status_code == 201, made.json
    number = made.json["number"]
    assert client.get(f"/api/v1/cases/{number}").status_code == 200  # reads need no token


def test_bearer_requests_are_unaffected(client, login):
    headers = login("intake_clerk")
    r = client.post("/api/v1/cases", json={"description": "路灯不亮", "lon": 121.4751, "lat": 31.2112},
                    headers={**headers, "Idempotency-Key": "console-bearer-01"})
    assert r.status_code == 201


def test_sign_out_revokes_the_token(client, db_session):
    StaffFactory(username="clerk6", roles=["intake_clerk"])
    sign_in(client, "clerk6")
    secret, csrf = session_secret(client), csrf_of(client)
    assert client.post("/console/logout").status_code == 403  # a form without its token
    r = client.post("/console/logout", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["Location"] == "/console/login"
    assert client.get_cookie(SESSION_COOKIE) is None
    again = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert again.status_code == 401 and again.json["code"] == "token_revoked"
    client.set_cookie(SESSION_COOKIE, secret)  # the old cookie, kept by someone: refused, forgotten
    r = client.get("/console/queue")
    assert r.status_code == 302 and "/console/login" in r.headers["Location"]


def test_the_language_switch_is_remembered(client, db_session):
    assert "上报问题" in client.get("/citizen/report").get_data(as_text=True)  # Chinese by default
    assert "Report a problem" in client.get("/citizen/report", headers={"Accept-Language": "en"}).get_data(as_text=True)
    page = client.get("/citizen/report?lang=en")
    assert "Report a problem" in page.get_data(as_text=True) and 'lang="en"' in page.get_data(as_text=True)
    # the switch outranks the browser's languages from now on
    assert "Report a problem" in client.get("/citizen/report", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    zh = client.get("/citizen/report?lang=zh").get_data(as_text=True)
    assert "上报问题" in zh and 'lang="zh-CN"' in zh


@pytest.mark.parametrize("level", ["grid", "community"])
def test_the_citizen_map_outlines_are_public(client, db_session, level):
    from tests.factories import GridFactory

    GridFactory(code=f"9101{level[:2]}", name="外滩一格", level=level)
    r = client.get(f"/api/v1/public/grids?level={level}")
    assert r.status_code == 200
    feature = next(f for f in r.json["features"] if f["id"] == f"9101{level[:2]}")
    assert feature["properties"] == {"code": f"9101{level[:2]}", "name": "外滩一格", "level": level}
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert client.get("/api/v1/public/grids?level=planet").status_code == 422


def test_sign_in_through_the_page_spends_the_api_budget(pg_url, redis_conn):
    """One budget for both doors: failures on the page count for the API and back."""
    from tests.conftest import make_settings
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(pg_url, login_rate_limit="3 per minute"))
    with app.app_context():
        staff = StaffFactory(username="limited-clerk", roles=["intake_clerk"])
        db.session.commit()
    try:
        client = app.test_client()
        for _ in range(2):
            assert sign_in(client, "limited-clerk", password="wrong-wrong").status_code == 401
        r = client.post("/api/v1/auth/login", json={"username": "limited-clerk", "password": "wrong-wrong"})
        assert r.status_code == 401
        r = client.post("/api/v1/auth/login", json={"username": "limited-clerk", "password": PASSWORD})
        assert r.status_code == 429
        assert sign_in(client, "limited-clerk").status_code == 429
    finally:
        with app.app_context():
            db.session.delete(db.session.merge(staff))
            db.session.commit()
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
