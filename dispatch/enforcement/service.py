"""Referral to the enforcement team (移交综合执法, 一队伍).

A department handler or the dispatcher refers a case (verb ``refer_enforcement``); the
parent case waits in ``enforcement`` while the team runs an enforcement case of its own
through 受理 -> 调查取证 -> 处罚决定 -> 执行 -> 结案, each stage with its own limit
(``enf_<stage>`` in the category's time limits) over the work calendar. The team leader
accepts, assigns officers and closes; the assigned officers investigate, decide and
execute. Every step leaves an append-only record. Closing writes the outcome and hands
the parent back (verb ``enforcement_result``, role ``system``) to be checked like any
other case.

Referrals of one team at one place (``enforcement_group_distance_m``) whose windows
(``enforcement_group_days`` from the referral) overlap share a group: one visit handles
them, and the leader sees them together. Closing one member never closes the others.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import false, func, or_, select, text
from sqlalchemy.orm.attributes import flag_modified

from dispatch.attachments.models import Attachment
from dispatch.cases.actions import Actor, Payload, act
from dispatch.cases.models import Case
from dispatch.enforcement.models import (
    EnforcementCase,
    EnforcementGroup,
    EnforcementOfficer,
    EnforcementRecord,
)
from dispatch.notifications import notify
from geo.area import distance_m
from grid import roles as R
from grid.calendar import work_calendar
from grid.limits import limit_for
from grid.models import EVERYWHERE, Department, Grid, Staff
from wangge.errors import Conflict, Forbidden, NotFound, validation_error
from wangge.i18n import both, t
from wangge.present import local_iso
from wangge.timeutil import utcnow

WARN_FRACTION = 0.8
CLOSED = "closed"

# ``closed`` is where a finished enforcement case rests. The stages' words are the catalog's
# ``enforcement_stage_<stage>`` messages.
STAGES = ("accept", "investigate", "decide", "execute", "close")
NEXT = {"accept": "investigate", "investigate": "decide", "decide": "execute", "execute": "close",
        "close": CLOSED}
LEADER_STAGES = {"accept", "close"}            # the team leader moves the case out of these
OFFICER_STAGES = {"investigate", "decide", "execute"}  # the assigned officers move it out of these
# What the record of leaving a stage is.
RECORD_KIND = {"accept": "stage", "investigate": "finding", "decide": "decision", "execute": "execution",
               "close": "outcome"}
NOTE_REQUIRED = {"investigate", "decide", "execute", "close"}
RECORD_KINDS = ("finding", "note")  # what may be recorded without advancing

SEE_ALL = (R.INTAKE_CLERK, R.SHIFT_LEADER, R.DISPATCHER, R.LEADER, R.ADMIN)
ENFORCEMENT_ROLES = (R.ENFORCEMENT_LEADER, R.ENFORCEMENT_OFFICER)


def settings():
    return current_app.config["WANGGE"]


def stage_name(stage: str, lang: str | None = None) -> str:
    key = f"enforcement_stage_{stage}"
    text = t(key, lang=lang)
    return stage if text == key else text


def record_data(record) -> dict:
    """A record's data as the reader sees it: stored times (UTC) in the reader's zone."""
    data = dict(record.data or {})
    if data.get("due_at"):
        data["due_at"] = local_iso(datetime.fromisoformat(data["due_at"]))
    return data


# --- referral ---------------------------------------------------------------------------

def refer(session, case: Case, actor, note: str | None) -> EnforcementCase:
    """Open an enforcement case for ``case`` (called by the verb ``refer_enforcement``)."""
    if not note or not note.strip():
        raise validation_error({"note": [t("required_for_action")]})
    team = choose_team(session, case)
    now = utcnow()
    count = session.scalar(select(func.count(EnforcementCase.id))
                           .where(EnforcementCase.parent_case_id == case.id)) or 0
    enf = EnforcementCase(number=f"{case.number}-ZF{count + 1}", parent_case_id=case.id, team_id=team.id,
                          referred_by=actor.id, reason=note.strip(), created_at=now)
    enf.parent, enf.team = case, team
    _enter_stage(session, enf, "accept", now)
    group, joined = _group_for(session, case, team, now)
    enf.group_id, enf.group = group.id, group
    session.add(enf)
    session.flush()
    session.add(EnforcementRecord(
        enforcement_id=enf.id, kind="referral", from_stage=None, to_stage="accept", actor_id=actor.id, at=now,
        note=enf.reason, attachment_ids=[],
        data={"parent": case.number, "role": actor.role, "team": team.code, "group_id": group.id,
              "joined_group": joined, "due_at": _iso(enf.stage_due_at)}))
    session.flush()
    others = [] if not joined else [n for n in session.scalars(
        select(EnforcementCase.number).where(EnforcementCase.group_id == group.id,
                                             EnforcementCase.id != enf.id).order_by(EnforcementCase.id))]
    where = case.address or (f"{case.lon:.6f},{case.lat:.6f}" if case.lon is not None else "")
    zh, en = both("notify_enforcement_referred", number=case.number, where=where, reason=enf.reason)
    if others:
        zh += t("notify_enforcement_same_place", lang="zh", others="、".join(others))
        en += t("notify_enforcement_same_place", lang="en", others=", ".join(others))
    _notify(session, f"enforcement:{enf.id}:referred", "enforcement_referred", enf,
            notify.with_role(session, R.ENFORCEMENT_LEADER, team.id), zh, en, group_id=group.id)
    return enf


def choose_team(session, case: Case) -> Department:
    """The active enforcement team for the case's place: the one whose grid is the nearest
    ancestor of (or is) the case's grid; else a city-wide team (no grid); else the first."""
    teams = list(session.scalars(select(Department).where(Department.kind == "enforcement_team",
                                                          Department.active.is_(True)).order_by(Department.id)))
    if not teams:
        raise Conflict("no_enforcement_team")
    if len(teams) == 1:
        return teams[0]
    chain = _grid_chain(session, case.grid_code)
    best, best_depth = None, -1
    for team in teams:
        if team.grid_code and team.grid_code in chain:
            depth = len(chain) - chain.index(team.grid_code)
            if depth > best_depth:
                best, best_depth = team, depth
    if best is not None:
        return best
    return next((t for t in teams if not t.grid_code), teams[0])


