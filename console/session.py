"""Signing in and out of the console: the API's own account check, token and rate limits,
with the token kept in an HttpOnly cookie (``wangge.auth.SESSION_COOKIE``)."""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, redirect, request, url_for

from grid.accounts import service as accounts
from wangge.auth import CSRF_FIELD, SESSION_COOKIE, current_token, public, requires
from wangge.config import current_settings
from wangge.errors import ApiError
from wangge.extensions import db, limiter

from .assets import send_asset
from .render import page, page_errors

blp = Blueprint("console_session", __name__, template_folder="templates")

# Before sign-in there is no session to bind a CSRF token to: the form carries a random value
# that must equal this cookie's (double submit), so another site cannot sign a browser in.
LOGIN_CSRF_COOKIE = "wangge_login_csrf"


def _login_key() -> str:
    """The same key as ``POST /api/v1/auth/login``'s, so both doors spend one budget."""
    return f"login:{request.remote_addr}:{request.form.get('username', '')[:64]}"


def _login_address_key() -> str:
    return f"login-address:{request.remote_addr}"


def _failed(response) -> bool:
    return response.status_code == 401


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no scheme, no host, not ``//host``)."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("console_pages.home")
    return target


def _login_page(status: int = 200, error: str | None = None, username: str = ""):
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = page("console/login.html", status=status, error=error, username=username, login_csrf=token,
                    next=request.values.get("next", ""))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                        secure=current_settings().cookie_secure, path=url_for("console_session.login"))
    return response


@blp.route("/console/login", methods=["GET", "POST"])
@public
@limiter.shared_limit(lambda: current_settings().login_address_rate_limit, scope="login-address",
                      key_func=_login_address_key, deduct_when=_failed)
@limiter.shared_limit(lambda: current_settings().login_rate_limit, scope="login", key_func=_login_key,
                      deduct_when=_failed)
def login():
    """The sign-in page; its form posts here."""
    if request.method == "GET":
        return _login_page()
    username, password = request.form.get("username", "").strip(), request.form.get("password", "")
    sent, expected = request.form.get(CSRF_FIELD, ""), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return _login_page(400, "console_login_expired", username)
    if not username or not password:
        return _login_page(400, "console_login_missing", username)
    try:
        staff = accounts.authenticate(db.session, username[:64], password)
    except ApiError as err:
        return _login_page(err.status, err.code, username)
    settings = current_settings()
    secret, _ = accounts.issue_token(db.session, staff, ttl_hours=settings.token_ttl_hours, client="console")
    response = redirect(_safe_next(request.form.get("next")), 303)
    response.set_cookie(SESSION_COOKIE, secret, max_age=settings.token_ttl_hours * 3600, httponly=True,
                        samesite="Lax", secure=settings.cookie_secure, path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=url_for("console_session.login"))
    return response


@blp.route("/console/logout", methods=["POST"])
@requires()
def logout():
    """Sign out: the token is revoked (not only forgotten by the browser)."""
    accounts.revoke_token(current_token())
    response = redirect(url_for("console_session.login"), 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@blp.route("/console/assets/<path:filename>")
@public
def asset(filename):
    """The built scripts, styles and images of the pages (console/static/dist)."""
    return send_asset(filename)


@blp.errorhandler(429)
def _too_many(err):
    return _login_page(429, "console_login_throttled", request.form.get("username", ""))


page_errors(blp)
