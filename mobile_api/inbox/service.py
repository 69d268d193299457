"""What needs me now: one list across my roles, built from dispatch's own rules.

* grid worker: the verify and check tasks assigned to me, and my own reports still waiting
  at the desk (which I may close myself, ``self_handle``);
* department handler: my department's cases in the states where a handler has verbs
  (sign, handle, report back, ...);
* enforcement leader / officer: my team's enforcement cases in the stages the leader
  completes (accept, close), and those assigned to me in the stages an officer completes.

Which states count is read from the lifecycle tables (``dispatch.cases.lifecycle`` and
``dispatch.enforcement.lifecycle``); every item also passes ``dispatch.cases.scope.visible``
(resp. the enforcement scope). Order: the running stage clock's due time (nulls last: no
clock, or a paused one), then kind and id, paged by keyset.

Cost independent of the inbox's length: the deadline is read from its owner's row
(``clock_due_at`` / ``clock_warn_at`` / ``clock_paused_light``, the running clock's copy kept
by a trigger on stage_clocks, migration 0012), never from ``stage_clocks``. Each branch of
the inbox (one role's slice: my department's cases in the handler's states, ...) is its own
``ORDER BY clock_due_at, id LIMIT n + 1`` on its partial index (``mobile_api.inbox.models``),
so PostgreSQL reads at most ``n + 1`` index entries per branch and merges a few dozen rows;
the counts per light are one aggregate over the same branches, index-only on PostgreSQL. The
page's details (cases, thumbnails, officers) are a fixed number of batch queries, however
long the page."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, false, func, literal, or_, select, tuple_, union_all
from sqlalchemy.orm import defer, lazyload

from dispatch.attachments.models import Attachment
from dispatch.cases import scope as case_scope
from dispatch.cases.lifecycle import VERBS
from dispatch.cases.models import Case
from dispatch.clocks.deadlines import light_sql, owner_light
from dispatch.enforcement import lifecycle as enf_lifecycle
from dispatch.enforcement import scope as enf_scope
from dispatch.enforcement.models import EnforcementCase, EnforcementOfficer
from dispatch.enforcement.service import is_assigned, is_team_leader, stage_name
from dispatch.workflow.actions import ASSIGNEE_VERBS, REPORTER_VERBS, allowed_verbs, state_name
from geo.area import distance_m
from geo.crs import convert_point
from grid import roles as R
from grid.models import Category, Staff
from mobile_api.crs import STORED, point_out
from wangge.i18n import current_language
from wangge.present import local_iso
from wangge.timeutil import utcnow

CASE, ENFORCEMENT = "case", "enforcement"
KINDS = (CASE, ENFORCEMENT)
LIGHTS = ("red", "yellow", "green", "none")
ROLES = (R.GRID_WORKER, R.DEPARTMENT_HANDLER, R.ENFORCEMENT_LEADER, R.ENFORCEMENT_OFFICER)
DESCRIPTION_CHARS = 80
THUMBNAILS = 3



def _case_states(role: str, names=None) -> tuple[str, ...]:
    """The states in which ``role`` has a case verb (of ``names`` only, when given)."""
    return tuple(sorted({s for v in VERBS.values() if role in v.roles and (names is None or v.name in names)
                         for s in v.sources}))


def _enforcement_stages(role: str) -> tuple[str, ...]:
    """The stages ``role`` completes (the verb that moves the case on is theirs)."""
    return tuple(s for s in enf_lifecycle.STAGES if any(role in v.roles for v in enf_lifecycle.advancing(s)))


ASSIGNEE_STATES = _case_states(R.GRID_WORKER, ASSIGNEE_VERBS)      # verifying, checking
REPORTER_STATES = _case_states(R.GRID_WORKER, REPORTER_VERBS)      # reported
HANDLER_STATES = _case_states(R.DEPARTMENT_HANDLER)                # dispatched, handling, opened
LEADER_STAGES = _enforcement_stages(R.ENFORCEMENT_LEADER)          # accept, close
OFFICER_STAGES = _enforcement_stages(R.ENFORCEMENT_OFFICER)        # investigate, decide, execute


def _in(column, values):
    """``column IN ('a', 'b')`` with the values written into the SQL, so PostgreSQL proves the
    branch's partial index predicate even for a cached (generic) plan."""
    return column.in_(bindparam(None, list(values), expanding=True, literal_execute=True, unique=True))


