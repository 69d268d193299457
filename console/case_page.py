"""The case page: all fields, photos, the event timeline, the routing explanation, possible
duplicates, the clocks, and the actions this person may take now (docs/console.md, Case page).

The shell renders the reference data and the verbs' forms as data: for every verb of the
lifecycle table (``dispatch.cases.lifecycle.VERBS``) a label and its fields (the table's
``requires``, the outcomes as choices, and the optional fields the verb reads). Which of them
the person may use now is the case answer's ``allowed_verbs``, computed by the API; the script
draws a form for each and posts it to ``POST /api/v1/cases/{number}/actions/{verb}``."""
from __future__ import annotations

import re

from flask import Blueprint, current_app
from sqlalchemy import select

from dispatch.attachments.models import FLAGS, KINDS
from dispatch.cases.lifecycle import CITIZEN, STATES, SYSTEM, VERBS, Verb
from dispatch.cases.models import CHANNELS, RATINGS
from dispatch.cases.scope import get_visible_case
from dispatch.workflow.schemas import LIGHTS
from grid.catalog.limits import UNITS
from grid.departments.service import NOT_DISPATCHABLE
from grid.models import Department
from grid.roles import ROLES
from wangge.auth import ROLES_ATTR, current_staff, current_token, requires, view_target
from wangge.errors import NotFound
from wangge.extensions import db
from wangge.i18n import t

from .pages import _categories
from .render import page, page_errors, page_lang

blp = Blueprint("console_case", __name__, template_folder="templates")

CASE_STAGES = ("verify", "open", "dispatch", "sign", "handle", "check", "close")
OUTCOMES = tuple(dict.fromkeys(o for v in VERBS.values() for o in v.outcomes))
# Words the script needs besides the forms' own (the forms carry theirs).
CASE_WORDS = (
    "console_loading", "console_load_failed", "console_overdue", "console_yes", "console_no",
    *(f"console_light_{x}" for x in LIGHTS), "console_light_none", "scope_everywhere", "console_col_grid",
    *(f"state_{s}" for s in STATES), *(f"verb_{v}" for v in ("submit", *VERBS)),
    *(f"role_{r}" for r in ROLES), "console_role_citizen", "console_role_system",
    *(f"console_channel_{c}" for c in CHANNELS), *(f"console_rating_{r}" for r in RATINGS),
    *(f"console_outcome_{o}" for o in OUTCOMES),
    *(f"console_stage_{s}" for s in CASE_STAGES), *(f"console_unit_{u}" for u in UNITS),
    *(f"console_photo_kind_{k}" for k in KINDS), *(f"console_photo_flag_{f}" for f in FLAGS),
    "console_photo_source_staff", "console_photo_source_citizen", "console_photo_not_checked",
    "console_photo_ok", "console_photo_captured", "console_photo_distance", "console_photo_open",
    "console_photo_no_thumbnail", "console_case_no_photos",
    *(f"console_case_{k}" for k in ("stage", "limit", "extended", "started", "warn", "due", "paused", "light",
                                    "ended")),
    "console_case_no_actions", "console_case_no_clock", "console_case_done", "console_case_failed",
    "console_case_working", "console_case_reporter_staff", "console_case_limit_value",
    "console_case_duplicate_of", "console_case_nearby_none", "console_case_nearby_unavailable",
    "console_case_routing_chosen", "console_case_routing_none", "console_case_routing_no_rule",
    "console_case_routing_hidden", "console_case_state_change",
    "console_case_required", "console_case_optional", "console_case_choose", "console_case_default_worker",
    "console_case_needs_photos", "console_case_address", "console_case_grids_failed",
    "console_case_relocate_by_point", "console_case_relocate_by_grid", "console_case_relocate_map",
    "console_case_relocate_hint", "console_case_point_chosen", "console_case_point_none",
    "console_case_zoom_in", "console_case_zoom_out",
)

