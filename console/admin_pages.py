"""The admins' pages: grids (import with progress, topology on the map), departments, staff, catalog, matrix, calendar (docs/console.md)."""
from __future__ import annotations

from flask import Blueprint

from wangge.auth import requires

from .render import ADMIN_ROLES, page, page_errors

blp = Blueprint("console_admin", __name__, template_folder="templates")


@blp.route("/console/admin")
@requires(*ADMIN_ROLES)
def admin():
    """Placeholder (scaffolding): the page is being built."""
    return page("console/admin.html")


page_errors(blp)