@dataclass(frozen=True)
class Branch:
    """One role's slice of the inbox: rows of ``model`` matching ``where`` (visibility included).
    The branches of one inbox never share a row (their states differ)."""
    kind: str
    model: type
    where: object


def branches(staff: Staff) -> list[Branch]:
    """My inbox's branches, each read by its own partial index (``mobile_api.inbox.models``)."""
    cases, enforcement = [], []
    if staff.has_role(R.GRID_WORKER):
        cases += [and_(Case.assignee_id == staff.id, _in(Case.state, ASSIGNEE_STATES)),
                  and_(Case.reporter_staff_id == staff.id, _in(Case.state, REPORTER_STATES))]
    if staff.has_role(R.DEPARTMENT_HANDLER) and staff.department_id:
        cases.append(and_(Case.department_id == staff.department_id, _in(Case.state, HANDLER_STATES)))
    if staff.department_id and staff.has_role(R.ENFORCEMENT_LEADER):
        enforcement.append(and_(EnforcementCase.team_id == staff.department_id,
                                _in(EnforcementCase.stage, LEADER_STAGES)))
    if staff.department_id and staff.has_role(R.ENFORCEMENT_OFFICER):
        enforcement.append(and_(EnforcementCase.team_id == staff.department_id,
                                _in(EnforcementCase.stage, OFFICER_STAGES),
                                EnforcementCase.id.in_(select(EnforcementOfficer.enforcement_id)
                                                       .where(EnforcementOfficer.staff_id == staff.id))))
    out = []
    for kind, model, wheres, visible in ((CASE, Case, cases, case_scope.visible),
                                         (ENFORCEMENT, EnforcementCase, enforcement, enf_scope.visible)):
        if wheres:
            clause = visible(staff)
            out += [Branch(kind, model, w if clause is None else and_(w, clause)) for w in wheres]
    return out


def case_clause(staff: Staff):
    """WHERE on Case: the cases in my inbox (None: none)."""
    mine = [b.where for b in branches(staff) if b.kind == CASE]
    return or_(*mine) if mine else None


def enforcement_clause(staff: Staff):
    """WHERE on EnforcementCase: the enforcement cases in my inbox (None: none)."""
    mine = [b.where for b in branches(staff) if b.kind == ENFORCEMENT]
    return or_(*mine) if mine else None


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last item's due time (None: no deadline), kind and id."""
    due: datetime | None
    kind: str
    id: int

    def dump(self) -> list:
        return [self.due.isoformat() if self.due else None, self.kind, self.id]

    @classmethod
    def load(cls, value) -> Position:
        due, kind, ident = value
        if kind not in KINDS or type(ident) is not int or not 0 < ident < 2**31:
            raise ValueError("bad position")
        if due is not None:
            due = datetime.fromisoformat(due)
            if due.tzinfo is None or not 1970 <= due.year <= 2200:
                raise ValueError("bad time")
        return cls(due, kind, ident)


def _after(branch: Branch, pos: Position | None) -> list:
    """The branch's rows after ``pos`` in (due nulls last, kind, id) order, as conditions each
    of which is one range of the branch's index: the dated rows after the position, then the
    undated ones (an OR of the two would not be a range). [None]: all rows; []: none."""
    if pos is None:
        return [None]
    due, ident = branch.model.clock_due_at, branch.model.id
    if pos.due is None:  # only undated rows remain
        if branch.kind < pos.kind:
            return []
        return [and_(due.is_(None), ident > pos.id) if branch.kind == pos.kind else due.is_(None)]
    at = bindparam(None, pos.due, type_=due.type, unique=True)
    if branch.kind < pos.kind:
        dated = due > at
    elif branch.kind == pos.kind:
        dated = tuple_(due, ident) > tuple_(at, bindparam(None, pos.id, type_=ident.type, unique=True))
    else:
        dated = due >= at
    return [dated, due.is_(None)]