def _grid_chain(session, code: str | None) -> list[str]:
    """The grid's code and its ancestors' codes, from the grid itself upwards."""
    chain: list[str] = []
    while code and code not in chain and len(chain) < 20:
        chain.append(code)
        code = session.scalar(select(Grid.parent_code).where(Grid.code == code)
                              .order_by(Grid.valid_to.is_(None).desc(), Grid.id.desc()).limit(1))
    return chain


def _group_for(session, case: Case, team: Department, now: datetime) -> tuple[EnforcementGroup, bool]:
    """Join an open group of the same team at the same place whose window overlaps this
    referral's window (extending it), else start a new group."""
    s = settings()
    window_end = now + timedelta(days=s.enforcement_group_days)
    if session.get_bind().dialect.name == "postgresql":
        # two referrals at once must not both start a group at the same shop
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('wangge.enforcement_group'))"))
    open_member = select(EnforcementCase.id).where(EnforcementCase.group_id == EnforcementGroup.id,
                                                   EnforcementCase.team_id == team.id,
                                                   EnforcementCase.closed_at.is_(None))
    query = select(EnforcementGroup).where(EnforcementGroup.window_ends_at >= now,
                                           EnforcementGroup.opened_at <= window_end, open_member.exists())
    best = None
    if case.lon is not None and case.lat is not None:
        radius = float(s.enforcement_group_distance_m)
        dlat = radius / 111_000 + 1e-6
        dlon = radius / (111_000 * max(math.cos(math.radians(case.lat)), 0.01)) + 1e-6
        candidates = session.scalars(query.where(
            EnforcementGroup.lon.between(case.lon - dlon, case.lon + dlon),
            EnforcementGroup.lat.between(case.lat - dlat, case.lat + dlat)).order_by(EnforcementGroup.id))
        best_d = radius
        for group in candidates:
            d = distance_m(case.lon, case.lat, group.lon, group.lat)
            if d <= best_d:
                best, best_d = group, d
    elif case.address and case.address.strip():
        # no coordinates: only the very same address counts as the same place
        best = session.scalar(query.where(EnforcementGroup.lon.is_(None),
                                          EnforcementGroup.address == case.address.strip())
                              .order_by(EnforcementGroup.id).limit(1))
    if best is not None:
        if best.window_ends_at < window_end:
            best.window_ends_at = window_end
        return best, True
    group = EnforcementGroup(lon=case.lon, lat=case.lat, address=(case.address or "").strip() or None,
                             opened_at=now, window_ends_at=window_end)
    session.add(group)
    session.flush()
    return group, False


