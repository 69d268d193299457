"""Acting on a case: every verb goes through ``act``, which checks the lifecycle table,
applies the verb's side effects, moves the stage clocks, appends one immutable event and
writes the notifications, all in the caller's transaction (the edge commits)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from dispatch.attachments.service import check_attachable, link
from dispatch.cases.lifecycle import (
    CITIZEN,
    OPEN_STATES,
    PAUSED_STATES,
    RESUME,
    SAME,
    STATE_STAGE,
    SYSTEM,
    VERBS,
    Verb,
)
from dispatch.cases.models import RATINGS, Case, CaseEvent
from dispatch.cases.scope import CASE_FOR_ACTION
from dispatch.clocks import deadlines
from dispatch.notifications import notify
from dispatch.workflow import writes
from grid import roles as R
from grid.catalog import reference
from grid.departments.service import NOT_DISPATCHABLE, not_dispatchable_message
from grid.grids.service import workers_of
from grid.models import Department, Staff
from wangge.auth import role_names
from wangge.config import current_settings
from wangge.errors import ApiError, NotFound, validation_error
from wangge.i18n import t
from wangge.instances import filled
from wangge.timeutil import utcnow


@dataclass
class Actor:
    staff: Staff | None
    role: str
    label: str | None = None  # e.g. a citizen's name

    @property
    def id(self):
        return self.staff.id if self.staff else None


@dataclass
class Payload:
    note: str | None = None
    outcome: str | None = None
    department_code: str | None = None
    assignee_id: int | None = None
    amount: float | None = None
    review_date: date | None = None
    rating: str | None = None
    into: str | None = None
    # what reclassify (category_code) and relocate (lon, lat WGS-84, grid_code, address) take
    category_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    grid_code: str | None = None
    address: str | None = None
    attachments: list[int] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def present(self, name: str) -> bool:
        value = getattr(self, name)
        return bool(value) if isinstance(value, list | str) else value is not None



# Payload fields that one verb alone takes: any other verb refuses them (422 naming the field)
# rather than dropping what the caller meant to change.
VERB_ONLY_FIELDS = {"category_code": "reclassify", "lon": "relocate", "lat": "relocate", "grid_code": "relocate",
                    "address": "relocate"}


def state_name(state: str, lang: str | None = None) -> str:
    """The state's words in the reader's language (catalog ``state_<state>``)."""
    return t(f"state_{state}", lang=lang)


def verb_name_for_user(verb: Verb, lang: str | None = None) -> str:
    """The verb's words in the reader's language (catalog ``verb_<name>``)."""
    return t(f"verb_{verb.name}", lang=lang)


def choose_role(staff: Staff, verb: Verb, requested: str | None) -> str:
    """The role the staff member acts in: the one asked for, else the first that fits."""
    mine = set(staff.roles)
    if requested:
        if requested not in mine:
            raise ApiError("forbidden_role", status=403, roles=requested)
        return requested
    for role in verb.roles:
        if role in mine:
            return role
    raise ApiError("forbidden_role", status=403, roles=role_names(verb.roles))


# Verbs that only one person may use, whatever their roles: the case's assignee (the grid
# worker sent to verify or check) or its reporter (a worker handling their own report).
ASSIGNEE_VERBS = ("verify", "check")
REPORTER_VERBS = ("self_handle",)


def _not_your_department(case: Case, verb: Verb, role: str, staff: Staff | None) -> bool:
    return verb.own_department and role == R.DEPARTMENT_HANDLER and \
        (staff is None or staff.department_id != case.department_id)


def _not_assigned(case: Case, staff: Staff | None) -> bool:
    return staff is None or case.assignee_id != staff.id


def _not_reporter(case: Case, staff: Staff | None) -> bool:
    return staff is None or case.reporter_staff_id != staff.id


def _usable(case: Case, verb: Verb, role: str, staff: Staff) -> bool:
    """The checks ``act`` makes of the person, beyond the lifecycle table's roles and states."""
    if _not_your_department(case, verb, role, staff):
        return False
    if verb.name in ASSIGNEE_VERBS and _not_assigned(case, staff):
        return False
    return not (verb.name in REPORTER_VERBS and _not_reporter(case, staff))


def allowed_verbs(case: Case, staff: Staff) -> list[str]:
    """The verbs ``staff`` may use on the case now: the lifecycle table's for the case's state
    and the person's roles, less those ``act`` would refuse them (another department's case,
    a task assigned to someone else, a report they did not make). One rule for the case API,
    the phone's inbox and its sync."""
    mine = set(staff.roles)
    return [v.name for v in VERBS.values() if case.state in v.sources
            and any(_usable(case, v, role, staff) for role in mine.intersection(v.roles))]


