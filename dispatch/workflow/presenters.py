"""How cases look in API answers (times in the user's zone): the one place that builds case
views. The dicts follow the response schemas of ``dispatch.workflow.schemas``, which the views
declare with ``@blp.response`` (they dump and document them)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm.util import identity_key

from dispatch.attachments.service import case_photos
from dispatch.cases.lifecycle import CITIZEN
from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks import deadlines
from dispatch.clocks.models import StageClock
from dispatch.workflow.actions import allowed_verbs, state_name
from grid.catalog import reference
from grid.matrix.service import reason_text
from grid.models import Department, Staff
from wangge.i18n import current_language, t
from wangge.present import local_iso, user_tz
from wangge.timeutil import utcnow

# Notes a citizen may read on the tracking page: the answers, not internal deliberation.
PUBLIC_NOTES = {"report_back", "close", "reject", "self_handle", "rate", "follow_up"}


def clock_view(clock: StageClock | None, zone: ZoneInfo | None = None, now=None) -> dict | None:
    if clock is None:
        return None
    zone = zone or user_tz()
    return {"stage": clock.stage, "amount": clock.amount, "unit": clock.unit, "extended": clock.extended,
            "started_at": local_iso(clock.started_at, zone), "warn_at": local_iso(clock.warn_at, zone),
            "due_at": local_iso(clock.due_at, zone),
            "paused": clock.segment_started_at is None and clock.ended_at is None,
            "ended_at": local_iso(clock.ended_at, zone), "late": clock.ended_late,
            "light": deadlines.light(clock, now)}


def department_view(session, department_id: int | None) -> dict | None:
    """A department as answers show it, from the process's reference cache (no join, no row)."""
    if department_id is None:
        return None
    info = reference.department(session, department_id)
    if info is None:  # not in the cache (made in this very transaction): the row
        info = session.get(Department, department_id)
    return {"code": info.code, "name": info.name}


def case_summary(case: Case, clock: StageClock | None = None, session=None) -> dict:
    """The case as lists show it; its department from the reference cache when ``session`` is
    given (the queries that load the case for this need not join it), else from the row."""
    if session is not None:
        department = department_view(session, case.department_id)
    else:
        department = case.department and {"code": case.department.code, "name": case.department.name}
    return _summary(case, clock, department, state_name(case.state), user_tz(), utcnow())


def case_summaries(session, cases, clocks: dict) -> list[dict]:
    """A page of cases (rows or objects with the list's columns, ``queue.LIST_COLUMNS``) as
    :func:`case_summary` shows each, with what every row shares looked up once for the page:
    the reader's zone and language, the time, the names of the states and the departments."""
    zone, lang, now = user_tz(), current_language(), utcnow()
    names: dict = {}
    departments: dict = {}
    out = []
    for case in cases:
        state, department_id = case.state, case.department_id
        if state not in names:
            names[state] = state_name(state, lang)
        if department_id not in departments:
            departments[department_id] = department_view(session, department_id)
        out.append(_summary(case, clocks.get(case.id), departments[department_id], names[state], zone, now))
    return out


def _summary(case, clock, department: dict | None, state_words: str, zone: ZoneInfo, now) -> dict:
    return {"number": case.number, "state": case.state, "state_name": state_words,
            "channel": case.channel, "category_code": case.category_code, "grid_code": case.grid_code,
            "department": department,
            "title": case.title, "address": case.address, "lon": case.lon, "lat": case.lat,
            "reported_at": local_iso(case.reported_at, zone), "closed_at": local_iso(case.closed_at, zone),
            "supervised": case.supervised, "rating": case.rating, "version": case.version,
            "clock": clock_view(clock, zone=zone, now=now)}


# On the tables, not the entities: a plain Core SELECT (no ORM compile state or result set-up
# for rows that become dicts), built once.
_E, _S = CaseEvent.__table__.c, Staff.__table__.c
_EVENT_LOG = (select(_E.id, _E.verb, _E.actor_id, _S.name, _E.actor_role, _E.at, _E.from_state, _E.to_state,
                     _E.note, _E.data, _E.attachment_ids)
              .select_from(CaseEvent.__table__.outerjoin(Staff.__table__, _S.id == _E.actor_id))
              .where(_E.case_id == bindparam("case_id")).order_by(_E.id))


