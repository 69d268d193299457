"""Offline push: an ordered batch of what a phone did offline, one outcome per item.

Every item is judged by the rules the desk API uses: a report goes through intake
(``dispatch.intake.staff_views.submit_staff_report``: the same rules, channel, role and
idempotency key as ``POST /api/v1/cases``), an action through ``dispatch.workflow.actions.act``
on the case found as the case API finds it (``get_visible_case``: not found and not yours
look the same), or on one that was in the sender's view before (``history``): their work on
it is kept as a conflict (``case_left_view``) instead of lost.

Each item runs in its own SAVEPOINT, so a refused item never undoes the others; the request
commits once at the edge. An item the server acted on is recorded (``SyncPushItem``) in its
sender's namespace, and the row is claimed *before* the work: a second push of the same
item at the same moment waits on the unique index for the first one's commit and then
answers ``already_done``, so two racing pushes of one batch make one case. A conflict (the
world changed since the phone acted, in a way the worker cannot fix offline: ``_is_conflict``
and docs/mobile.md "Which items are conflicts") keeps the item for the dispatch center."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date, datetime

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from dispatch.cases.lifecycle import VERBS
from dispatch.cases.models import Case
from dispatch.cases.scope import get_visible_case
from dispatch.intake import rules
from dispatch.intake.staff_views import REPORTERS, submit_staff_report
from dispatch.workflow.actions import Actor, Payload, act, choose_role, state_name
from mobile_api.push import history
from mobile_api.push.models import SyncPushItem
from mobile_api.push.schemas import PushItemSchema
from wangge.auth import role_names
from wangge.errors import ApiError, NotFound, validation_error
from wangge.i18n import t

ITEM = PushItemSchema()
# Why an action no longer fits a case that moved on since the phone saw it.
MOVED_ON = {"verb_not_allowed", "stale_case", "case_conflict"}
MOVED_ON_IF_OLDER = {"not_your_department", "not_assigned", "not_reporter", "verb_forbidden", "extension_limit"}


def case_view(case: Case | None) -> dict | None:
    if case is None:
        return None
    return {"number": case.number, "state": case.state, "state_name": state_name(case.state),
            "version": case.version}


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def canonical(item: dict) -> tuple[dict, str]:
    """The item's body as stored (JSON types) and its fingerprint (sha256)."""
    body = json.loads(json.dumps({k: v for k, v in item.items() if k != "client_id"}, default=_plain))
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return body, hashlib.sha256(raw.encode("utf-8")).hexdigest()


class _Refused(Exception):
    """Leave the item's savepoint (its claim included) with this answer."""

    def __init__(self, answer: dict):
        super().__init__(answer.get("code"))
        self.answer = answer


def push(session, staff, items: list) -> dict:
    """Do the items in order; the answer lists one outcome per item."""
    results = [push_one(session, staff, index, raw) for index, raw in enumerate(items)]
    return {"items": results, "counts": dict(Counter(r["outcome"] for r in results))}


def _answer(index: int, client_id, kind, outcome: str, status: int, **extra) -> dict:
    return {"index": index, "client_id": client_id, "type": kind, "outcome": outcome, "status": status,
            "code": None, "message": None, "fields": None, "case": None, "original_outcome": None,
            "conflict_id": None, **extra}


def _error_answer(index, client_id, kind, err: ApiError, outcome: str = "refused", **extra) -> dict:
    body = err.to_dict()
    return _answer(index, client_id, kind, outcome, err.status, code=err.code, message=body["message"],
                   fields=body.get("fields"), **extra)


def push_one(session, staff, index: int, raw) -> dict:
    given = raw.get("client_id") if isinstance(raw, dict) else None
    given = given if isinstance(given, str) else None
    kind = raw.get("type") if isinstance(raw, dict) and raw.get("type") in ("report", "action") else None
    try:
        if not isinstance(raw, dict):
            raise ValidationError({"_item": [t("push_item_not_object")]})
        item = ITEM.load(raw)
    except ValidationError as exc:
        return _error_answer(index, given, kind, validation_error(
            exc.messages if isinstance(exc.messages, dict) else {"_item": exc.messages}))
    client_id, kind = item["client_id"], item["type"]
    problems = rules.check_client_key(client_id)
    if problems:
        return _error_answer(index, client_id, kind, rules.refusal({"client_id": problems}))
    body, fingerprint = canonical(item)

    existing = _recorded(session, staff, client_id)
    if existing is not None:
        return _replay(index, existing, fingerprint, kind)
    try:
        with session.begin_nested():
            row = SyncPushItem(staff_id=staff.id, client_id=client_id, kind=kind, fingerprint=fingerprint,
                               body=body, outcome="pending", answer={})
            session.add(row)
            session.flush()  # the claim: a racing push of this item waits here for our commit
            answer = (_report if kind == "report" else _action)(session, staff, index, item, row)
            row.outcome, row.code = answer["original_outcome"] or answer["outcome"], answer["code"]
            row.answer = {k: v for k, v in answer.items() if k != "index"}
            session.flush()
    except _Refused as refused:
        return refused.answer
    except IntegrityError:
        existing = _recorded(session, staff, client_id)
        if existing is None:
            raise
        return _replay(index, existing, fingerprint, kind)
    return answer


