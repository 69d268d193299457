"""What needs me now: one list across my roles, built from dispatch's own rules.

* grid worker: the verify and check tasks assigned to me, and my own reports still waiting
  at the desk (which I may close myself, ``self_handle``);
* department handler: my department's cases in the states where a handler has verbs
  (sign, handle, report back, ...);
* enforcement leader / officer: my team's enforcement cases in the stages the leader
  completes (accept, close), and those assigned to me in the stages an officer completes.

Which states count is read from the lifecycle tables (``dispatch.cases.lifecycle`` and
``dispatch.enforcement.lifecycle``); every item also passes ``dispatch.cases.scope.visible``
(resp. the enforcement scope). The list is one SQL query over both kinds with the running
stage clock joined (``ix_stage_clocks_running_*``), ordered by that clock's due time (nulls
last), then kind and id, and paged by keyset; the counts per light are one aggregate over
the same rows; the page's details (cases, clocks, thumbnails, officers) are a fixed number
of batch queries, however long the page."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, literal, or_, select, true, union_all

from dispatch.attachments.models import Attachment
from dispatch.cases import scope as case_scope
from dispatch.cases.lifecycle import VERBS
from dispatch.cases.models import Case
from dispatch.clocks import deadlines
from dispatch.clocks.models import StageClock
from dispatch.enforcement import lifecycle as enf_lifecycle
from dispatch.enforcement import scope as enf_scope
from dispatch.enforcement.models import EnforcementCase, EnforcementOfficer
from dispatch.enforcement.service import is_assigned, is_team_leader, stage_name
from dispatch.workflow.actions import allowed_verbs, state_name
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

# Case verbs that only one person may use, whatever their roles: the side effects in
# dispatch.workflow.actions refuse anyone else (``not_assigned`` / ``not_reporter``).
ASSIGNEE_VERBS = ("verify", "check")
REPORTER_VERBS = ("self_handle",)


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


def _and_visible(clause, visible):
    return clause if visible is None else and_(clause, visible)


def case_clause(staff: Staff):
    """WHERE on Case: the cases in my inbox (None: none)."""
    mine = []
    if staff.has_role(R.GRID_WORKER):
        mine += [and_(Case.assignee_id == staff.id, Case.state.in_(ASSIGNEE_STATES)),
                 and_(Case.reporter_staff_id == staff.id, Case.state.in_(REPORTER_STATES))]
    if staff.has_role(R.DEPARTMENT_HANDLER) and staff.department_id:
        mine.append(and_(Case.department_id == staff.department_id, Case.state.in_(HANDLER_STATES)))
    if not mine:
        return None
    return _and_visible(or_(*mine), case_scope.visible(staff))


def enforcement_clause(staff: Staff):
    """WHERE on EnforcementCase: the enforcement cases in my inbox (None: none)."""
    if not staff.department_id:
        return None
    mine = []
    if staff.has_role(R.ENFORCEMENT_LEADER):
        mine.append(and_(EnforcementCase.team_id == staff.department_id, EnforcementCase.stage.in_(LEADER_STAGES)))
    if staff.has_role(R.ENFORCEMENT_OFFICER):
        mine.append(and_(EnforcementCase.team_id == staff.department_id, EnforcementCase.stage.in_(OFFICER_STAGES),
                         EnforcementCase.id.in_(select(EnforcementOfficer.enforcement_id)
                                                .where(EnforcementOfficer.staff_id == staff.id))))
    if not mine:
        return None
    return _and_visible(or_(*mine), enf_scope.visible(staff))


def light_sql(clock, now: datetime):
    """The light of a running clock in SQL: the rule of ``deadlines.light`` (green under 80% of
    the limit, yellow to 100%, red beyond; a paused clock by what it used), for the counts."""
    used = case((clock.amount > 0, clock.consumed / clock.amount), else_=1.0)
    return case(
        (clock.id.is_(None), "none"),
        (clock.segment_started_at.is_(None),
         case((used > 1, "red"), (used >= deadlines.WARN_FRACTION, "yellow"), else_="green")),
        (clock.due_at < now, "red"),
        (clock.warn_at <= now, "yellow"),
        else_="green")


def _running_clock(session, owner_column, key):
    """The owner's running clock as a joinable selectable and its ON clause. PostgreSQL: a
    LATERAL subquery (an index-only probe of ``ix_stage_clocks_running_*`` per row rather than
    a scan of every running clock); elsewhere a plain outer join."""
    clock = StageClock.__table__.alias(f"clock_{key}")
    if session.get_bind().dialect.name != "postgresql":
        return clock.c, clock, and_(getattr(clock.c, key) == owner_column, clock.c.ended_at.is_(None))
    lateral = select(clock.c.id, clock.c.due_at, clock.c.warn_at, clock.c.segment_started_at, clock.c.consumed,
                     clock.c.amount).where(getattr(clock.c, key) == owner_column, clock.c.ended_at.is_(None)) \
        .order_by(clock.c.id.desc()).limit(1).lateral(f"running_{key}")
    return lateral.c, lateral, true()


def _rows(session, staff: Staff, now: datetime):
    """The inbox as a subquery (kind, id, due, light); None when I have no inbox role."""
    parts = []
    for kind, model, where, key in ((CASE, Case, case_clause(staff), "case_id"),
                                    (ENFORCEMENT, EnforcementCase, enforcement_clause(staff), "enforcement_id")):
        if where is None:
            continue
        columns, joined, on = _running_clock(session, model.id, key)
        parts.append(select(literal(kind).label("kind"), model.id.label("id"), columns.due_at.label("due"),
                            light_sql(columns, now).label("light"))
                     .select_from(model).outerjoin(joined, on).where(where))
    if not parts:
        return None
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("inbox")


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


def _after(rows, pos: Position):
    tail = or_(rows.c.kind > pos.kind, and_(rows.c.kind == pos.kind, rows.c.id > pos.id))
    if pos.due is None:
        return and_(rows.c.due.is_(None), tail)
    return or_(rows.c.due.is_(None), rows.c.due > pos.due, and_(rows.c.due == pos.due, tail))


@dataclass
class Page:
    items: list[dict]
    counts: dict[str, int]
    next: Position | None


def inbox(session, staff: Staff, *, after: Position | None = None, limit: int = 20, crs: str = STORED,
          me: tuple[float, float] | None = None, now: datetime | None = None) -> Page:
    """One page of my inbox. ``me``: my position (lon, lat in ``crs``) for the distances."""
    now = now or utcnow()
    rows = _rows(session, staff, now)
    if rows is None:
        return Page([], {light: 0 for light in LIGHTS}, None)
    query = select(rows.c.kind, rows.c.id, rows.c.due)
    if after is not None:
        query = query.where(_after(rows, after))
    page = session.execute(query.order_by(rows.c.due.asc().nulls_last(), rows.c.kind, rows.c.id)
                           .limit(limit + 1)).all()
    counts = {light: 0 for light in LIGHTS}
    for light, n in session.execute(select(rows.c.light, func.count()).group_by(rows.c.light)):
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
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(case_ids)))} if case_ids else {}
    enfs = {e.id: e for e in session.scalars(select(EnforcementCase).where(EnforcementCase.id.in_(enf_ids)))} \
        if enf_ids else {}
    parents = {c.id: c for c in session.scalars(select(Case).where(
        Case.id.in_({e.parent_case_id for e in enfs.values()})))} if enfs else {}
    clocks = deadlines.current_clocks(session, list(cases.values()))
    enf_clocks = deadlines.current_clocks(session, list(enfs.values()))
    codes = {c.category_code for c in (*cases.values(), *parents.values()) if c.category_code}
    lang = current_language()
    names = {c.code: (c.name_en or c.name_zh) if lang == "en" else c.name_zh
             for c in session.scalars(select(Category).where(Category.code.in_(codes)))} if codes else {}
    thumbs = thumbnails(session, [*cases, *parents])
    here = convert_point(me[0], me[1], crs, STORED) if me else None

    items = []
    for row in page:
        if row.kind == CASE:
            c = cases[row.id]
            clock = clocks.get(c.id)
            item = {"kind": CASE, "number": c.number, "version": c.version, "state": c.state,
                    "state_name": state_name(c.state), "verbs": case_verbs(c, staff),
                    "description": _short(c.title or c.description)}
        else:
            e = enfs[row.id]
            c = parents[e.parent_case_id]
            clock = enf_clocks.get(e.id)
            item = {"kind": ENFORCEMENT, "number": e.number, "version": e.version, "state": e.stage,
                    "state_name": stage_name(e.stage), "verbs": enforcement_verbs(e, staff),
                    "description": _short(e.reason), "parent_number": c.number}
        lon, lat = point_out(c.lon, c.lat, crs)
        item.update({
            "category_code": c.category_code, "category_name": names.get(c.category_code),
            "address": c.address, "lon": lon, "lat": lat,
            "distance_m": round(distance_m(here[0], here[1], c.lon, c.lat), 1)
            if here and c.lon is not None else None,
            "deadline": local_iso(clock.due_at if clock else None),
            "light": deadlines.light(clock, now) if clock else None,
            "thumbnails": thumbs.get(c.id, []),
        })
        items.append(item)
    return items


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


def case_verbs(c: Case, staff: Staff) -> list[str]:
    """The verbs I may use on the case now: the lifecycle table's (``allowed_verbs``), less
    those the action would refuse me (another department's case, a task assigned to someone
    else, a report I did not make)."""
    verbs = []
    for name in allowed_verbs(c, staff):
        verb = VERBS[name]
        roles = [r for r in verb.roles if staff.has_role(r)]
        if verb.own_department and roles == [R.DEPARTMENT_HANDLER] and staff.department_id != c.department_id:
            continue
        if name in ASSIGNEE_VERBS and c.assignee_id != staff.id:
            continue
        if name in REPORTER_VERBS and c.reporter_staff_id != staff.id:
            continue
        verbs.append(name)
    return verbs


def enforcement_verbs(e: EnforcementCase, staff: Staff) -> list[str]:
    """The enforcement verbs I may use now: the team's leader those of the leader, an officer
    assigned to the case those of the officer (``dispatch.enforcement.lifecycle``)."""
    leader, assigned = is_team_leader(staff, e), is_assigned(staff, e) and staff.department_id == e.team_id
    return [v.name for v in enf_lifecycle.TABLE.verbs_from(e.stage)
            if (R.ENFORCEMENT_LEADER in v.roles and leader)
            or (R.ENFORCEMENT_OFFICER in v.roles and assigned and staff.has_role(R.ENFORCEMENT_OFFICER))]
