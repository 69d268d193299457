"""The enforcement leaders' pages: referrals waiting, officers, stages, joint-visit groups (docs/console.md)."""
from __future__ import annotations

from flask import Blueprint

from wangge.auth import requires

from .render import ENFORCEMENT_ROLES, page, page_errors

blp = Blueprint("console_enforcement", __name__, template_folder="templates")


@blp.route("/console/enforcement")
@requires(*ENFORCEMENT_ROLES)
def enforcement():
    """Placeholder (scaffolding): the page is being built."""
    return page("console/enforcement.html")


page_errors(blp)
