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


def _section(name: str, **context):
    template = "console/admin_grids.html" if name == "grids" else "console/admin_base.html"
    return page(template, sections=SECTIONS, section=name,
                script_words=admin_words(), **context)


@blp.route("/console/admin/grids")
@requires(*ADMIN_ROLES)
def grids():
    """Grids by level; import a GeoJSON file with progress; topology problems on the map."""
    return _section("grids", levels=GRID_LEVELS, crs_choices=CRS)


@blp.route("/console/admin/departments")
@requires(*ADMIN_ROLES)
def departments():
    return _section("departments")


@blp.route("/console/admin/staff")
@requires(*ADMIN_ROLES)
def staff():
    return _section("staff")


@blp.route("/console/admin/catalog")
@requires(*ADMIN_ROLES)
def catalog():
    return _section("catalog", stages=STAGES, units=UNITS)


@blp.route("/console/admin/matrix")
@requires(*ADMIN_ROLES)
def matrix():
    return _section("matrix")


@blp.route("/console/admin/calendar")
@requires(*ADMIN_ROLES)
def calendar():
    return _section("calendar")


page_errors(blp)
