"""What every page shares: its language, the words of its catalog, the menu of the signed-in
person's roles, and the CSRF token its scripts send with changes."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, g, redirect, render_template, request, url_for

from dispatch.workflow.map_views import MAP_ROLES
from grid.roles import ADMIN, DISPATCH_CENTER, ENFORCEMENT_LEADER, LEADER, ROLES, SHIFT_LEADER
from wangge.auth import SESSION_COOKIE, csrf_token
from wangge.errors import ApiError
from wangge.i18n import SUPPORTED, current_language, t

from .assets import asset_url

LANG_COOKIE = "wangge_lang"

DASHBOARD_ROLES = (LEADER, ADMIN, SHIFT_LEADER)
ENFORCEMENT_ROLES = (ENFORCEMENT_LEADER, LEADER, ADMIN)
ADMIN_ROLES = (ADMIN,)

# (endpoint, message key, roles that see it).
MENU = (
    ("console_pages.queue", "console_menu_queue", ROLES),
    ("console_map.map_page", "console_menu_map", MAP_ROLES),
    ("console_dashboard.dashboard", "console_menu_dashboard", DASHBOARD_ROLES),
    ("console_enforcement.enforcement", "console_menu_enforcement", ENFORCEMENT_ROLES),
    ("console_admin.admin", "console_menu_admin", ADMIN_ROLES),
    ("console_pages.citizen_report", "console_menu_citizen", ROLES),
    ("api-docs.openapi_swagger_ui", "console_menu_api_docs", (ADMIN, LEADER, *DISPATCH_CENTER)),
)


def page_lang() -> str:
    """``?lang=``, else the language switch's cookie, else the reader's (``current_language``)."""
    lang = request.args.get("lang")
    if lang in SUPPORTED:
        return lang
    lang = request.cookies.get(LANG_COOKIE)
    return lang if lang in SUPPORTED else current_language()


def remember_lang(response):
    """The language switch (``?lang=``) is remembered for the next pages."""
    lang = request.args.get("lang")
    if lang in SUPPORTED and request.cookies.get(LANG_COOKIE) != lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def _switch_url(lang: str) -> str:
    args = request.args.to_dict()
    args["lang"] = lang
    return request.path + "?" + urlencode(args)


def menu(token) -> list[dict]:
    if token is None:
        return []
    return [{"endpoint": endpoint, "label": key} for endpoint, key, roles in MENU if token.has_role(*roles)]


def words(lang: str, keys) -> dict[str, str]:
    """The catalog's words a page's script needs, by key."""
    return {key: t(key, lang=lang) for key in keys}


def page(template: str, *, status: int = 200, script_words=(), **context):
    lang = page_lang()
    token = getattr(g, "token", None)
    secret = request.cookies.get(SESSION_COOKIE) if token is not None else None
    staff = token.staff if token is not None else None
    html = render_template(
        template, lang=lang, html_lang="zh-CN" if lang == "zh" else "en",
        _=lambda key, **params: t(key, lang=lang, **params), asset_url=asset_url,
        staff=staff, roles=[t(f"role_{r}", lang=lang) for r in sorted(token.roles)] if token is not None else [],
        menu=menu(token), csrf=csrf_token(secret) if secret else "",
        script_words=words(lang, script_words), other_lang="en" if lang == "zh" else "zh",
        switch_url=_switch_url("en" if lang == "zh" else "zh"), **context)
    return remember_lang(render_page(html, status))


def render_page(html: str, status: int):
    from flask import make_response

    response = make_response(html, status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    # Everything is served from here: no CDN, no inline script (the words are JSON data).
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
    return response


def page_errors(blueprint: Blueprint) -> None:
    """A page asked for without a session goes to the sign-in page; a refused one says why."""

    @blueprint.errorhandler(ApiError)
    def _refused(err: ApiError):
        if err.status == 401:
            response = redirect(url_for("console_session.login", next=request.full_path.rstrip("?")))
            if request.cookies.get(SESSION_COOKIE):  # expired or revoked: forget it
                response.delete_cookie(SESSION_COOKIE, path="/")
            return response
        return page("console/refused.html", status=err.status, message=err.message)
