"""The leaders' dashboard: indicators by department, grid, worker and category, charts, the red list, the choropleth, XLSX export (docs/console.md)."""
from __future__ import annotations

from flask import Blueprint

from wangge.auth import requires

from .render import DASHBOARD_ROLES, page, page_errors

blp = Blueprint("console_dashboard", __name__, template_folder="templates")


@blp.route("/console/dashboard")
@requires(*DASHBOARD_ROLES)
def dashboard():
    """Placeholder (scaffolding): the page is being built."""
    return page("console/dashboard.html")


page_errors(blp)