def page_query(staff: Staff, after: Position | None, limit: int):
    """The page's (kind, id, due) rows, ``limit + 1`` at most; None: no inbox role."""
    mine = branches(staff)
    if not mine:
        return None
    parts = []
    for branch in mine:
        model = branch.model
        for cond in _after(branch, after):
            q = select(literal(branch.kind).label("kind"), model.id.label("id"), model.clock_due_at.label("due")) \
                .where(branch.where)
            if cond is not None:
                q = q.where(cond)
            parts.append(q.order_by(model.clock_due_at.asc().nulls_last(), model.id).limit(limit + 1).subquery())
    if not parts:  # past the end
        return select(literal(CASE).label("kind"), Case.id.label("id"), Case.clock_due_at.label("due")).where(false())
    rows = union_all(*(select(p.c.kind, p.c.id, p.c.due) for p in parts)).subquery("inbox") if len(parts) > 1 \
        else parts[0]
    return select(rows.c.kind, rows.c.id, rows.c.due) \
        .order_by(rows.c.due.asc().nulls_last(), rows.c.kind, rows.c.id).limit(limit + 1)


def counts_query(staff: Staff, now: datetime):
    """(light, count) over the whole inbox; None: no inbox role."""
    mine = branches(staff)
    if not mine:
        return None
    rows = union_all(*(select(light_sql(b.model, now).label("light")).where(b.where) for b in mine)) \
        .subquery("lights") if len(mine) > 1 else \
        select(light_sql(mine[0].model, now).label("light")).where(mine[0].where).subquery("lights")
    return select(rows.c.light, func.count()).group_by(rows.c.light)


@dataclass
class Page:
    items: list[dict]
    counts: dict[str, int]
    next: Position | None


def inbox(session, staff: Staff, *, after: Position | None = None, limit: int = 20, crs: str = STORED,
          me: tuple[float, float] | None = None, now: datetime | None = None) -> Page:
    """One page of my inbox. ``me``: my position (lon, lat in ``crs``) for the distances."""
    now = now or utcnow()
    query = page_query(staff, after, limit)
    if query is None:
        return Page([], {light: 0 for light in LIGHTS}, None)
    page = session.execute(query).all()
    counts = {light: 0 for light in LIGHTS}
    for light, n in session.execute(counts_query(staff, now)):
        counts[light or "none"] += n
    more = len(page) > limit
    page = page[:limit]
    items = items_for(session, staff, page, crs=crs, me=me, now=now)
    last = page[-1] if more else None
    return Page(items, counts, Position(last.due, last.kind, last.id) if last else None)


