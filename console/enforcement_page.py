"""The enforcement leaders' pages: referrals waiting, officers, stages, joint-visit groups
(docs/console.md, Enforcement). Shells: the script calls ``/api/v1/enforcement``; the stepper
and the forms of each step are built from the enforcement lifecycle table, passed as data."""
from __future__ import annotations

from flask import Blueprint, g

from dispatch.enforcement import lifecycle
from dispatch.workflow.schemas import LIGHTS
from grid.catalog.limits import UNITS
from grid.roles import ENFORCEMENT_LEADER, ENFORCEMENT_OFFICER, ROLES
from wangge.auth import requires
from wangge.errors import NotFound
from wangge.i18n import t

from .render import ENFORCEMENT_ROLES, page, page_errors, page_lang

blp = Blueprint("console_enforcement", __name__, template_folder="templates")

RECORD_KINDS = ("referral", "assignment", "stage", "finding", "decision", "execution", "outcome", "note")
ENFORCEMENT_WORDS = (
    "console_loading", "console_load_failed", "console_updated", "console_overdue", "console_light_none",
    *(f"console_light_{x}" for x in LIGHTS), "console_col_light", "console_col_deadline", "console_col_title",
    "console_col_category", "console_enf_col_number", "console_enf_col_stage", "console_enf_col_source",
    "console_enf_col_place", "console_enf_col_officers", "console_enf_none", "console_enf_joint",
    "console_enf_place_none", "console_enf_no_groups", "console_enf_group_title", "console_enf_group_window",
    "console_enf_group_members", "console_enf_group_assign", "console_enf_group_assigned", "console_enf_group_list",
    "console_enf_done", "console_enf_current", "console_enf_todo", "console_enf_limit",
    *(f"console_enf_unit_{u}" for u in UNITS), "console_enf_stage_since", "console_enf_reason", "console_enf_team",
    "console_enf_referred_at", "console_enf_decision", "console_enf_outcome", "console_enf_closed_at",
    "console_enf_field_penalty_amount", "console_enf_no_officers", "console_enf_assigned", "console_enf_assign_legend",
    "console_enf_who_advances", "console_enf_closed_note", "console_enf_officers_first", "console_enf_required",
    "console_enf_advanced", "console_enf_no_records", "console_enf_recorded", "console_enf_penalty",
    "console_enf_late", "console_enf_added", "console_enf_removed", "console_enf_actor",
    "console_enf_same_place", "console_enf_saving", *(f"console_enf_record_{k}" for k in RECORD_KINDS),
    *(f"role_{r}" for r in ROLES),  # who made a record, when the page does not know the name
)


def _number_or_404(number: str) -> str:
    """An enforcement number as the API makes them (``<case number>-ZF<n>``): else the 404 page."""
    if len(number) > 32 or not number.replace("-", "").isalnum():
        raise NotFound("enforcement_case", number[:32])
    return number


def lifecycle_data(lang: str) -> dict:
    """The enforcement lifecycle table as the page's script needs it: the stages in order,
    the step that completes each (its roles, whether officers must be named first, and the
    fields it takes, from the table's ``requires`` and ``MAY_CARRY``), and what may be
    recorded in which stage."""
    stages = [{"code": code, "name": t(f"enforcement_stage_{code}", lang=lang), "terminal": terminal}
              for code, (_zh, _en, terminal) in lifecycle.STATES.items()]
    role = {r: t(f"role_{r}", lang=lang) for r in (ENFORCEMENT_LEADER, ENFORCEMENT_OFFICER)}
    steps = {}
    for stage in lifecycle.STAGES:
        for verb in lifecycle.advancing(stage):
            fields = [{"name": name, "required": True, "type": "text",
                       "label": t(f"console_enf_note_{verb.name}", lang=lang)}
                      for name in verb.requires if name == "note"]
            if "note" not in verb.requires:  # every step may carry a note
                fields.append({"name": "note", "required": False, "type": "text",
                               "label": t(f"console_enf_note_{verb.name}", lang=lang)})
            fields += [{"name": name, "required": False, "type": "number",
                        "label": t(f"console_enf_field_{name}", lang=lang)}
                       for name in lifecycle.MAY_CARRY.get(verb.name, ())]
            steps[stage] = {"verb": verb.name, "to": verb.target, "label": t(f"console_enf_verb_{verb.name}", lang=lang),
                            "roles": [role.get(r, r) for r in verb.roles],
                            "officers_first": "officers" in verb.requires, "fields": fields}
    records = [{"kind": kind, "stages": list(lifecycle.VERBS[kind].sources),
                "label": t(f"console_enf_record_{kind}", lang=lang)} for kind in lifecycle.RECORD_KINDS]
    return {"stages": stages, "steps": steps, "records": records, "open": list(lifecycle.OPEN_STATES),
            "closed": lifecycle.CLOSED}


def _render(template: str, **context):
    lang = page_lang()
    token = g.token
    return page(template, script_words=ENFORCEMENT_WORDS, lights=[(x, t(f"console_light_{x}", lang=lang)) for x in LIGHTS],
                stages=[(s, t(f"enforcement_stage_{s}", lang=lang)) for s in (*lifecycle.STAGES, lifecycle.CLOSED)],
                enf_data={"lifecycle": lifecycle_data(lang), "me": token.staff.id, "me_name": token.staff.name,
                          "team_leader": token.has_role(ENFORCEMENT_LEADER)},
                **context)


@blp.route("/console/enforcement")
@requires(*ENFORCEMENT_ROLES)
def enforcement():
    """Referrals by stage (those waiting to be accepted first), counts per stage, and the
    joint-visit groups (``GET /api/v1/enforcement``, ``/counts``, ``/groups``)."""
    return _render("console/enforcement.html")


@blp.route("/console/enforcement/<number>")
@requires(*ENFORCEMENT_ROLES)
def enforcement_case(number):
    """One referral: the stages as a stepper, its officers, the step to the next stage, its
    records and its group (``GET /api/v1/enforcement/{number}`` and its changes)."""
    return _render("console/enforcement_case.html", number=_number_or_404(number))


page_errors(blp)
