"""Referral to the enforcement team (移交综合执法, 一队伍).

A department handler or the dispatcher refers a case (verb ``refer_enforcement``); the
parent case waits in ``enforcement`` while the team runs an enforcement case of its own
through 受理 -> 调查取证 -> 处罚决定 -> 执行 -> 结案, each stage with its own limit
(``enf_<stage>`` in the category's time limits) over the work calendar. The team leader
accepts, assigns officers and closes; the assigned officers investigate, decide and
execute. The stages, who completes each and what it needs are the table in
``dispatch.enforcement.lifecycle``; each stage's clock is a stage clock like a case's
(``dispatch.clocks``: the work calendar, the 80% warning, the lights and the one sweep).
Every step leaves an append-only record. Closing writes the outcome and hands
the parent back (verb ``enforcement_result``, role ``system``) to be checked like any
other case.

Referrals of one team at one place (``enforcement_group_distance_m``) whose windows
(``enforcement_group_days`` from the referral) overlap share a group: one visit handles
them, and the leader sees them together. Closing one member never closes the others.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm.attributes import flag_modified

from dispatch.attachments.models import Attachment
from dispatch.attachments.service import note_photos
from dispatch.cases.models import Case
from dispatch.clocks import deadlines
from dispatch.clocks.models import StageClock
from dispatch.enforcement.lifecycle import (
    CLOSED,
    MAY_CARRY,
    RECORD_KIND,
    RECORD_KINDS,
    STAGES,
    STATE_STAGE,
    VERBS,
    advancing,
    verb_to,
)
from dispatch.enforcement.models import (
    EnforcementCase,
    EnforcementGroup,
    EnforcementOfficer,
    EnforcementRecord,
)
from dispatch.notifications import notify
from dispatch.workflow.actions import Actor, Payload, act
from geo.area import distance_m
from grid import roles as R
from grid.catalog.limits import limit_for
from grid.models import EVERYWHERE, Department, Grid, Staff, StaffRole
from wangge.config import current_settings
from wangge.errors import Conflict, Forbidden, validation_error
from wangge.i18n import both, t
from wangge.present import local_iso
from wangge.timeutil import utcnow

# The catalog message for a step's missing note (what the note is).
NOTE_MISSING = {"investigate": "required_findings", "decide": "required_decision", "execute": "required_execution",
                "close": "required_outcome"}



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
    group, joined = _group_for(session, case, team, now)
    enf.group_id, enf.group = group.id, group
    session.add(enf)
    started = _enter_stage(session, enf, STAGES[0], now)
    session.flush()
    session.add(EnforcementRecord(
        enforcement_id=enf.id, kind="referral", from_stage=None, to_stage=STAGES[0], actor_id=actor.id, at=now,
        note=enf.reason, attachment_ids=[],
        data={"parent": case.number, "role": actor.role, "team": team.code, "group_id": group.id,
              "joined_group": joined, "due_at": _iso(started.due_at)}))
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
    s = current_settings()
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

def _enter_stage(session, enf: EnforcementCase, stage: str, now: datetime) -> StageClock | None:
    """End the running stage's clock and start the new stage's (none once closed)."""
    if enf.id is not None:
        running = deadlines.current_clock(session, enf)
        if running is not None:
            deadlines.end_clock(running, at=now)
    enf.stage, enf.stage_started_at = stage, now
    if stage not in STATE_STAGE:
        return None
    session.flush()  # the clock points at the enforcement case: it needs its id
    return deadlines.start_clock(session, enf, STATE_STAGE[stage], at=now)


def stage_limit(session, enf: EnforcementCase):
    if enf.stage not in STATE_STAGE:
        return None
    return limit_for(session, enf.parent.category_code or EVERYWHERE, STATE_STAGE[enf.stage])


def clock(session, enf: EnforcementCase) -> StageClock | None:
    """The running stage's clock (None once closed)."""
    return deadlines.current_clock(session, enf)


def light(clock: StageClock | None, now: datetime | None = None) -> str | None:
    """green under 80% of the stage's limit, yellow from 80% to 100%, red when exceeded
    (the case clocks' light)."""
    return deadlines.light(clock, now)


def may_advance(staff: Staff, enf: EnforcementCase) -> bool:
    """Whether ``staff`` may use the verb that completes the current stage."""
    return staff.department_id == enf.team_id and any(_may(staff, enf, v) for v in advancing(enf.stage))