# --- stages -----------------------------------------------------------------------------

def _enter_stage(session, enf: EnforcementCase, stage: str, now: datetime) -> None:
    enf.stage, enf.stage_started_at = stage, now
    if stage == CLOSED:
        enf.stage_warn_at = enf.stage_due_at = None
        return
    limit = limit_for(session, enf.parent.category_code or EVERYWHERE, f"enf_{stage}")
    cal = work_calendar(session)
    enf.stage_due_at = cal.add(now, limit.amount, limit.unit)
    enf.stage_warn_at = cal.add(now, limit.amount * WARN_FRACTION, limit.unit)


def stage_limit(session, enf: EnforcementCase):
    if enf.stage == CLOSED:
        return None
    return limit_for(session, enf.parent.category_code or EVERYWHERE, f"enf_{enf.stage}")


def light(enf: EnforcementCase, now: datetime | None = None) -> str | None:
    """green under 80% of the stage's limit, yellow from 80% to 100%, red when exceeded."""
    if enf.stage == CLOSED or enf.stage_due_at is None:
        return None
    now = now or utcnow()
    if now > enf.stage_due_at:
        return "red"
    if enf.stage_warn_at is not None and now >= enf.stage_warn_at:
        return "yellow"
    return "green"


def is_team_leader(staff: Staff, enf: EnforcementCase) -> bool:
    return staff.has_role(R.ENFORCEMENT_LEADER) and staff.department_id == enf.team_id


def is_assigned(staff: Staff, enf: EnforcementCase) -> bool:
    return any(o.staff_id == staff.id for o in enf.officers)


def _check_team(staff: Staff, enf: EnforcementCase) -> None:
    if staff.department_id != enf.team_id:
        raise Forbidden("not_your_team", number=enf.number)


def _check_open(enf: EnforcementCase) -> None:
    if enf.stage == CLOSED:
        raise Conflict("enforcement_closed", number=enf.number)


