"""The pull's source of cases and enforcement cases (tables ``cases`` and ``enforcement``).

What a phone keeps: the cases its user may see (``dispatch.cases.scope.visible``) except
merged ones, and the enforcement cases (``dispatch.enforcement.scope.visible``). Items have
the inbox's shape (mobile_api.inbox.service.items_for), keyed by ``number``.

* **First pull** (and after the user's scope changed: roles, department, grids): a
  snapshot, paged by id: every open case I see and those closed in the last
  ``FIRST_PULL_CLOSED_DAYS`` days; ``reset`` tells the phone to empty both tables first.
* **A cursor older than the pruned feed** (``mobile_api.sync.retention``: its mark needs
  rows that were deleted): the same as a scope change, ``reset`` and a snapshot, never a
  silent gap.
* **Later pulls**: the change feed since the cursor's mark. An item that changed and that
  I see now is ``updated``; one I no longer see (another department, another grid, another
  assignee, merged) is ``removed`` - but only if the feed row shows I could see it before or
  after that change, so a removal never names a case I could never see."""
from __future__ import annotations

import hashlib
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import and_, or_, select

from dispatch.cases import scope as case_scope
from dispatch.cases.lifecycle import OPEN_STATES
from dispatch.cases.models import Case
from dispatch.enforcement import scope as enf_scope
from dispatch.enforcement.models import EnforcementCase
from grid import roles as R
from grid.models import GridAssignment, Staff
from mobile_api.inbox.service import CASE, ENFORCEMENT, items_for
from mobile_api.sync import feed
from mobile_api.sync.sources import Mark, SourceAnswer
from wangge.timeutil import utcnow

TABLES = {CASE: "cases", ENFORCEMENT: "enforcement"}
FIRST_PULL_CLOSED_DAYS = 30
GONE_STATES = ("merged",)  # a merged case lives on in its master: the phone drops it


def my_grid_codes(session, staff: Staff) -> list[str]:
    now = utcnow()
    return sorted(set(session.scalars(select(GridAssignment.grid_code).where(
        GridAssignment.staff_id == staff.id, GridAssignment.valid_from <= now,
        (GridAssignment.valid_to.is_(None)) | (GridAssignment.valid_to > now)))))


def scope_key(session, staff: Staff) -> str:
    """What decides which cases I see: when it changes, the phone starts again."""
    parts = [str(staff.id), ",".join(staff.roles), str(staff.department_id)]
    if staff.has_role(R.GRID_WORKER):
        parts.append(",".join(my_grid_codes(session, staff)))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _where(clause, extra):
    return extra if clause is None else and_(clause, extra)


def kept_cases(staff: Staff):
    return _where(case_scope.visible(staff), Case.state.not_in(GONE_STATES))


def kept_enforcement(staff: Staff):
    clause = enf_scope.visible(staff)
    return EnforcementCase.id.is_not(None) if clause is None else clause


def load(value):
    """Check this source's part of a cursor (ValueError if it is not ours)."""
    if not isinstance(value, dict) or value.get("m") not in ("i", "d") or not isinstance(value.get("h"), str) \
            or len(value["h"]) > 32:
        raise ValueError("bad cases cursor")
    out = {"m": value["m"], "h": value["h"]}
    if value["m"] == "i":
        out["n"] = Mark.load(value["n"]).dump()
        for k in ("c", "e"):
            if type(value[k]) is not int or not -1 <= value[k] < 2**31:
                raise ValueError("bad position")
            out[k] = value[k]
    else:
        out["s"] = Mark.load(value["s"]).dump()
        if value.get("n") is not None:
            out["n"] = Mark.load(value["n"]).dump()
        p = value.get("p")
        if p is not None:
            if not (isinstance(p, list) and len(p) == 2 and all(type(x) is int and 0 <= x < 2**63 for x in p)):
                raise ValueError("bad position")
            out["p"] = p
    return out


def source(session, staff: Staff, since, until: Mark, *, limit: int, crs: str) -> SourceAnswer:
    key = scope_key(session, staff)
    if since is None or since["h"] != key:
        return _start(session, staff, key, until, limit, crs, reset=since is not None)
    if since["m"] == "i":
        if feed.pruned_past(session, Mark.load(since["n"])):  # the snapshot's mark is gone: again
            return _start(session, staff, key, until, limit, crs, reset=True)
        return _snapshot(session, staff, since, limit, crs)
    return _changes(session, staff, since, until, limit, crs)


