from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from grid.accounts import service as accounts
from grid.accounts.schemas import LoginSchema, MeView, RevokedView, TokenView
from wangge.auth import current_token, public, requires
from wangge.config import current_settings
from wangge.extensions import db, limiter
from wangge.present import local_iso

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录与令牌 Sign-in and tokens")


def _login_key() -> str:
    body = request.get_json(silent=True)
    # A list or string body would break the key and with it the rate limit itself.
    username = body.get("username", "") if isinstance(body, dict) else ""
    return f"login:{request.remote_addr}:{str(username)[:64]}"


def _login_limit() -> str:
    return current_settings().login_rate_limit


def _login_address_key() -> str:
    return f"login-address:{request.remote_addr}"


def _login_address_limit() -> str:
    """One password tried against many accounts from one address (spraying) is throttled too."""
    return current_settings().login_address_rate_limit


def _failed(response) -> bool:
    return response.status_code == 401


def sign_in_limits(view):
    """Failed sign-ins are throttled per address and username and per address, with one
    budget shared by every sign-in endpoint (this one and the phone's device sessions), so a
    second door never doubles an attacker's tries."""
    view = limiter.shared_limit(_login_address_limit, scope="login-address", key_func=_login_address_key,
                                deduct_when=_failed)(view)
    return limiter.shared_limit(_login_limit, scope="login", key_func=_login_key, deduct_when=_failed)(view)


@blp.route("/login")
class Login(MethodView):
    @public
    @sign_in_limits
    @blp.arguments(LoginSchema)
    @blp.doc(security=[])
    @blp.response(200, TokenView)
    def post(self, body):
        """Sign in with username and password; returns a bearer token."""
        staff = accounts.authenticate(db.session, body["username"], body["password"])
        ttl = current_settings().token_ttl_hours
        secret, token = accounts.issue_token(db.session, staff, ttl_hours=ttl, client=body.get("client"))
        return {"token": secret, "expires_at": local_iso(token.expires_at), "staff": staff}


@blp.route("/logout")
class Logout(MethodView):
    @requires()
    @blp.response(200, RevokedView)
    def post(self):
        """Revoke the token used for this request."""
        accounts.revoke_token(current_token())
        return {"revoked": True}


@blp.route("/me")
class Me(MethodView):
    @requires()
    @blp.response(200, MeView)
    def get(self):
        """Who am I: the signed-in staff member and their roles."""
        token = current_token()
        return {"staff": token.staff, "expires_at": local_iso(token.expires_at)}
