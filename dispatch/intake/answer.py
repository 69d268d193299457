"""The answer to a new report, built from what the write knows (``service.Created``): no
re-read of the case, its event, its clock (a reported case has none), its department (none
yet), its suggested department (the cached record) or its duplicate (the write returned its
number). The same dict ``dispatch.workflow.presenters.case_detail`` makes for that case
(``tests/dispatch/test_intake_round_trips.py`` compares them)."""
from __future__ import annotations

from dispatch.cases.models import Case
from dispatch.workflow.actions import allowed_verbs
from dispatch.workflow.presenters import case_summary
from grid.matrix.service import reason_text
from wangge.present import local_iso


def created_detail(case: Case, staff) -> dict:
    created = case.intake
    e = created.event
    dept = created.suggested_department
    data = case_summary(case, None)
    data.update({
        "id": case.id, "tracking_code": case.tracking_code, "description": case.description,
        "reporter": {"name": case.reporter_name, "phone": case.reporter_phone, "staff_id": case.reporter_staff_id},
        "original": {"lon": case.original_lon, "lat": case.original_lat, "crs": case.original_crs},
        "suggested_department": dept and {"code": dept.code, "name": dept.name},
        "suggestion_reason": reason_text(case.suggestion_reason),
        "media_url": case.media_url,
        "assignee_id": case.assignee_id, "review_date": None,
        "possible_duplicate_of": created.duplicate_number,
        "merged_into": None,
        "events": [{"id": e.id, "verb": e.verb,
                    "actor": None if e.actor_id is None else {"id": e.actor_id, "name": created.staff_name},
                    "role": e.actor_role, "at": local_iso(e.at), "from": e.from_state, "to": e.to_state,
                    "note": e.note, "data": e.data, "attachments": e.attachment_ids}],
        "photos": [],
        "allowed_verbs": allowed_verbs(case, staff) if staff else [],
    })
    return data


def answerable(case: Case) -> bool:
    """Whether the answer can be built from memory: a case this request just wrote through
    the fast path, without photos (their views carry capture data read back)."""
    created = getattr(case, "intake", None)
    return created is not None and not created.event.attachment_ids