def act(session, case: Case, verb_name: str, actor: Actor, payload: Payload | None = None,
        *, expected_version: int | None = None) -> CaseEvent:
    payload = payload or Payload()
    verb = VERBS.get(verb_name)
    if verb is None:
        raise ApiError("unknown_verb", status=404, verb=verb_name)
    if actor.role not in verb.roles:
        raise ApiError("verb_forbidden", status=403, verb=verb_name_for_user(verb), roles="、".join(verb.roles))
    if actor.staff is not None and actor.role not in (SYSTEM, CITIZEN) and not actor.staff.has_role(actor.role):
        raise ApiError("forbidden_role", status=403, roles=actor.role)
    if expected_version is not None and expected_version != case.version:
        raise ApiError("stale_case", status=409, number=case.number)
    if case.state not in verb.sources:
        raise ApiError("verb_not_allowed", status=409, verb=verb_name_for_user(verb), state=state_name(case.state))
    missing = [name for name in verb.requires if not payload.present(name)]
    if missing:
        raise validation_error({name: [t("required_for_action")] for name in missing})
    foreign = {name: [t("field_not_for_verb", verb=verb_name_for_user(VERBS[owner]))]
               for name, owner in VERB_ONLY_FIELDS.items() if owner != verb.name and getattr(payload, name) is not None}
    if foreign:
        raise validation_error(foreign)
    if verb.outcomes and payload.outcome not in verb.outcomes:
        raise validation_error({"outcome": [t("must_be_one_of", choices=", ".join(verb.outcomes))]})
    if _not_your_department(case, verb, actor.role, actor.staff):
        raise ApiError("not_your_department", status=403, number=case.number)

    # One flush for the whole change (case, clocks, event), not one more before each query the
    # checks and clocks make: they read only what the request has not changed.
    with session.no_autoflush:
        check_attachable(session, actor.staff, payload.attachments, case)

        from_state = case.state
        target = verb.target_for(payload.outcome)
        if target == RESUME:
            target = case.resume_state or from_state
        elif target == SAME:
            target = from_state
        event_data: dict = dict(payload.data)
        effect = EFFECTS.get(verb.name)
        if effect is not None:
            target = effect(session, case, actor, payload, event_data, target) or target

        now = utcnow()
        case.state = target
        if from_state in ("return_requested", "void_requested") and target != from_state:
            case.resume_state = None
        if target == "closed" and from_state != "closed":
            case.closed_at = now
        clock_change = _move_clocks(session, case, from_state, target, verb, now, event_data.pop("_clock", None))
        if clock_change:
            event_data["clock"] = clock_change
        auto_dispatch = event_data.pop("_auto_dispatch", False)
        event = filled(CaseEvent, case_id=case.id, verb=verb.name, actor_id=actor.id, actor_role=actor.role, at=now,
                       from_state=from_state, to_state=target,
                       department_id=event_data.pop("_department_id", case.department_id),
                       note=payload.note, data=event_data, attachment_ids=list(payload.attachments))
        session.add(event)
        link(session, case, event, payload.attachments)  # case, event, kind and photo flags
    writes.flush(session, case)  # the version check happens here: a concurrent change raises StaleDataError
    notify.notify_event(session, case, event)
    if target == "closed" and from_state != "closed":  # close, and self_handle of a report others joined
        _close_merged(session, case)
    if target in ("voided", "rejected"):
        _release_merged(session, case, target)
    if verb.name == "open" or auto_dispatch:  # auto_dispatch: a correction changed the suggestion
        _auto_dispatch(session, case)
    return event


def _move_clocks(session, case: Case, from_state: str, to_state: str, verb: Verb, now,
                 change: str | None = None) -> dict | None:
    """Move the stage clocks from ``from_state`` to ``to_state``. ``change`` (a verb's side
    effect asks for it): ``restart`` the running clock although the stage stays (the task went
    to someone else), or ``rearm`` it (the category's limit may have changed: the stage keeps
    its start, ``deadlines.rearm``); answers what a re-arm changed, for the event."""
    clock = deadlines.current_clock(session, case)
    stage = STATE_STAGE.get(to_state)
    if to_state in PAUSED_STATES:
        if clock is not None:
            deadlines.pause(session, clock, at=now)
        return None
    if from_state in PAUSED_STATES and clock is not None and clock.stage == stage:
        deadlines.resume(session, clock, at=now)
        return None
    if to_state in ("return_requested", "void_requested"):
        return None  # the running clock keeps running while the request waits
    if clock is not None and clock.stage == stage and not (verb.restarts_clock or change == "restart"):
        return deadlines.rearm(session, case, clock, at=now) if change == "rearm" else None
    if clock is not None:
        deadlines.end_clock(clock, at=now)
    if stage is not None:
        deadlines.start_clock(session, case, stage, at=now)
    return None