# The fields a verb reads besides those the lifecycle table requires (``Payload``; the verb's
# side effect in dispatch.workflow.actions): shown as optional.
OPTIONAL = {
    "dispatch": ("department_code",),
    "request_verify": ("assignee_id",),
    "request_check": ("assignee_id",),
    "request_extension": ("amount",),
    "decide_extension": ("amount",),
}
# The contract of two verbs added in another branch (issue 9): their forms are ready for when
# the lifecycle table declares them; until then no case answers them in ``allowed_verbs``.
CONTRACT = {
    "reclassify": ("category_code",),
    "relocate": ("place",),  # a point tapped on the map (lon, lat) or a grid and an address
}
# How a field is drawn: its kind (the script's widget) and its label's message key.
FIELDS = {
    "note": ("text", "console_case_note"),
    "outcome": ("choice", "console_case_outcome"),
    "department_code": ("department", "console_col_department"),
    "review_date": ("date", "console_case_review_date"),
    "into": ("case", "console_case_into"),
    "rating": ("choice", "console_case_rating"),
    "amount": ("number", "console_case_amount"),
    "assignee_id": ("worker", "console_case_assignee"),
    "category_code": ("category", "console_col_category"),
    "place": ("place", "console_case_new_place"),
    "grid_code": ("grid", "console_col_grid"),
    "address": ("line", "console_case_address"),
}
# Kept out of the forms: photos are taken with the phone (a verb requiring them says so).
SKIPPED = ("attachments",)
NUMBER = re.compile(r"^[0-9A-Za-z_-]{1,32}$")


def _capital(words: str) -> str:
    return words[:1].upper() + words[1:]  # "request void" -> "Request void" (zh: unchanged)


def _choices(verb: Verb, name: str, lang: str) -> list[list[str]] | None:
    if name == "outcome":
        return [[o, t(f"console_outcome_{o}", lang=lang)] for o in verb.outcomes]
    if name == "rating":
        return [[r, t(f"console_rating_{r}", lang=lang)] for r in RATINGS]
    return None


def _field(verb: Verb, name: str, required: bool, lang: str) -> dict:
    kind, label = FIELDS[name]
    field = {"name": name, "kind": kind, "label": t(label, lang=lang), "required": required}
    choices = _choices(verb, name, lang)
    if choices is not None:
        field["choices"] = choices
    return field


def verb_forms(lang: str) -> dict[str, dict]:
    """Every verb a person may use (not the system's or a citizen's alone) as a form: label,
    fields (required first, then the optional note and the verb's optional fields), and
    whether it needs photos (which the page cannot take)."""
    forms = {}
    names = list(VERBS) + [name for name in CONTRACT if name not in VERBS]
    for name in names:
        verb = VERBS.get(name) or Verb(name, name, (), (), requires=CONTRACT[name])
        if name in VERBS and set(verb.roles) <= {SYSTEM, CITIZEN}:
            continue
        required = [f for f in CONTRACT.get(name, verb.requires) if f not in SKIPPED and f in FIELDS]
        optional = [f for f in (*OPTIONAL.get(name, ()), "note") if f not in required]
        forms[name] = {
            "label": _capital(t(f"verb_{name}", lang=lang) if name in VERBS else name),
            "needs_photos": "attachments" in verb.requires,
            "fields": [_field(verb, f, True, lang) for f in required]
                      + [_field(verb, f, False, lang) for f in optional],
        }
    return forms


# The API calls the page makes beyond the case itself, by endpoint: it makes those the
# person's roles allow (the endpoints' own declared roles), and says so for the others.
CALLS = {"explain": "matrix.Explain", "nearby": "case_map.CasePins", "grids": "case_map.GridOutlines",
         "grid": "grids.GridDetail"}


def may_call(endpoint: str) -> bool:
    roles = getattr(view_target(current_app.view_functions[endpoint], "GET"), ROLES_ATTR, None)
    return roles is not None and (not roles or current_token().has_role(*roles))


def _departments() -> list[dict]:
    rows = db.session.scalars(select(Department).where(Department.active.is_(True),
                                                       Department.kind.not_in(NOT_DISPATCHABLE))
                              .order_by(Department.code)).all()
    return [{"code": d.code, "name": d.name} for d in rows]


@blp.route("/console/cases/<number>")
@requires(*ROLES)
def case(number):
    """One case (``GET /api/v1/cases/{number}``) and the forms of the verbs I may use now. A
    case the person may not see is the API's 404, whoever asks (no leaking of numbers)."""
    if not NUMBER.match(number):
        raise NotFound("case", number[:32])
    get_visible_case(db.session, current_staff(), number)
    lang = page_lang()
    categories = _categories(lang)
    setup = {
        "number": number,
        "verbs": verb_forms(lang),
        "departments": _departments(),
        "categories": categories,
        "may": {name: may_call(endpoint) for name, endpoint in CALLS.items()},
        "category_names": {c["code"]: c["name"] for group in categories for c in group["items"]},
    }
    return page("console/case.html", script_words=CASE_WORDS, number=number, setup=setup)


page_errors(blp)
