"""Kept conflicts for the dispatch center: what a worker did offline on a case that had moved
on. Nothing is lost: the dispatcher reads the item (``body``) beside the case as it is now,
acts on the case through the case API if the work still matters, and resolves the conflict
with a note (who, when and the note are recorded on the row)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dispatch.cases.models import Case
from grid import roles as R
from mobile_api.push.models import SyncPushItem
from mobile_api.push.service import case_view
from wangge.errors import ApiError, NotFound
from wangge.timeutil import utcnow

# Who reads and resolves kept conflicts.
DISPATCH_CENTER = (R.DISPATCHER, R.SHIFT_LEADER, R.INTAKE_CLERK, R.ADMIN)


def conflicts(session, *, unresolved: bool | None = None, case: str | None = None, limit: int = 50,
              offset: int = 0) -> list[SyncPushItem]:
    query = select(SyncPushItem).where(SyncPushItem.outcome == "conflict")
    if unresolved is True:
        query = query.where(SyncPushItem.resolved_at.is_(None))
    elif unresolved is False:
        query = query.where(SyncPushItem.resolved_at.is_not(None))
    if case is not None:
        query = query.join(Case, Case.id == SyncPushItem.case_id).where(Case.number == case)
    # the page's cases and resolvers in one query each, not one per row (tests/api/test_statement_counts.py)
    query = query.options(selectinload(SyncPushItem.case).lazyload(Case.grid), selectinload(SyncPushItem.resolved_by))
    return list(session.scalars(query.order_by(SyncPushItem.id.desc()).limit(limit).offset(offset)))


def get_conflict(session, conflict_id: int, *, lock: bool = False) -> SyncPushItem:
    query = select(SyncPushItem).where(SyncPushItem.id == conflict_id, SyncPushItem.outcome == "conflict")
    row = session.scalar(query.with_for_update(of=SyncPushItem) if lock else query)
    if row is None:
        raise NotFound("sync_conflict", conflict_id)
    return row


def resolve(session, conflict_id: int, staff, note: str) -> SyncPushItem:
    row = get_conflict(session, conflict_id, lock=True)  # two dispatchers at once: one resolves
    if row.resolved_at is not None:
        raise ApiError("sync_conflict_resolved", status=409, id=conflict_id)
    row.resolved_at, row.resolved_by_id, row.resolution_note = utcnow(), staff.id, note
    session.flush()
    return row


def _person(staff) -> dict | None:
    return {"id": staff.id, "name": staff.name} if staff is not None else None


def conflict_view(row: SyncPushItem) -> dict:
    return {"id": row.id, "staff": _person(row.staff), "client_id": row.client_id, "type": row.kind,
            "body": row.body, "code": row.code, "message": (row.answer or {}).get("message"),
            "case": case_view(row.case), "at_push": (row.answer or {}).get("at_push", (row.answer or {}).get("case")),
            "created_at": row.created_at, "resolved_at": row.resolved_at, "resolved_by": _person(row.resolved_by),
            "resolution_note": row.resolution_note}


def photo_ids(body: dict) -> set[int]:
    """The photos an item names (``action.attachments`` or ``report.attachments``)."""
    part = (body or {}).get("action") or (body or {}).get("report") or {}
    ids = part.get("attachments") if isinstance(part, dict) else None
    return {i for i in ids if isinstance(i, int)} if isinstance(ids, list) else set()


def may_read_photo(session, staff, attachment) -> bool:
    """The dispatch center reads the photos of a kept conflict (attached to no case: the item
    was not done), through ``GET /api/v1/attachments/<id>`` (registered with dispatch's
    attachments as an extra reader)."""
    if not staff.has_role(*DISPATCH_CENTER) or attachment.uploaded_by is None:
        return False
    bodies = session.scalars(select(SyncPushItem.body).where(SyncPushItem.staff_id == attachment.uploaded_by,
                                                             SyncPushItem.outcome == "conflict"))
    return any(attachment.id in photo_ids(body) for body in bodies)
