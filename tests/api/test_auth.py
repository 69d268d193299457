"""Sign-in, tokens, and the role check on every endpoint."""
from datetime import timedelta

from grid.models import ApiToken
from tests.factories import PASSWORD, StaffFactory
from wangge.auth import PUBLIC_ATTR, ROLES_ATTR, view_target


def test_login_me_logout(client, db_session):
    StaffFactory(username="wang", roles=["dispatcher"])
    r = client.post("/api/v1/auth/login", json={"username": "wang", "password": PASSWORD})
    assert r.status_code == 200, r.json
    token = r.json["token"]
    assert r.json["staff"]["roles"] == ["dispatcher"]
    assert r.json["expires_at"].endswith("+08:00")  # shown in Asia/Shanghai
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=headers).json["staff"]["username"] == "wang"
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 200
    r = client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and r.json["code"] == "token_revoked"


def test_wrong_password_and_unknown_user_look_the_same(client, db_session):
    StaffFactory(username="li")
    a = client.post("/api/v1/auth/login", json={"username": "li", "password": "nope-nope"})
    b = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "nope-nope"})
    assert a.status_code == b.status_code == 401
    assert a.json == b.json
    assert a.json["code"] == "bad_credentials"
    assert "密码" in a.json["message"]


def test_login_validation_names_fields(client, db_session):
    r = client.post("/api/v1/auth/login?lang=en", json={"username": ""})
    assert r.status_code == 422
    assert r.json["code"] == "validation_error"
    assert set(r.json["fields"]) == {"username", "password"}
    assert "password" in r.json["message"]


def test_expired_token_refused(client, db_session, login):
    headers = login("leader")
    token = db_session.query(ApiToken).one()
    token.expires_at = token.created_at - timedelta(seconds=1)
    db_session.flush()
    r = client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and r.json["code"] == "token_expired"


def test_disabled_account_cannot_sign_in_and_loses_tokens(client, admin, login, db_session):
    headers = login("grid_worker", username="zhao")
    staff_id = client.get("/api/v1/auth/me", headers=headers).json["staff"]["id"]
    r = client.patch(f"/api/v1/staff/{staff_id}", json={"active": False}, headers=admin)
    assert r.status_code == 200
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "zhao", "password": PASSWORD})
    assert r.status_code == 403 and r.json["code"] == "account_disabled"


def test_role_check_refuses_with_a_sentence(client, login):
    r = client.post("/api/v1/departments", json={"code": "X", "name": "X", "kind": "functional"},
                    headers=login("grid_worker"))
    assert r.status_code == 403
    assert r.json["code"] == "forbidden_role"
    assert "系统管理员" in r.json["message"]


def test_every_endpoint_declares_access(app):
    """No endpoint is open by accident: each view is @requires(...) or @public."""
    allowed_public = {"static", "api-docs.openapi_json", "api-docs.openapi_swagger_ui"}
    undeclared = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in allowed_public:
            continue
        for target in (view_target(view, m) for m in rule.methods - {"HEAD", "OPTIONS"}):
            if not (hasattr(target, ROLES_ATTR) or getattr(target, PUBLIC_ATTR, False)):
                undeclared.append(f"{rule} {getattr(target, '__name__', target)}")
    assert undeclared == []


def test_anonymous_gets_401_everywhere_but_public(client):
    for path in ["/api/v1/grids", "/api/v1/departments", "/api/v1/categories", "/api/v1/matrix",
                 "/api/v1/geo/locate?lon=1&lat=1", "/api/v1/staff", "/api/v1/auth/me",
                 "/api/v1/calendar?from=2026-01-01&to=2026-01-02"]:
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.json["code"] == "unauthorized"
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/openapi.json").status_code == 200


def test_repeated_failed_logins_are_rate_limited(client, db_session, redis_conn):
    """Failed sign-ins are counted per address and username in Redis; success is not counted."""
    StaffFactory(username="sun")
    for _ in range(10):
        r = client.post("/api/v1/auth/login", json={"username": "sun", "password": "wrong-password"})
        assert r.status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "sun", "password": PASSWORD})
    assert r.status_code == 429
    assert r.json["code"] == "rate_limited"
    assert any(b"wangge-limit" in k for k in redis_conn.keys())
    # another user from the same address is not locked out
    StaffFactory(username="qian")
    r = client.post("/api/v1/auth/login", json={"username": "qian", "password": PASSWORD})
    assert r.status_code == 200