def _recorded(session, staff, client_id: str) -> SyncPushItem | None:
    return session.scalar(select(SyncPushItem).where(SyncPushItem.staff_id == staff.id,
                                                     SyncPushItem.client_id == client_id))


def _replay(index: int, row: SyncPushItem, fingerprint: str, kind: str) -> dict:
    if row.fingerprint != fingerprint:
        return _error_answer(index, row.client_id, kind, ApiError("idempotency_key_reused", status=409,
                                                                  key=row.client_id),
                             outcome="idempotency_key_reused")
    return {**row.answer, "index": index, "outcome": "already_done", "status": 200,
            "original_outcome": row.outcome}


# --- reports -------------------------------------------------------------------------------

def _report(session, staff, index: int, item: dict, row: SyncPushItem) -> dict:
    client_id = item["client_id"]
    try:
        if not staff.has_role(*REPORTERS):
            # the sender's roles changed since (or never allowed it): the report is real work
            # the phone cannot fix, kept for the dispatch center
            return _conflict(index, client_id, "report", row, None,
                             ApiError("forbidden_role", status=403, roles=role_names(REPORTERS)))
        case, created = submit_staff_report(session, staff, {**item["report"], "channel": "staff"}, client_id)
    except ApiError as err:
        outcome = "idempotency_key_reused" if err.code == "idempotency_key_reused" else "refused"
        raise _Refused(_error_answer(index, client_id, "report", err, outcome)) from None
    row.case_id = case.id
    if created:
        return _answer(index, client_id, "report", "created", 201, case=case_view(case))
    # the same report sent before through POST /api/m/v1/reports or /api/v1/cases
    return _answer(index, client_id, "report", "already_done", 200, case=case_view(case),
                   original_outcome="created")


# --- actions -------------------------------------------------------------------------------

def carries_work(payload: dict) -> bool:
    """Whether an action item holds something the worker did besides choosing the verb: a
    note, photos, an outcome, a date, an amount... (``role`` is only how they act)."""
    return any(value not in (None, "", [], {}) for name, value in payload.items() if name != "role")


def _action(session, staff, index: int, item: dict, row: SyncPushItem) -> dict:
    client_id = item["client_id"]
    payload = dict(item["action"])
    number, verb, seen = payload.pop("number"), payload.pop("verb"), payload.pop("version_seen")
    work = carries_work(payload)
    requested_role = payload.pop("role", None)
    case, in_view = None, True
    try:
        case, in_view = _find_case(session, staff, number)
        if verb not in VERBS:
            raise ApiError("unknown_verb", status=404, verb=verb)
        role = choose_role(staff, VERBS[verb], requested_role)
        if not in_view:
            # it was theirs when they did it: kept, without telling them where the case is now
            return _conflict(index, client_id, "action", row, case,
                             ApiError("case_left_view", status=409, number=number), show_case=False)
        if seen > case.version:
            raise validation_error({"version_seen": [t("push_version_ahead", version=case.version)]})
        with session.begin_nested():
            act(session, case, verb, Actor(staff, role), Payload(**payload))
    except StaleDataError:  # someone acted on the case at this very moment
        session.expire(case)
        return _conflict(index, client_id, "action", row, case, ApiError("case_conflict", status=409, number=number))
    except ApiError as err:
        if case is not None and _is_conflict(err, seen, case, work=work, requested_role=requested_role):
            return _conflict(index, client_id, "action", row, case, err, show_case=in_view)
        raise _Refused(_error_answer(index, client_id, "action", err)) from None
    row.case_id = case.id
    return _answer(index, client_id, "action", "done", 200, case=case_view(case))


def _find_case(session, staff, number: str) -> tuple[Case, bool]:
    """(the case, in the sender's view now): the case as the case API finds it, or one that
    was in their view before (``history``); anything else is ``not_found``, worded as for a
    number that does not exist."""
    try:
        return get_visible_case(session, staff, number), True
    except NotFound:
        case = session.scalar(select(Case).where(Case.number == number))
        if case is None or not history.was_in_view(session, staff, case):
            raise
        return case, False


def _is_conflict(err: ApiError, seen: int, case: Case, *, work: bool, requested_role: str | None) -> bool:
    """Which refusals are conflicts (docs/mobile.md, sync-push): those that come from the
    world having changed since the phone acted, which the worker cannot fix offline."""
    if err.code in MOVED_ON:
        return True
    if err.code in MOVED_ON_IF_OLDER:
        return seen < case.version
    # none of the verb's roles (no role asked for): the sender's roles changed since; kept
    # when the item holds their work, refused when it is a bare verb (nothing is lost)
    return err.code == "forbidden_role" and requested_role is None and work


def _conflict(index, client_id, kind: str, row: SyncPushItem, case: Case | None, err: ApiError, *,
              show_case: bool = True) -> dict:
    row.case_id = case.id if case is not None else None
    answer = _error_answer(index, client_id, kind, err, "conflict", case=case_view(case) if show_case else None,
                           conflict_id=row.id)
    answer["status"] = 409
    # for the dispatch center (ConflictView.at_push); the phone's answer schema leaves it out
    answer["at_push"] = case_view(case)
    return answer