def items_for(session, staff: Staff, page, *, crs: str = STORED, me=None, now=None) -> list[dict]:
    """Items of ``page`` (rows with ``kind`` and ``id``), in its order: a fixed number of
    queries for any length (also the shape of the cases offline sync sends)."""
    now = now or utcnow()
    case_ids = [r.id for r in page if r.kind == CASE]
    enf_ids = [r.id for r in page if r.kind == ENFORCEMENT]
    # nothing here reads a case's grid (its polygon), department or location geometry (lon and
    # lat are columns): not joined, not parsed
    light = (lazyload(Case.grid), lazyload(Case.department), defer(Case.location, raiseload=True))
    cases = {c.id: c for c in session.scalars(select(Case).options(*light).where(Case.id.in_(case_ids)))} \
        if case_ids else {}
    enfs = {e.id: e for e in session.scalars(select(EnforcementCase).where(EnforcementCase.id.in_(enf_ids)))} \
        if enf_ids else {}
    parents = {c.id: c for c in session.scalars(select(Case).options(*light).where(
        Case.id.in_({e.parent_case_id for e in enfs.values()})))} if enfs else {}
    codes = {c.category_code for c in (*cases.values(), *parents.values()) if c.category_code}
    lang = current_language()
    names = {c.code: (c.name_en or c.name_zh) if lang == "en" else c.name_zh
             for c in session.scalars(select(Category).where(Category.code.in_(codes)))} if codes else {}
    thumbs = thumbnails(session, [*cases, *parents])
    here = convert_point(me[0], me[1], crs, STORED) if me else None

    # the verbs depend only on the state and on whether the case is my department's, my task,
    # my report (an enforcement case: its stage, my team, assigned to me): computed once per kind
    verbs: dict[tuple, list[str]] = {}
    items = []
    for row in page:
        if row.kind == CASE:
            c = owner = cases[row.id]
            key = (CASE, c.state, c.department_id == staff.department_id, c.assignee_id == staff.id,
                   c.reporter_staff_id == staff.id)
            item = {"kind": CASE, "number": c.number, "version": c.version, "state": c.state,
                    "state_name": state_name(c.state), "verbs": _memo(verbs, key, allowed_verbs, c, staff),
                    "description": _short(c.title or c.description)}
        else:
            e = enfs[row.id]
            owner, c = e, parents[e.parent_case_id]
            key = (ENFORCEMENT, e.stage, e.team_id == staff.department_id, is_assigned(staff, e))
            item = {"kind": ENFORCEMENT, "number": e.number, "version": e.version, "state": e.stage,
                    "state_name": stage_name(e.stage), "verbs": _memo(verbs, key, enforcement_verbs, e, staff),
                    "description": _short(e.reason), "parent_number": c.number}
        lon, lat = point_out(c.lon, c.lat, crs)
        item.update({
            "category_code": c.category_code, "category_name": names.get(c.category_code),
            "address": c.address, "lon": lon, "lat": lat,
            "distance_m": round(distance_m(here[0], here[1], c.lon, c.lat), 1)
            if here and c.lon is not None else None,
            "deadline": local_iso(owner.clock_due_at),
            "light": owner_light(owner.clock_due_at, owner.clock_warn_at, owner.clock_paused_light, now),
            "thumbnails": thumbs.get(c.id, []),
        })
        items.append(item)
    return items


def _memo(cache: dict, key: tuple, fn, *args) -> list[str]:
    if key not in cache:
        cache[key] = fn(*args)
    return list(cache[key])


def _short(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= DESCRIPTION_CHARS else text[:DESCRIPTION_CHARS - 1] + "…"


def thumbnail_url(attachment_id: int) -> str:
    return f"/api/v1/attachments/{attachment_id}/thumbnail"


def thumbnails(session, case_ids) -> dict[int, list[str]]:
    """The first few photos of each case (thumbnail URLs), in one query."""
    if not case_ids:
        return {}
    ranked = select(Attachment.id, Attachment.case_id, func.row_number().over(
        partition_by=Attachment.case_id, order_by=Attachment.id).label("n")) \
        .where(Attachment.case_id.in_(set(case_ids))).subquery()
    found: dict[int, list[str]] = {}
    for ident, case_id in session.execute(select(ranked.c.id, ranked.c.case_id).where(ranked.c.n <= THUMBNAILS)
                                          .order_by(ranked.c.case_id, ranked.c.id)):
        found.setdefault(case_id, []).append(thumbnail_url(ident))
    return found


def enforcement_verbs(e: EnforcementCase, staff: Staff) -> list[str]:
    """The enforcement verbs I may use now: the team's leader those of the leader, an officer
    assigned to the case those of the officer (``dispatch.enforcement.lifecycle``)."""
    leader, assigned = is_team_leader(staff, e), is_assigned(staff, e) and staff.department_id == e.team_id
    return [v.name for v in enf_lifecycle.TABLE.verbs_from(e.stage)
            if (R.ENFORCEMENT_LEADER in v.roles and leader)
            or (R.ENFORCEMENT_OFFICER in v.roles and assigned and staff.has_role(R.ENFORCEMENT_OFFICER))]