# --- side effects per verb -------------------------------------------------------------

def _department(session, code: str) -> Department:
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise NotFound("department", code)
    if not dept.active:
        raise validation_error({"department_code": [t("department_inactive", code=code)]})
    return dept


def _assign_worker(session, case, actor, payload, data, target):
    if payload.assignee_id is not None:
        worker = session.get(Staff, payload.assignee_id)
        if worker is None or not worker.has_role(R.GRID_WORKER):
            raise validation_error({"assignee_id": [t("must_be_grid_worker")]})
    else:
        workers = workers_of(session, case.grid_code) if case.grid_code else []
        if not workers:
            raise validation_error({"assignee_id": [t("grid_has_no_worker")]})
        worker = workers[0]
    case.assignee_id = worker.id
    set_committed_value(case, "assignee", worker)  # the column is what is written (``writes``)
    data["assignee_id"] = worker.id


def _assignee_only(session, case, actor, payload, data, target):
    if _not_assigned(case, actor.staff):
        raise ApiError("not_assigned", status=403, number=case.number)


def _dispatch(session, case, actor, payload, data, target):
    if payload.department_code:
        dept = _department(session, payload.department_code)
    elif case.suggested_department_id:  # the matrix's suggestion: from the reference cache
        dept = reference.department(session, case.suggested_department_id) \
            or session.get(Department, case.suggested_department_id)
    else:
        raise validation_error({"department_code": [t("no_suggested_department")]})
    if dept.kind == "enforcement_team":
        raise ApiError("use_refer_enforcement", status=422, department=dept.name,
                       fields={"department_code": [f"{dept.code} is the enforcement team; use refer_enforcement"]})
    if dept.kind in NOT_DISPATCHABLE:
        raise validation_error({"department_code": [not_dispatchable_message(dept.kind, dept.code)]})
    if case.department_id and case.department_id != dept.id:
        data["previous_department_id"] = case.department_id
    case.department_id = dept.id
    if "department" in case.__dict__:  # loaded with the case: kept right, not a change to write
        set_committed_value(case, "department", session.get(Department, dept.id))
    data["department_code"] = dept.code
    data["overrides_suggestion"] = dept.id != case.suggested_department_id


def _remember_state(session, case, actor, payload, data, target):
    case.resume_state = case.state


def _rule_return(session, case, actor, payload, data, target):
    data["returned_department_id"] = case.department_id
    data["_department_id"] = case.department_id
    if payload.outcome == "accept":
        case.department_id = None
        if "department" in case.__dict__:
            set_committed_value(case, "department", None)


def _request_extension(session, case, actor, payload, data, target):
    decisions = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                       CaseEvent.verb == "decide_extension"))
    approved = sum(1 for e in decisions if e.data.get("outcome") == "approve")
    if approved >= current_settings().max_extensions:
        raise ApiError("extension_limit", status=409, limit=current_settings().max_extensions)
    if payload.amount is not None and payload.amount <= 0:
        raise validation_error({"amount": [t("must_be_positive")]})
    clock = deadlines.current_clock(session, case)
    data["amount"] = payload.amount if payload.amount is not None else (clock.amount - clock.extended)
    data["unit"] = clock.unit
    deadlines.mark_paused_for_extension(session, clock)


def _decide_extension(session, case, actor, payload, data, target):
    data["outcome"] = payload.outcome
    request = session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                     CaseEvent.verb == "request_extension")
                             .order_by(CaseEvent.id.desc()).limit(1))
    clock = deadlines.current_clock(session, case)
    deadlines.resume(session, clock)
    if payload.outcome == "approve":
        amount = payload.amount or request.data["amount"]
        data["amount"], data["unit"] = amount, clock.unit
        deadlines.extend(session, clock, amount)


def _outcome(session, case, actor, payload, data, target):
    data["outcome"] = payload.outcome


def _request_suspend(session, case, actor, payload, data, target):
    data["review_date"] = payload.review_date.isoformat()
    case.review_date = payload.review_date


def _decide_suspend(session, case, actor, payload, data, target):
    data["outcome"] = payload.outcome
    if payload.outcome != "approve":
        case.review_date = None


def _restore(session, case, actor, payload, data, target):
    case.review_date = None


def _merge(session, case, actor, payload, data, target):
    master_id = session.scalar(select(Case.id).where(Case.number == payload.into))
    if master_id is None:
        raise NotFound("case", payload.into)
    master = _lock_master(session, case, master_id) if master_id != case.id else case
    if master.id == case.id or master.state not in OPEN_STATES:
        # a closed master would never close this one again: its reporter would get no answer
        raise validation_error({"into": [t("must_be_open_case")]})
    case.merged_into_id = master.id
    data["into"] = master.number