def _start(session, staff, key, until: Mark, limit, crs, *, reset: bool) -> SourceAnswer:
    """The first page of a snapshot; ``reset``: the phone empties both tables first."""
    answer = _snapshot(session, staff, {"m": "i", "h": key, "n": until.dump(), "c": 0, "e": 0}, limit, crs)
    if reset:
        answer.reset = list(TABLES.values())
    return answer


def _empty() -> dict:
    return {name: {"updated": [], "removed": []} for name in TABLES.values()}


def _snapshot(session, staff, state, limit, crs) -> SourceAnswer:
    """One page of the first pull: what I see now, by id."""
    recent = utcnow() - timedelta(days=FIRST_PULL_CLOSED_DAYS)
    wanted = or_(Case.state.in_(OPEN_STATES), and_(Case.state == "closed", Case.closed_at >= recent))
    rows, more = [], False
    for kind, model, where, k in ((CASE, Case, and_(kept_cases(staff), wanted), "c"),
                                  (ENFORCEMENT, EnforcementCase, kept_enforcement(staff), "e")):
        if state[k] < 0:
            continue
        ids = list(session.scalars(select(model.id).where(where, model.id > state[k])
                                   .order_by(model.id).limit(limit + 1)))
        if len(ids) > limit:
            ids, more = ids[:limit], True
            state = {**state, k: ids[-1]}
        else:
            state = {**state, k: -1}
        rows += [SimpleNamespace(kind=kind, id=i) for i in ids]
    tables = _empty()
    for item in items_for(session, staff, rows, crs=crs):
        tables[TABLES[item["kind"]]]["updated"].append(item)
    if not more:
        state = {"m": "d", "h": state["h"], "s": state["n"]}
    return SourceAnswer(tables, state, more)


def _changes(session, staff, state, until: Mark, limit, crs) -> SourceAnswer:
    """One page of the feed since the cursor's mark."""
    since = Mark.load(state["s"])
    round_end = state.get("n") or until.dump()  # the mark taken on the first page of this round
    rows = feed.rows(session, since, tuple(state["p"]) if state.get("p") else None, limit)
    if feed.pruned_past(session, since):  # after reading the rows: a prune meanwhile is seen
        return _start(session, staff, state["h"], until, limit, crs, reset=True)
    more = len(rows) > limit
    rows = rows[:limit]
    if more:
        next_state = {"m": "d", "h": state["h"], "s": state["s"], "n": round_end,
                      "p": list(feed.position(session, rows[-1]))}
    else:
        next_state = {"m": "d", "h": state["h"], "s": round_end}
    tables = _empty()
    by_kind = {CASE: {}, ENFORCEMENT: {}}
    for row in rows:
        by_kind[row.kind].setdefault(row.entity_id, []).append(row)
    seen = {CASE: set(), ENFORCEMENT: set()}
    for kind, model, where in ((CASE, Case, kept_cases(staff)), (ENFORCEMENT, EnforcementCase,
                                                                kept_enforcement(staff))):
        if by_kind[kind]:
            seen[kind] = set(session.scalars(select(model.id).where(model.id.in_(by_kind[kind]), where)))
    page = [SimpleNamespace(kind=k, id=i) for k in (CASE, ENFORCEMENT) for i in sorted(seen[k])]
    for item in items_for(session, staff, page, crs=crs):
        tables[TABLES[item["kind"]]]["updated"].append(item)
    grids = set(my_grid_codes(session, staff)) if staff.has_role(R.GRID_WORKER) else set()
    for kind, model in ((CASE, Case), (ENFORCEMENT, EnforcementCase)):
        gone = [i for i, entity_rows in by_kind[kind].items()
                if i not in seen[kind] and any(_could_see(staff, row, grids) for row in entity_rows)]
        if gone:
            tables[TABLES[kind]]["removed"] = sorted(session.scalars(select(model.number).where(model.id.in_(gone))))
    return SourceAnswer(tables, next_state, more)


def _could_see(staff: Staff, row, grids: set[str]) -> bool:
    """Whether, by the values of this feed row (before or after its change), the item was
    one I could see: the rules of dispatch's scopes, read from the row."""
    if staff.has_role(*case_scope.SEE_ALL):
        return True
    departments = {row.old_department_id, row.new_department_id} - {None}
    if row.kind == ENFORCEMENT:
        return staff.has_role(*enf_scope.ENFORCEMENT_ROLES) and staff.department_id in departments
    if staff.has_role(R.DEPARTMENT_HANDLER) and staff.department_id in departments:
        return True
    if staff.has_role(R.GRID_WORKER):
        if staff.id in {row.reporter_staff_id, row.old_assignee_id, row.new_assignee_id}:
            return True
        if grids & {row.old_grid_code, row.new_grid_code}:
            return True
    return False
