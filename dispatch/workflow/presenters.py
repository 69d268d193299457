"""How cases look in API answers (times in the user's zone): the one place that builds case
views. The dicts follow the response schemas of ``dispatch.workflow.schemas``, which the views
declare with ``@blp.response`` (they dump and document them)."""
from __future__ import annotations

from dispatch.attachments.service import case_photos
from dispatch.cases.lifecycle import CITIZEN
from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks import deadlines
from dispatch.clocks.models import StageClock
from dispatch.workflow.actions import allowed_verbs, state_name
from grid.matrix.service import reason_text
from grid.models import Staff
from wangge.i18n import t
from wangge.present import local_iso

# Notes a citizen may read on the tracking page: the answers, not internal deliberation.
PUBLIC_NOTES = {"report_back", "close", "reject", "self_handle", "rate", "follow_up"}


def clock_view(clock: StageClock | None, cal=None) -> dict | None:
    if clock is None:
        return None
    return {"stage": clock.stage, "amount": clock.amount, "unit": clock.unit, "extended": clock.extended,
            "started_at": local_iso(clock.started_at), "warn_at": local_iso(clock.warn_at),
            "due_at": local_iso(clock.due_at), "paused": clock.segment_started_at is None and clock.ended_at is None,
            "ended_at": local_iso(clock.ended_at), "late": clock.ended_late,
            "light": deadlines.light(clock, cal=cal)}


def case_summary(case: Case, clock: StageClock | None = None) -> dict:
    return {"number": case.number, "state": case.state, "state_name": state_name(case.state),
            "channel": case.channel, "category_code": case.category_code, "grid_code": case.grid_code,
            "department": case.department and {"code": case.department.code, "name": case.department.name},
            "title": case.title, "address": case.address, "lon": case.lon, "lat": case.lat,
            "reported_at": local_iso(case.reported_at), "closed_at": local_iso(case.closed_at),
            "supervised": case.supervised, "rating": case.rating, "version": case.version,
            "clock": clock_view(clock)}


def event_view(e: CaseEvent) -> dict:
    return {"id": e.id, "verb": e.verb, "actor": e.actor and {"id": e.actor.id, "name": e.actor.name},
            "role": e.actor_role, "at": local_iso(e.at), "from": e.from_state, "to": e.to_state,
            "note": e.note, "data": e.data, "attachments": e.attachment_ids}


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
    return None if case_id is None else session.get(Case, case_id).number


def case_detail(session, case: Case, staff: Staff | None) -> dict:
    clock = deadlines.current_clock(session, case)
    data = case_summary(case, clock)
    events = [event_view(e) for e in case.events]
    data.update({
        "id": case.id, "tracking_code": case.tracking_code, "description": case.description,
        "reporter": {"name": case.reporter_name, "phone": case.reporter_phone, "staff_id": case.reporter_staff_id},
        "original": {"lon": case.original_lon, "lat": case.original_lat, "crs": case.original_crs},
        "suggested_department": case.suggested_department and {"code": case.suggested_department.code,
                                                                "name": case.suggested_department.name},
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
