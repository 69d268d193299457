"""The case state machine, declared once, as data (docs/domain.md §2).

Everything else reads this table: the transition service checks states, roles and required
fields against it; the API lists the verbs a user may use now; ``docs/lifecycle.md`` is a
diagram generated from it (``wangge lifecycle diagram``); the KPI code knows stages from it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from grid import roles as R

# state -> (中文, English, terminal)
STATES: dict[str, tuple[str, str, bool]] = {
    "reported": ("待受理", "Reported", False),
    "verifying": ("核实中", "Being verified", False),
    "accepted": ("待立案", "Accepted", False),
    "rejected": ("不予受理", "Rejected", True),
    "opened": ("待派遣", "Opened", False),
    "dispatched": ("待签收", "Dispatched", False),
    "handling": ("处置中", "Being handled", False),
    "return_requested": ("退单待审", "Return requested", False),
    "extension_requested": ("延期待审", "Extension requested", False),
    "suspend_requested": ("挂账待审", "Suspension requested", False),
    "suspended": ("挂账", "Suspended", False),
    "enforcement": ("执法处置中", "With the enforcement team", False),
    "handled": ("待核查", "Reported back", False),
    "checking": ("核查中", "Being checked", False),
    "check_passed": ("待结案", "Check passed", False),
    "closed": ("已结案", "Closed", False),  # not terminal: rating and follow-up come after
    "void_requested": ("作废待批", "Void requested", False),
    "voided": ("已作废", "Voided", True),
    "merged": ("已合并", "Merged", False),  # follows its master: closed with it, or back to the desk
}
OPEN_STATES = tuple(s for s, (_, _, terminal) in STATES.items() if not terminal and s not in ("closed", "merged"))

# The clocked stage of each state (docs/domain.md §3). A state not listed keeps the
# running clock (return_requested, void_requested) or has none.
STATE_STAGE = {
    "verifying": "verify", "accepted": "open", "opened": "dispatch", "dispatched": "sign",
    "handling": "handle", "extension_requested": "handle", "suspend_requested": "handle",
    "suspended": "handle", "checking": "check", "check_passed": "close",
}
PAUSED_STATES = {"suspended"}

RESUME = "@resume"      # target: the state the case was in before the request
SAME = "@same"          # target: state unchanged (supervise, urge, rate)
SYSTEM = "system"       # role used by the application itself (auto-dispatch, enforcement result)
CITIZEN = "citizen"     # role of a citizen acting with a tracking code

ALL_OPEN = OPEN_STATES
# Before dispatch a case's category and place can still be corrected (reclassify, relocate):
# afterwards a department holds it, and a wrong category or place is its return (退单).
BEFORE_DISPATCH = ("reported", "verifying", "accepted", "opened")
DESK = (R.INTAKE_CLERK, R.SHIFT_LEADER, R.DISPATCHER)


@dataclass(frozen=True)
class Verb:
    name: str
    zh: str
    sources: tuple[str, ...]
    roles: tuple[str, ...]
    target: str | None = None                     # fixed target state
    outcomes: dict[str, str] = field(default_factory=dict)  # outcome -> target state
    requires: tuple[str, ...] = ()                # payload fields that must be present
    own_department: bool = False                  # handler must belong to the case's department
    restarts_clock: bool = False                  # start a fresh clock even if the stage is the same

    def target_for(self, outcome: str | None) -> str:
        if self.outcomes:
            return self.outcomes[outcome]
        return self.target


VERBS: dict[str, Verb] = {v.name: v for v in [
    Verb("accept", "受理", ("reported",), (R.INTAKE_CLERK,), "accepted"),
    Verb("reject", "不予受理", ("reported",), (R.INTAKE_CLERK,), "rejected", requires=("note",)),
    Verb("request_verify", "派发核实", ("reported",), (R.INTAKE_CLERK,), "verifying"),
    Verb("verify", "核实", ("verifying",), (R.GRID_WORKER,),
         outcomes={"confirmed": "accepted", "false_report": "rejected"}, requires=("outcome",)),
    Verb("open", "立案", ("accepted",), (R.SHIFT_LEADER,), "opened"),
    Verb("dispatch", "派遣", ("opened",), (R.DISPATCHER, SYSTEM), "dispatched"),
    Verb("sign", "签收", ("dispatched",), (R.DEPARTMENT_HANDLER,), "handling", own_department=True),
    Verb("return", "退单", ("dispatched", "handling"), (R.DEPARTMENT_HANDLER,), "return_requested",
         requires=("note",), own_department=True),
    Verb("rule_return", "退单审定", ("return_requested",), (R.DISPATCHER,),
         outcomes={"accept": "opened", "refuse": RESUME}, requires=("outcome",)),
    Verb("redispatch", "改派", ("dispatched", "handling"), (R.DISPATCHER,), "dispatched",
         requires=("department_code",), restarts_clock=True),
    Verb("request_extension", "申请延期", ("handling",), (R.DEPARTMENT_HANDLER,), "extension_requested",
         requires=("note",), own_department=True),
    Verb("decide_extension", "延期审批", ("extension_requested",), (R.DISPATCHER,),
         outcomes={"approve": "handling", "refuse": "handling"}, requires=("outcome",)),
    Verb("request_suspend", "申请挂账", ("handling",), (R.DEPARTMENT_HANDLER,), "suspend_requested",
         requires=("note", "review_date"), own_department=True),
    Verb("decide_suspend", "挂账审批", ("suspend_requested",), (R.DISPATCHER,),
         outcomes={"approve": "suspended", "refuse": "handling"}, requires=("outcome",)),
    Verb("restore", "挂账恢复", ("suspended",), (R.DISPATCHER,), "handling"),
    Verb("refer_enforcement", "移交综合执法", ("opened", "handling"), (R.DEPARTMENT_HANDLER, R.DISPATCHER),
         "enforcement", requires=("note",), own_department=True),
    Verb("enforcement_result", "执法结果回传", ("enforcement",), (SYSTEM,), "handled"),
    Verb("report_back", "处置反馈", ("handling",), (R.DEPARTMENT_HANDLER,), "handled",
         requires=("note",), own_department=True),
    Verb("request_check", "派发核查", ("handled",), (R.INTAKE_CLERK,), "checking"),
    Verb("check", "核查", ("checking",), (R.GRID_WORKER,),
         outcomes={"pass": "check_passed", "fail": "handling"}, requires=("outcome",), restarts_clock=True),
    Verb("close", "结案", ("check_passed",), (R.SHIFT_LEADER, SYSTEM), "closed"),
    Verb("request_void", "申请作废", ("reported", "verifying", "accepted", "opened", "dispatched"),
         (R.INTAKE_CLERK, R.DISPATCHER), "void_requested", requires=("note",)),
    Verb("decide_void", "作废审批", ("void_requested",), (R.SHIFT_LEADER,),
         outcomes={"approve": "voided", "refuse": RESUME}, requires=("outcome",)),
    Verb("merge", "合并", ("reported", "verifying", "accepted", "opened"), (R.INTAKE_CLERK, R.DISPATCHER),
         "merged", requires=("into",)),
    Verb("close_with_master", "随主案结案", ("merged",), (SYSTEM,), "closed"),
    Verb("unmerge", "解除合并", ("merged",), (SYSTEM, R.INTAKE_CLERK, R.DISPATCHER), "reported"),
    Verb("reclassify", "改类", BEFORE_DISPATCH, DESK, SAME, requires=("category_code",)),
    Verb("relocate", "改址/定位", BEFORE_DISPATCH, DESK, SAME),  # lon and lat, or grid_code (docs/dispatch.md)
    Verb("supervise", "督办", ALL_OPEN, (R.LEADER,), SAME, requires=("note",)),
    Verb("urge", "催办", ALL_OPEN, (R.LEADER,), SAME, requires=("note",)),
    Verb("self_handle", "自处理", ("reported",), (R.GRID_WORKER,), "closed", requires=("note", "attachments")),
    Verb("rate", "评价", ("closed",), (CITIZEN, R.INTAKE_CLERK), SAME, requires=("rating",)),
    Verb("follow_up", "不满意回访", ("closed",), (R.INTAKE_CLERK, R.DISPATCHER),
         outcomes={"reopen": "opened", "note": SAME}, requires=("outcome", "note")),
]}

# What each verb may carry besides a note, for the API schema and checks.
OUTCOME_VERBS = {name for name, v in VERBS.items() if v.outcomes}


def verbs_from(state: str) -> list[Verb]:
    return CASES.verbs_from(state)


@dataclass(frozen=True)
class Lifecycle:
    """A state machine declared as data: its states, verbs and clocked stages, and what the
    generated document says about it. Cases and enforcement cases are two such tables, run by
    the same checks, clocks and generators."""

    title: str                                    # heading of the generated section
    states: dict[str, tuple[str, str, bool]]     # state -> (中文, English, terminal)
    verbs: dict[str, Verb]
    state_stage: dict[str, str]                   # state -> clocked stage (its time-limit key)
    entry: tuple[str, str]                        # (first state, label of the way in)
    source: str                                   # the module that declares the table
    command: str                                  # the command that writes the document
    open_states: tuple[str, ...] = ()             # shown as "every open state" in the verb table
    paused_states: frozenset[str] = frozenset()
    remark: str = ""                              # a paragraph below the diagram
    level: int = 1                                # heading level of the generated section

    def verbs_from(self, state: str) -> list[Verb]:
        return [v for v in self.verbs.values() if state in v.sources]


CASES = Lifecycle(
    title="Case lifecycle", states=STATES, verbs=VERBS, state_stage=STATE_STAGE,
    entry=("reported", "submit 上报"), source="dispatch/cases/lifecycle.py",
    command="wangge lifecycle diagram > docs/lifecycle.md", open_states=ALL_OPEN,
    paused_states=frozenset(PAUSED_STATES),
    remark="`supervise` (督办) and `urge` (催办) apply in every open state, `reclassify` (改类) and `relocate`"
           " (改址/定位) in every state before dispatch; all four leave the state unchanged and are not drawn."
           " `relocate` takes `lon` and `lat`, or `grid_code` (docs/dispatch.md).")

# The generated part of a hand-written document (docs/enforcement.md) sits between these.
BEGIN = "<!-- generated from the lifecycle table: do not edit by hand -->"
END = "<!-- end of generated part -->"


def mermaid(table: Lifecycle = CASES) -> str:
    """The state machine as a Mermaid diagram (docs/lifecycle.md is generated from this)."""
    first, way_in = table.entry
    lines = ["stateDiagram-v2", f"    [*] --> {first}: {way_in}"]
    for state, (zh, _, _) in table.states.items():
        lines.append(f"    {state}: {state} {zh}")
    for verb in table.verbs.values():
        targets = verb.outcomes.items() if verb.outcomes else [(None, verb.target)]
        for source in verb.sources:
            if verb.target == SAME and len(verb.sources) > 3:
                continue  # verbs of every open state (supervise/urge): listed below the diagram
            for outcome, target in targets:
                to = source if target in (SAME,) else target
                if target == RESUME:
                    to = "previous state"
                label = f"{verb.name} {verb.zh}" + (f" ({outcome})" if outcome else "")
                roles = "/".join(verb.roles)
                if to == "previous state":
                    lines.append(f"    {source} --> {source}: {label} [{roles}] returns to the state before")
                else:
                    lines.append(f"    {source} --> {to}: {label} [{roles}]")
    for terminal in (s for s, (_, _, t) in table.states.items() if t):
        lines.append(f"    {terminal} --> [*]")
    return "\n".join(lines)


def markdown(table: Lifecycle = CASES) -> str:
    """The diagram, the verb table and the clocked stages as Markdown."""
    h = "#" * table.level
    rows = ["| verb | 中文 | from | to | roles | requires |", "|---|---|---|---|---|---|"]
    for v in table.verbs.values():
        to = ", ".join(f"{k}: {t}" for k, t in v.outcomes.items()) if v.outcomes else v.target
        to = to.replace(RESUME, "previous state").replace(SAME, "unchanged")
        sources = "every open state" if table.open_states and v.sources == table.open_states \
            else ", ".join(v.sources)
        req = ", ".join(v.requires) + ("; own department" if v.own_department else "")
        rows.append(f"| `{v.name}` | {v.zh} | {sources} | {to} | {', '.join(v.roles)} | {req} |")
    return (
        f"{h} {table.title}\n\n"
        f"Generated from `{table.source}` by `{table.command}`;"
        " a test fails when this file and the table in code disagree.\n\n"
        "```mermaid\n" + mermaid(table) + "\n```\n\n"
        + (f"{table.remark}\n\n" if table.remark else "")
        + f"{h}# Verbs\n\n" + "\n".join(rows) + "\n\n"
        f"{h}# Clocked stages\n\n" + "\n".join(
            f"- `{state}` → stage `{stage}`" + (" (clock paused)" if state in table.paused_states else "")
            for state, stage in table.state_stage.items()) + "\n"
    )


def embed(document: str, table: Lifecycle) -> str:
    """``document`` with its generated part (between BEGIN and END) replaced by the table's
    Markdown; a document without the markers is returned unchanged."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        return document
    return document[:start] + BEGIN + "\n" + markdown(table) + END + document[end + len(END):]
