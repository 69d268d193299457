"""The web console (desk staff) and the citizen page, served by the backend itself.

Pages are server-rendered Jinja shells (menu, labels, the options of each filter) whose small
ES modules (``console/frontend``, bundled by esbuild into ``console/static/dist``) call the
same JSON API as the phones. Sign-in is the API's token kept in an HttpOnly cookie, with a
CSRF token for changes (``wangge.auth``). See docs/console.md.

It sits on top of every domain (import-linter's first contract): it reads the registry for
the filters' options and never holds a rule of its own."""
from __future__ import annotations


def init_app(app, api) -> None:  # noqa: ARG001 - the domains' signature; pages are not in the OpenAPI
    from . import admin_pages, case_page, dashboard_page, enforcement_page, map_page, pages, session

    app.register_blueprint(session.blp)
    app.register_blueprint(pages.blp)
    app.register_blueprint(map_page.blp)
    app.register_blueprint(case_page.blp)
    app.register_blueprint(dashboard_page.blp)
    app.register_blueprint(enforcement_page.blp)
    app.register_blueprint(admin_pages.blp)
