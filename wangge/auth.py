"""Bearer-token authentication and the role check every endpoint declares.

Each view is decorated with ``@requires(*roles)`` or ``@public``; a test walks the URL
map and fails if any endpoint has neither.
"""
from __future__ import annotations

import hmac
from functools import wraps
from hashlib import sha256

from flask import current_app, g, request
from sqlalchemy.exc import DBAPIError
from werkzeug.local import LocalProxy

from .errors import ApiError
from .extensions import db
from .hooks import hooks
from .i18n import current_language

PUBLIC_ATTR = "_wangge_public"
ROLES_ATTR = "_wangge_roles"


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError("unauthorized", status=401)
    return secret.strip()


# --- The console's cookie session (docs/console.md) -----------------------------------------
# A page signed in through the console holds the same kind of token as a phone or a script, in
# an HttpOnly cookie instead of an Authorization header. A request that carries no
# Authorization header is authenticated by that cookie; one that changes something (any method
# but GET/HEAD/OPTIONS) must then also send the session's CSRF token, in the ``X-CSRF-Token``
# header (pages' fetch calls) or the ``csrf_token`` form field (plain forms). The CSRF token is
# an HMAC of the session secret under the app's secret key, so another site can neither read
# nor forge it. Bearer-token requests are unaffected.
SESSION_COOKIE = "wangge_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(session_secret: str) -> str:
    """The CSRF token of a cookie session."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"csrf:" + session_secret.encode(), sha256).hexdigest()


def _credential() -> str:
    """The bearer secret, else the console's session cookie (with its CSRF check)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if "Authorization" in request.headers or not secret:
        return _bearer()
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
        if not hmac.compare_digest(sent.encode(), csrf_token(secret).encode()):
            raise ApiError("csrf_failed", status=403)
    g.by_cookie = True
    return secret


def current_token():
    """The request's token (``hooks().token_resolver``): it has ``staff_id``,
    ``has_role(*roles)`` and ``staff`` (the staff row, loaded when first asked for); with
    ``language`` and ``timezone`` too, the staff member's preferences need no staff row."""
    token = getattr(g, "token", None)
    if token is None:
        secret = _credential()
        try:
            token = hooks().token_resolver(db.session, secret)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            # the pooled connection was dead (database restarted, backend terminated): the
            # pool has dropped it and its older siblings; nothing was done yet, so once more
            db.session.rollback()
            token = hooks().token_resolver(db.session, secret)
        g.token = token
        # what ``wangge.i18n`` and ``wangge.present`` read of the staff member: language and
        # time zone, from the token when it has them, else from the staff row when first used
        g.staff = token if hasattr(token, "timezone") else LocalProxy(lambda: token.staff)
    return token


def requires(*roles: str):
    """Allow signed-in staff holding any of ``roles`` (no roles: any signed-in staff)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            check_roles(roles)
            return view(*args, **kwargs)

        setattr(wrapper, ROLES_ATTR, roles)
        return wrapper

    return decorate


def check_roles(roles) -> None:
    """401 without a valid token; 403 unless the staff member holds one of ``roles`` (any
    signed-in staff member when empty)."""
    token = current_token()
    if roles and not token.has_role(*roles):
        raise ApiError("forbidden_role", status=403, roles=role_names(roles))


def view_target(view, method: str):
    """The function that answers ``method`` on ``view`` (a method of a MethodView, or the view)."""
    cls = getattr(view, "view_class", None)
    method = "get" if method.upper() == "HEAD" else method.lower()
    return getattr(cls, method, None) if cls else view


def role_names(roles) -> str:
    """The roles as people call them, in the user's language (the domain names them)."""
    label, lang = hooks().role_label, current_language()
    return "、".join(label(role, lang) for role in roles)


def init_app(app) -> None:
    """Sign-in and role checks run before any other look at the request, so the anonymous
    caller or the role next door learns nothing from how a body would have been judged."""

    @app.before_request
    def _fresh_identity():
        g.pop("token", None)
        g.pop("staff", None)
        g.pop("by_cookie", None)

    app.before_request(authorize_request)


def authorize_request() -> None:
    """The declared check of the view this request goes to (401/403), ahead of the view."""
    if request.endpoint is None or request.method == "OPTIONS":
        return
    target = view_target(current_app.view_functions[request.endpoint], request.method)
    roles = getattr(target, ROLES_ATTR, None)
    if roles is not None:
        check_roles(roles)


def public(view):
    setattr(view, PUBLIC_ATTR, True)
    return view


class Preferences:
    """The signed-in staff member's language and time zone, as ``g.staff`` offers them to
    ``wangge.i18n`` and ``wangge.present``."""

    __slots__ = ("language", "timezone")

    def __init__(self, language: str | None, timezone: str | None):
        self.language, self.timezone = language, timezone


def use_preferences(language: str | None, timezone: str | None) -> None:
    """A request that read the staff member's language and time zone as part of another
    statement (the intake's INSERT) hands them over here, so the answer's words and times
    need no SELECT of the staff row."""
    if getattr(g, "token", None) is not None:
        g.staff = Preferences(language, timezone)


def current_staff():
    return current_token().staff


def current_identity():
    """Who is acting, for the case rules (who sees what, whose verb, whose department): the
    token's ``identity`` (staff id, roles, department from the token's SELECT), no staff row
    loaded; the staff row itself under a token resolver that has no such thing."""
    token = current_token()
    identity = getattr(token, "identity", None)
    return identity if identity is not None else token.staff


def current_staff_id() -> int:
    """The signed-in staff member's id, without loading the staff row."""
    return current_token().staff_id
