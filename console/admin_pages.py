"""The admins' pages: an overview and one page per section: grids (import with progress,
topology problems on the map), departments, staff, catalog (categories and time limits),
matrix (rules, the explain tool, CSV), calendar (days of a year, the schedule). Each page is
a shell; its script calls the JSON API (docs/console.md, Administration)."""
from __future__ import annotations

import functools

from flask import Blueprint

from grid.catalog.limits import STAGES, UNITS
from grid.models import GRID_LEVELS
from wangge import i18n
from wangge.auth import requires

from .render import ADMIN_ROLES, page, page_errors

blp = Blueprint("console_admin", __name__, template_folder="templates")

SECTIONS = ("grids", "departments", "staff", "catalog", "matrix", "calendar")
CRS = ("wgs84", "gcj02", "bd09")

# The words of the sections' scripts: every admin word of the catalog, the enumerations'
# names (roles, levels, kinds, stages, units, calendar sources) and a few shared ones.
WORD_PREFIXES = ("console_admin_", "console_dept_kind_", "console_cat_kind_", "console_stage_", "console_unit_",
                 "console_cal_source_", "console_level_", "console_lang_", "role_")
SHARED_WORDS = ("console_loading", "console_load_failed", "console_yes", "console_no")


@functools.cache
def admin_words() -> tuple[str, ...]:
    return (*SHARED_WORDS, *(m.id for m in i18n.catalog("zh") if m.id and m.id.startswith(WORD_PREFIXES)))


@blp.route("/console/admin")
@requires(*ADMIN_ROLES)
def admin():
    """The overview: a link to every section."""
    return page("console/admin.html", sections=SECTIONS)


@requires(*ADMIN_ROLES)
def section(name: str):
    """One section: a shell with the sections' tabs; its script builds the forms and tables.
    The grids page also has the import's progress and the topology map."""
    if name == "grids":
        return page("console/admin_grids.html", sections=SECTIONS, section=name, script_words=admin_words(),
                    levels=GRID_LEVELS, crs_choices=CRS)
    return page("console/admin_base.html", sections=SECTIONS, section=name, script_words=admin_words(),
                stages=STAGES, units=UNITS)


for _name in SECTIONS:  # /console/admin/grids ... (endpoint console_admin.grids ...)
    blp.add_url_rule(f"/console/admin/{_name}", endpoint=_name, view_func=section, defaults={"name": _name})

page_errors(blp)
