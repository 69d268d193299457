"""The leaders' dashboard (docs/console.md, "Leaders' dashboard"): the evaluation indicators
of a period per department, grid (at a chosen level), worker or category as a chart and a
table (``GET /api/v1/kpi``), the red list (``GET /api/v1/cases?light=red`` and
``?supervised=true``), a choropleth of cases per grid (``GET /api/v1/kpi?by=grid&level=`` over
``GET /api/v1/map/grids``) and the XLSX export (``POST /api/v1/kpi/exports``). The page is a
shell: every figure comes from the same JSON API as any other client."""
from __future__ import annotations

from flask import Blueprint

from dispatch.indicators.definitions import GROUPS
from dispatch.indicators.kpi import columns
from dispatch.workflow.map_views import LIGHTS
from grid.models import GRID_LEVELS
from wangge.auth import requires
from wangge.config import current_settings
from wangge.i18n import t

from .render import DASHBOARD_ROLES, page, page_errors, page_lang

blp = Blueprint("console_dashboard", __name__, template_folder="templates")

PERIODS = ("this_week", "this_month", "last_30_days", "custom")
MAP_MEASURES = ("reports", "opened", "closed", "overdue_unhandled")
DASHBOARD_WORDS = (
    "console_loading", "console_load_failed", "console_no_cases", "console_overdue",
    *(f"console_light_{x}" for x in LIGHTS),
    *(f"console_level_{lv}" for lv in GRID_LEVELS),
    *(f"kpi_column_{name}" for name in columns()),
    "dash_status", "dash_unattributed", "dash_chart_label", "dash_chart_note", "dash_chart_empty",
    "dash_table_caption", "dash_no_rows", "dash_ratio_of", "dash_map_label", "dash_map_status",
    "dash_map_tooltip", "dash_legend_zero", "dash_legend_range", "dash_list_more",
    "dash_due", "dash_export_queued", "dash_export_running", "dash_export_done", "dash_export_failed",
    "dash_bad_period",
)


@blp.route("/console/dashboard")
@requires(*DASHBOARD_ROLES)
def dashboard():
    """Period and grouping selectors, chart, table, choropleth, red list and export."""
    lang = page_lang()
    return page("console/dashboard.html", script_words=DASHBOARD_WORDS,
                timezone=current_settings().timezone,
                periods=[(p, t(f"dash_period_{p}", lang=lang)) for p in PERIODS],
                groups=[(g, t(f"dash_by_{g}", lang=lang)) for g in GROUPS],
                levels=[(lv, t(f"console_level_{lv}", lang=lang)) for lv in GRID_LEVELS],
                measures=[(m, t(f"kpi_column_{m}", lang=lang)) for m in MAP_MEASURES])


page_errors(blp)
