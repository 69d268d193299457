"""The case page: all fields, photos, the event timeline, the routing explanation, possible
duplicates, the clocks, and the actions this person may take now (docs/console.md)."""
from __future__ import annotations

from flask import Blueprint

from dispatch.workflow.schemas import LIGHTS
from grid.roles import ROLES
from wangge.auth import requires

from .render import page, page_errors

blp = Blueprint("console_case", __name__, template_folder="templates")

CASE_WORDS = ("console_loading", "console_load_failed", "console_overdue",
              *(f"console_light_{x}" for x in LIGHTS), "console_light_none")


@blp.route("/console/cases/<number>")
@requires(*ROLES)
def case(number):
    """One case: its fields, clock and events (``GET /api/v1/cases/{number}``)."""
    return page("console/case.html", script_words=CASE_WORDS, number=number[:32])


page_errors(blp)