def next_stage(stage: str) -> str | None:
    verbs = advancing(stage)
    return verbs[0].target if verbs else None


def _may(staff: Staff, enf: EnforcementCase, verb) -> bool:
    """The table's roles: the team's leader, or an officer assigned to this case."""
    return (R.ENFORCEMENT_LEADER in verb.roles and is_team_leader(staff, enf)) or \
        (R.ENFORCEMENT_OFFICER in verb.roles and is_assigned(staff, enf))


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


def assignable_officers(session, team_id: int | None) -> list[Staff]:
    """Whom a team leader may name (``assign_officers``): the team's active enforcement officers."""
    if team_id is None:
        return []
    return list(session.scalars(select(Staff).join(StaffRole).where(
        StaffRole.role == R.ENFORCEMENT_OFFICER, Staff.active.is_(True), Staff.department_id == team_id)
        .order_by(Staff.name, Staff.id)))


def assign_officers(session, enf: EnforcementCase, staff: Staff, staff_ids: list[int], *,
                    whole_group: bool = False, expected_version: int | None = None) -> list[EnforcementCase]:
    """The team leader names the officers (replacing the previous list). With
    ``whole_group`` the same officers take every open case of the group: one visit."""
    if not staff.has_role(*VERBS["assign_officers"].roles):
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
    verb = verb_to(current, to_stage)
    if verb is None:  # not in the table: skipping a stage or going back
        raise Conflict("enforcement_out_of_order", number=enf.number, stage=stage_name(current),
                       next=stage_name(next_stage(current)), to=stage_name(to_stage))
    if not _may(staff, enf, verb):
        if R.ENFORCEMENT_LEADER in verb.roles:
            raise Forbidden("enforcement_leader_only", stage=stage_name(current))
        raise Forbidden("not_assigned_officer", number=enf.number)
    if "officers" in verb.requires and not enf.officers:
        raise Conflict("officers_first", number=enf.number)
    note = (note or "").strip() or None
    errors = {}
    if "note" in verb.requires and note is None:
        errors["note"] = [t(NOTE_MISSING.get(verb.name, "required_for_action"))]
    if penalty_amount is not None:
        if "penalty_amount" not in MAY_CARRY.get(verb.name, ()):
            errors["penalty_amount"] = [t("penalty_only_with_decision")]
        elif not (isinstance(penalty_amount, int | float) and math.isfinite(penalty_amount)
                  and penalty_amount >= 0):
            errors["penalty_amount"] = [t("must_be_non_negative")]
    if errors:
        raise validation_error(errors)
    _check_attachments(session, staff, enf, attachments)

    now = utcnow()
    running = deadlines.current_clock(session, enf)
    due_at = running.due_at if running is not None else None
    data = {"due_at": _iso(due_at), "late": due_at is not None and now > due_at}
    if "penalty_amount" in MAY_CARRY.get(verb.name, ()):  # the decision
        enf.decision = note
        enf.penalty_amount = penalty_amount
        data["penalty_amount"] = penalty_amount
    record = EnforcementRecord(enforcement_id=enf.id, kind=RECORD_KIND[verb.name], from_stage=current,
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
    if not _may(staff, enf, VERBS["note"]):
        raise Forbidden("not_assigned_officer", number=enf.number)
    note = (note or "").strip() or None
    errors = {}
    if kind not in RECORD_KINDS:
        errors["kind"] = [t("must_be_one_of", choices=", ".join(RECORD_KINDS))]
    elif enf.stage not in VERBS[kind].sources:
        errors["kind"] = [t("findings_only_during", stage=" / ".join(stage_name(s) for s in VERBS[kind].sources))]
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
        elif a.case_id is None and a.uploaded_by != staff.id:  # never a citizen's upload (no uploader)
            problems.append(t("attachment_other_uploader", id=attachment_id))
    if problems:
        raise validation_error({"attachments": problems})


def _attach(session, enf: EnforcementCase, ids: list[int]) -> None:
    # Attachments belong to the parent case, so whoever may see it may see the evidence.
    for attachment_id in ids:
        session.get(Attachment, attachment_id).case_id = enf.parent_case_id
    if ids:
        note_photos(session, enf.parent_case_id, True)


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