def _check_version(enf: EnforcementCase, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != enf.version:
        raise Conflict("enforcement_conflict", number=enf.number)


def assign_officers(session, enf: EnforcementCase, staff: Staff, staff_ids: list[int], *,
                    whole_group: bool = False, expected_version: int | None = None) -> list[EnforcementCase]:
    """The team leader names the officers (replacing the previous list). With
    ``whole_group`` the same officers take every open case of the group: one visit."""
    if not staff.has_role(R.ENFORCEMENT_LEADER):
        raise Forbidden("assign_leader_only")
    _check_team(staff, enf)
    _check_open(enf)
    _check_version(enf, expected_version)
    ids = list(dict.fromkeys(staff_ids))
    if not ids:
        raise validation_error({"staff_ids": [t("name_an_officer")]})
    problems = []
    for staff_id in ids:
        person = session.get(Staff, staff_id)
        if person is None or not person.active or not person.has_role(R.ENFORCEMENT_OFFICER) \
                or person.department_id != enf.team_id:
            problems.append(t("not_an_officer_of", staff_id=staff_id, team=enf.team.name))
    if problems:
        raise validation_error({"staff_ids": problems})
    targets = [enf]
    if whole_group and enf.group_id is not None:
        targets += [c for c in session.scalars(select(EnforcementCase).where(
            EnforcementCase.group_id == enf.group_id, EnforcementCase.id != enf.id,
            EnforcementCase.team_id == enf.team_id, EnforcementCase.stage != CLOSED).order_by(EnforcementCase.id))]
    now = utcnow()
    for target in targets:
        before = [o.staff_id for o in target.officers]
        added = [i for i in ids if i not in before]
        removed = [i for i in before if i not in ids]
        if not added and not removed:
            continue
        target.officers = [o for o in target.officers if o.staff_id in ids] + \
            [EnforcementOfficer(enforcement_id=target.id, staff_id=i) for i in added]
        flag_modified(target, "stage")  # bump the version: the officers are part of the case
        record = EnforcementRecord(enforcement_id=target.id, kind="assignment", from_stage=target.stage,
                                   to_stage=target.stage, actor_id=staff.id, at=now, attachment_ids=[],
                                   data={"staff_ids": ids, "added": added, "removed": removed,
                                         "with_group": target is not enf})
        session.add(record)
        session.flush()
        if added:
            recipients = [notify.staff_recipient(session.get(Staff, i)) for i in added]
            _notify(session, f"enforcement:{target.id}:officers:{record.id}", "enforcement_assigned", target,
                    recipients, *both("notify_enforcement_assigned",
                                      where=target.parent.address or target.parent.number))
    return targets


def advance(session, enf: EnforcementCase, staff: Staff, to_stage: str, *, note: str | None = None,
            penalty_amount: float | None = None, attachments: list[int] | None = None,
            expected_version: int | None = None) -> EnforcementRecord:
    """Move the case to the next stage, recording what the stage it leaves produced."""
    attachments = list(attachments or [])
    _check_team(staff, enf)
    _check_open(enf)
    _check_version(enf, expected_version)
    current = enf.stage
    expected = NEXT[current]
    if to_stage != expected:
        raise Conflict("enforcement_out_of_order", number=enf.number, stage=stage_name(current),
                       next=stage_name(expected), to=stage_name(to_stage))
    if current in LEADER_STAGES and not is_team_leader(staff, enf):
        raise Forbidden("enforcement_leader_only", stage=stage_name(current))
    if current in OFFICER_STAGES and not is_assigned(staff, enf):
        raise Forbidden("not_assigned_officer", number=enf.number)
    if current == "accept" and not enf.officers:
        raise Conflict("officers_first", number=enf.number)
    note = (note or "").strip() or None
    errors = {}
    if current in NOTE_REQUIRED and note is None:
        errors["note"] = [t({"investigate": "required_findings", "decide": "required_decision",
                               "execute": "required_execution", "close": "required_outcome"}[current])]
    if penalty_amount is not None:
        if current != "decide":
            errors["penalty_amount"] = [t("penalty_only_with_decision")]
        elif not (isinstance(penalty_amount, int | float) and math.isfinite(penalty_amount)
                  and penalty_amount >= 0):
            errors["penalty_amount"] = [t("must_be_non_negative")]
    if errors:
        raise validation_error(errors)
    _check_attachments(session, staff, enf, attachments)

    now = utcnow()
    late = enf.stage_due_at is not None and now > enf.stage_due_at
    data = {"due_at": _iso(enf.stage_due_at), "late": late}
    if current == "decide":
        enf.decision = note
        enf.penalty_amount = penalty_amount
        data["penalty_amount"] = penalty_amount
    record = EnforcementRecord(enforcement_id=enf.id, kind=RECORD_KIND[current], from_stage=current,
                               to_stage=to_stage, actor_id=staff.id, at=now, note=note, data=data,
                               attachment_ids=attachments)
    session.add(record)
    _attach(session, enf, attachments)
    _enter_stage(session, enf, to_stage, now)
    if to_stage == CLOSED:
        enf.outcome, enf.closed_at = note, now
    session.flush()  # the version check: a concurrent change raises StaleDataError
    if to_stage == CLOSED:
        _return_to_parent(session, enf, note)
    elif to_stage == "close":
        _notify(session, f"enforcement:{enf.id}:to_close", "enforcement_to_close", enf,
                notify.with_role(session, R.ENFORCEMENT_LEADER, enf.team_id),
                *both("notify_enforcement_to_close"))
    return record


def _return_to_parent(session, enf: EnforcementCase, outcome: str) -> None:

    parent = enf.parent
    act(session, parent, "enforcement_result", Actor(None, "system"),
        Payload(note=outcome, data={"enforcement_number": enf.number, "decision": enf.decision,
                                    "penalty_amount": enf.penalty_amount}))
    recipients = notify.with_role(session, R.INTAKE_CLERK)
    if enf.referred_by is not None:
        referrer = session.get(Staff, enf.referred_by)
        if referrer is not None and referrer.active and all(r["id"] != referrer.id for r in recipients):
            recipients.append(notify.staff_recipient(referrer))
    _notify(session, f"enforcement:{enf.id}:closed", "enforcement_closed", enf, recipients,
            *both("notify_enforcement_closed", number=parent.number, outcome=outcome))


def add_record(session, enf: EnforcementCase, staff: Staff, kind: str, note: str | None,
               attachments: list[int] | None = None, expected_version: int | None = None) -> EnforcementRecord:
    """A finding (during 调查取证) or a note, without changing the stage."""
    attachments = list(attachments or [])
    _check_team(staff, enf)
    _check_open(enf)
    _check_version(enf, expected_version)
    if not (is_team_leader(staff, enf) or is_assigned(staff, enf)):
        raise Forbidden("not_assigned_officer", number=enf.number)
    note = (note or "").strip() or None
    errors = {}
    if kind not in RECORD_KINDS:
        errors["kind"] = [t("must_be_one_of", choices=", ".join(RECORD_KINDS))]
    elif kind == "finding" and enf.stage != "investigate":
        errors["kind"] = [t("findings_only_during", stage=stage_name("investigate"))]
    if note is None and not attachments:
        errors["note"] = [t("required_or_attachments")]
    if errors:
        raise validation_error(errors)
    _check_attachments(session, staff, enf, attachments)
    record = EnforcementRecord(enforcement_id=enf.id, kind=kind, from_stage=enf.stage, to_stage=enf.stage,
                               actor_id=staff.id, at=utcnow(), note=note, data={}, attachment_ids=attachments)
    session.add(record)
    _attach(session, enf, attachments)
    session.flush()
    return record


def _check_attachments(session, staff: Staff, enf: EnforcementCase, ids: list[int]) -> None:
    """Each exists and is either unattached and uploaded by the actor, or already the
    parent case's."""
    problems = []
    for attachment_id in ids:
        a = session.get(Attachment, attachment_id)
        if a is None:
            problems.append(t("no_attachment", id=attachment_id))
        elif a.case_id is not None and a.case_id != enf.parent_case_id:
            problems.append(t("attachment_other_case", id=attachment_id))
        elif a.case_id is None and a.uploaded_by not in (None, staff.id):
            problems.append(t("attachment_other_uploader", id=attachment_id))
    if problems:
        raise validation_error({"attachments": problems})


def _attach(session, enf: EnforcementCase, ids: list[int]) -> None:
    # Attachments belong to the parent case, so whoever may see it may see the evidence.
    for attachment_id in ids:
        session.get(Attachment, attachment_id).case_id = enf.parent_case_id


# --- reading ----------------------------------------------------------------------------

def visible(staff: Staff):
    """A WHERE clause on EnforcementCase for this staff member (None: all)."""

    if staff.has_role(*SEE_ALL):
        return None
    clauses = []
    if staff.has_role(*ENFORCEMENT_ROLES) and staff.department_id:
        clauses.append(EnforcementCase.team_id == staff.department_id)
    if staff.has_role(R.DEPARTMENT_HANDLER) and staff.department_id:
        clauses.append(EnforcementCase.parent_case_id.in_(
            select(Case.id).where(Case.department_id == staff.department_id)))
    return or_(*clauses) if clauses else false()


def get_enforcement(session, staff: Staff, number: str, *, for_update: bool = False) -> EnforcementCase:
    """The enforcement case by number. Another team's enforcement staff get 403 (they know
    the case exists: it is on the same street); everyone else who may not see it, 404."""
    enf = session.scalar(select(EnforcementCase).where(EnforcementCase.number == number))
    if enf is None:
        raise NotFound("enforcement_case", number)
    clause = visible(staff)
    if clause is not None and session.scalar(select(EnforcementCase.id).where(
            EnforcementCase.id == enf.id, clause)) is None:
        if staff.has_role(*ENFORCEMENT_ROLES):
            raise Forbidden("not_your_team", number=number)
        raise NotFound("enforcement_case", number)
    return enf


def group_members(session, group_id: int) -> list[EnforcementCase]:
    return list(session.scalars(select(EnforcementCase).where(EnforcementCase.group_id == group_id)
                                .order_by(EnforcementCase.id)))


def get_group(session, staff: Staff, group_id: int) -> tuple[EnforcementGroup, list[EnforcementCase]]:
    group = session.get(EnforcementGroup, group_id)
    if group is None:
        raise NotFound("enforcement_group", group_id)
    members = group_members(session, group_id)
    clause = visible(staff)
    if clause is not None:
        ids = set(session.scalars(select(EnforcementCase.id).where(EnforcementCase.group_id == group_id, clause)))
        members = [m for m in members if m.id in ids]
    if not members:
        raise NotFound("enforcement_group", group_id)
    return group, members


# --- deadlines --------------------------------------------------------------------------

def sweep(session, *, now: datetime | None = None, limit: int = 10_000) -> dict:
    """Warn the team about stages at 80% of their limit and escalate overdue ones; each
    notification once per enforcement case, stage entry and kind (the outbox key)."""
    now = now or utcnow()
    counts = {"warnings": 0, "overdue": 0}
    rows = session.scalars(select(EnforcementCase).where(EnforcementCase.stage != CLOSED,
                                                         EnforcementCase.stage_warn_at <= now)
                           .order_by(EnforcementCase.stage_warn_at).limit(limit))
    for enf in rows:
        kind = "overdue" if enf.stage_due_at is not None and enf.stage_due_at <= now else "warning"
        key = f"enforcement:{enf.id}:{enf.stage}:{enf.stage_started_at.timestamp():.0f}:{kind}"
        if enf.stage in OFFICER_STAGES and enf.officers:
            recipients = [notify.staff_recipient(o.staff) for o in enf.officers]
        else:
            recipients = notify.with_role(session, R.ENFORCEMENT_LEADER, enf.team_id)
        if kind == "overdue":
            recipients += [r for r in notify.with_role(session, R.ENFORCEMENT_LEADER, enf.team_id)
                           if r not in recipients]
        zh = t(f"notify_deadline_{kind}", lang="zh", stage=stage_name(enf.stage, "zh"))
        en = t(f"notify_deadline_{kind}", lang="en", stage=enf.stage)
        if _notify(session, key, f"enforcement_deadline_{kind}", enf, recipients, zh, en,
                   due_at=_iso(enf.stage_due_at)) is not None:
            counts["warnings" if kind == "warning" else "overdue"] += 1
    session.flush()
    return counts


# --- helpers ----------------------------------------------------------------------------

def _notify(session, key: str, template: str, enf: EnforcementCase, recipients: list[dict], zh: str, en: str,
            **extra):
    if not recipients:
        return None
    payload = {"template": template, "case": enf.number, "enforcement_id": enf.id,
               "parent_case": enf.parent.number if enf.parent else None,
               "text_zh": f"【{enf.number}】{zh}", "text_en": f"[{enf.number}] {en}", "recipients": recipients,
               **extra}
    return notify.add(session, key, "enforcement", payload)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def refer_effect(session, case, actor, payload, data, target):
    """The side effect of the case verb ``refer_enforcement`` (registered by ``dispatch.init_app``)."""
    enforcement = refer(session, case, actor, payload.note)
    data["enforcement_number"] = enforcement.number