def _lock_master(session, child: Case, master_id: int) -> Case:
    """Lock the master (and the child, in id order so two opposite merges cannot deadlock)
    until this transaction ends, and read the master as committed now. A rejection, void or
    closure of the master that committed first is seen here; one that comes later waits for
    this merge and then finds the child among the reports it releases or closes."""
    session.execute(select(Case.id).where(Case.id.in_({child.id, master_id})).order_by(Case.id).with_for_update())
    return session.scalars(select(Case).where(Case.id == master_id)
                           .execution_options(populate_existing=True)).one()


def _merged_into(session, master: Case) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.merged_into_id == master.id, Case.state == "merged")
                                .options(*CASE_FOR_ACTION).order_by(Case.id)))


def _lock(session, case: Case) -> None:
    """Hold the case's row until the transaction ends (a merge into it waits, then sees it)."""
    session.execute(select(Case.id).where(Case.id == case.id).with_for_update())


def _close_merged(session, master: Case) -> None:
    """One handling closes all: every case merged into this one is closed with it (its
    reporters were told with the master's answer)."""
    _lock(session, master)
    for child in _merged_into(session, master):
        act(session, child, "close_with_master", Actor(None, SYSTEM),
            Payload(note=f"closed with {master.number}", data={"with": master.number}))


def _release_merged(session, master: Case, outcome: str) -> None:
    """A master that turns out void or not accepted does not take the reports merged into it
    down with it: they go back to the desk to be triaged on their own."""
    _lock(session, master)
    for child in _merged_into(session, master):
        act(session, child, "unmerge", Actor(None, SYSTEM),
            Payload(note=f"{master.number} was {outcome}", data={"from": master.number}))


def _unmerge(session, case, actor, payload, data, target):
    if case.merged_into_id is not None:
        data.setdefault("from", session.get(Case, case.merged_into_id).number)
    case.merged_into_id = None


def _auto_dispatch(session, case: Case) -> None:
    # the suggested department and the category come from the process's reference cache
    suggested = reference.department(session, case.suggested_department_id)
    if suggested is None or case.state != "opened" or suggested.kind in NOT_DISPATCHABLE or not case.category_code:
        return  # (a kind not dispatchable: a rule from before the matrix refused it)
    category = reference.category(session, case.category_code)
    if category is not None and category.auto_dispatch:
        act(session, case, "dispatch", Actor(None, SYSTEM), Payload(note="auto-dispatch"))


def _self_handle(session, case, actor, payload, data, target):
    if _not_reporter(case, actor.staff):
        raise ApiError("not_reporter", status=403, number=case.number)


def _rate(session, case, actor, payload, data, target):
    if payload.rating not in RATINGS:
        raise validation_error({"rating": [t("must_be_one_of", choices=", ".join(RATINGS))]})
    if case.rating is not None:
        # one rating per closure: a reopen (follow_up) clears it, nothing else does
        raise ApiError("already_rated", status=409, number=case.number)
    case.rating = payload.rating
    data["rating"] = payload.rating


def _follow_up(session, case, actor, payload, data, target):
    if case.rating != "unsatisfied":
        raise ApiError("no_bad_rating", status=409, number=case.number)
    data["outcome"] = payload.outcome
    if payload.outcome == "reopen":
        case.rating = None
        case.closed_at = None


def _supervise(session, case, actor, payload, data, target):
    case.supervised = True


EFFECTS = {
    "request_verify": _assign_worker, "request_check": _assign_worker,
    "verify": lambda *a: (_assignee_only(*a), _outcome(*a))[-1],
    "check": lambda *a: (_assignee_only(*a), _outcome(*a))[-1],
    "dispatch": _dispatch, "redispatch": _dispatch,
    "return": _remember_state, "request_void": _remember_state,
    "rule_return": _rule_return, "decide_void": _outcome,
    "request_extension": _request_extension, "decide_extension": _decide_extension,
    "request_suspend": _request_suspend, "decide_suspend": _decide_suspend, "restore": _restore,
    "merge": _merge, "unmerge": _unmerge, "self_handle": _self_handle, "rate": _rate, "follow_up": _follow_up,
    "supervise": _supervise,
}


def register_effect(verb: str, effect) -> None:
    """A part that builds on cases adds the side effect of a verb it owns (enforcement adds
    ``refer_enforcement``), so cases never import it back."""
    if verb not in VERBS:
        raise ValueError(f"no verb {verb}")
    EFFECTS[verb] = effect


def replay_state(session, case: Case) -> str:
    """The state rebuilt from the event log alone."""
    state = None
    for event in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)):
        if event.from_state != state:
            raise AssertionError(f"event {event.id} starts from {event.from_state}, log says {state}")
        state = event.to_state
    return state
