"""The enforcement case's stages, declared once, as data (docs/enforcement.md, docs/domain.md §2).

The same structures as the case lifecycle (``dispatch.cases.lifecycle``): states, ``Verb``s
with their roles and required fields, and the clocked stage of each state, whose time-limit
key is ``enf_<stage>``. The service checks every step against this table; the clocks, lights
and the deadline sweep are the case clocks' (``dispatch.clocks``); the stage part of
``docs/enforcement.md`` is generated from it (``wangge lifecycle diagram --table enforcement``).

Roles are read as: ``enforcement_leader`` is the leader of the case's team,
``enforcement_officer`` an officer assigned to the case. ``own_department``: the actor
belongs to the case's team. In ``requires``, ``officers`` means officers are assigned before
the step (else 409 ``officers_first``); every other name is a field of the request.
"""
from __future__ import annotations

from dispatch.cases.lifecycle import SAME, Lifecycle, Verb
from grid import roles as R

LEADER, OFFICER = R.ENFORCEMENT_LEADER, R.ENFORCEMENT_OFFICER
CLOSED = "closed"

# stage -> (中文, English, terminal). ``closed`` is where a finished enforcement case rests.
STATES: dict[str, tuple[str, str, bool]] = {
    "accept": ("受理", "Accept", False),
    "investigate": ("调查取证", "Investigate", False),
    "decide": ("处罚决定", "Decide", False),
    "execute": ("执行", "Execute", False),
    "close": ("结案", "Close", False),
    CLOSED: ("已结案", "Closed", True),
}
STAGES = tuple(s for s, (_, _, terminal) in STATES.items() if not terminal)  # the working stages, in order
OPEN_STATES = STAGES

# The clocked stage of each state: its limit is the category's ``enf_<stage>`` time limit.
STATE_STAGE = {stage: f"enf_{stage}" for stage in STAGES}

# Each working stage has one verb that completes it and moves the case on; ``assign_officers``,
# ``finding`` and ``note`` leave the stage unchanged.
VERBS: dict[str, Verb] = {v.name: v for v in [
    Verb("accept", "受理", ("accept",), (LEADER,), "investigate", requires=("officers",), own_department=True),
    Verb("investigate", "调查终结", ("investigate",), (OFFICER,), "decide", requires=("note",),
         own_department=True),
    Verb("decide", "处罚决定", ("decide",), (OFFICER,), "execute", requires=("note",), own_department=True),
    Verb("execute", "执行完毕", ("execute",), (OFFICER,), "close", requires=("note",), own_department=True),
    Verb("close", "结案", ("close",), (LEADER,), CLOSED, requires=("note",), own_department=True),
    Verb("assign_officers", "指派承办人", OPEN_STATES, (LEADER,), SAME, requires=("staff_ids",),
         own_department=True),
    Verb("finding", "调查发现", ("investigate",), (LEADER, OFFICER), SAME, own_department=True),
    Verb("note", "备注", OPEN_STATES, (LEADER, OFFICER), SAME, own_department=True),
]}

# What the record of each step is called, and what else a step may carry.
RECORD_KIND = {"accept": "stage", "investigate": "finding", "decide": "decision", "execute": "execution",
               "close": "outcome"}
MAY_CARRY = {"decide": ("penalty_amount",)}
RECORD_KINDS = ("finding", "note")  # what may be recorded without advancing

TABLE = Lifecycle(
    title="Stages", states=STATES, verbs=VERBS, state_stage=STATE_STAGE,
    entry=("accept", "refer_enforcement 移交综合执法"), source="dispatch/enforcement/lifecycle.py",
    command="wangge lifecycle diagram --table enforcement --write", open_states=OPEN_STATES, level=2,
    remark="`assign_officers` (指派承办人) and `note` (备注) apply in every open stage and leave it "
           "unchanged; `finding` (调查发现) is recorded during `investigate`. Leaving `decide` may carry "
           "`penalty_amount`.")


def advancing(state: str) -> list[Verb]:
    """The verbs that move an enforcement case out of ``state``, in table order."""
    return [v for v in TABLE.verbs_from(state) if v.target != SAME]


def verb_to(state: str, to_state: str) -> Verb | None:
    """The verb that moves a case from ``state`` to ``to_state``; None if the table has none."""
    return next((v for v in advancing(state) if v.target == to_state), None)