def event_views(session, case: Case) -> list[dict]:
    """The case's event log for its answer, in one SELECT of the columns shown and the actor's
    name: no event or staff objects (nor the staff's department and roles)."""
    rows = session.execute(_EVENT_LOG, {"case_id": case.id})
    return [{"id": id_, "verb": verb, "actor": None if actor_id is None else {"id": actor_id, "name": name},
             "role": role, "at": local_iso(at), "from": from_state, "to": to_state, "note": note, "data": data,
             "attachments": attachments}
            for id_, verb, actor_id, name, role, at, from_state, to_state, note, data, attachments in rows]


# What a citizen following a report sees of its progress: a few plain steps instead of the
# internal states (extension requests, returns, suspension, supervision stay inside).
# The words are the catalog's ``public_state_<code>`` messages.
PUBLIC_STATES = {
    "received": ("reported", "verifying", "void_requested"),
    "accepted": ("accepted", "opened"),
    "in_progress": ("dispatched", "handling", "return_requested", "extension_requested",
                    "suspend_requested", "suspended", "enforcement"),
    "handled": ("handled", "checking", "check_passed"),
    "closed": ("closed",),
    "rejected": ("rejected",),
    "voided": ("voided",),
    "merged": ("merged",),
}
PUBLIC_STATE_OF = {state: public for public, states in PUBLIC_STATES.items() for state in states}
# The steps a citizen sees in the timeline; every other event is internal.
PUBLIC_EVENTS = {"submit", "accept", "reject", "dispatch", "report_back", "close", "close_with_master",
                 "self_handle", "merge", "rate", "follow_up"}


def public_state(state: str) -> tuple[str, str]:
    """(code, words in the user's language) of an internal state, as a citizen sees it."""
    code = PUBLIC_STATE_OF[state]
    return code, t(f"public_state_{code}")


def public_case_view(session, case: Case) -> dict:
    """The tracking page: state in plain words, the expected completion (the handling deadline),
    the public answers; no clocks, supervision, internal steps, staff or reporter data."""
    code, words = public_state(case.state)
    handling = deadlines.handling_deadlines(session, [case.id]).get(case.id)
    events = [{"verb": e.verb, "at": local_iso(e.at), "role": e.actor_role if e.actor_role == CITIZEN else None,
               "note": e.note if e.verb in PUBLIC_NOTES else None}
              for e in case.events if e.verb in PUBLIC_EVENTS]
    return {"number": case.number, "tracking_code": case.tracking_code, "state": code, "state_name": words,
            "category_code": case.category_code, "description": case.description, "address": case.address,
            "lon": case.lon, "lat": case.lat,
            "department": case.department and {"name": case.department.name},
            "reported_at": local_iso(case.reported_at), "closed_at": local_iso(case.closed_at),
            "expected_by": local_iso(handling), "rating": case.rating, "events": events}


def _number(session, case_id: int | None) -> str | None:
    if case_id is None:
        return None
    known = session.identity_map.get(identity_key(Case, case_id))  # the master of a merge, say
    return known.number if known is not None else session.scalar(select(Case.number).where(Case.id == case_id))


def case_detail(session, case: Case, staff: Staff | None) -> dict:
    """The case's answer: the case row and clock as the request left them in the session (the
    running clock is the one the verb read or started), the event log and photos in one SELECT
    each. The statement count does not grow with the case's history (docs/dispatch.md)."""
    clock = deadlines.current_clock(session, case)
    data = case_summary(case, clock, session)
    events = event_views(session, case)
    data.update({
        "id": case.id, "tracking_code": case.tracking_code, "description": case.description,
        "reporter": {"name": case.reporter_name, "phone": case.reporter_phone, "staff_id": case.reporter_staff_id},
        "original": {"lon": case.original_lon, "lat": case.original_lat, "crs": case.original_crs},
        "suggested_department": department_view(session, case.suggested_department_id),
        "suggestion_reason": reason_text(case.suggestion_reason),
        "media_url": case.media_url,
        "assignee_id": case.assignee_id, "review_date": case.review_date and case.review_date.isoformat(),
        "possible_duplicate_of": _number(session, case.duplicate_of_id),
        "merged_into": _number(session, case.merged_into_id),
        "events": events,
        "photos": case_photos(session, case),  # kind, what each documents, capture data, flags
        "allowed_verbs": allowed_verbs(case, staff) if staff else [],
    })
    return data
