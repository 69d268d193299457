"""Who hears about what. Each notification is an outbox row written in the same
transaction as the change that caused it, with a key that makes it unique (a retried
request or a second sweep cannot send it twice). Delivery is ``dispatch.outbox``'s job."""
from __future__ import annotations

from sqlalchemy import select

from grid import roles as R
from grid.models import Staff, StaffRole

from .lifecycle import STATES, VERBS
from .models import Case, CaseEvent, Outbox, StageClock


def add(session, dedup_key: str, topic: str, payload: dict) -> Outbox | None:
    """Insert once per key; a second call with the same key is a no-op."""
    if session.scalar(select(Outbox.id).where(Outbox.dedup_key == dedup_key)) is not None:
        return None
    row = Outbox(dedup_key=dedup_key, topic=topic, payload=payload)
    session.add(row)
    return row


def staff_recipient(s: Staff) -> dict:
    return {"kind": "staff", "id": s.id, "name": s.name, "phone": s.phone}


def with_role(session, role: str, department_id: int | None = None) -> list[dict]:
    query = select(Staff).join(StaffRole).where(StaffRole.role == role, Staff.active.is_(True))
    if department_id is not None:
        query = query.where(Staff.department_id == department_id)
    return [staff_recipient(s) for s in session.scalars(query.order_by(Staff.id))]


def reporters(session, case: Case) -> list[dict]:
    """The person who raised the case and everyone whose report was merged into it."""
    cases = [case, *session.scalars(select(Case).where(Case.merged_into_id == case.id))]
    out = []
    for c in cases:
        if c.reporter is not None:
            out.append({**staff_recipient(c.reporter), "case": c.number})
        elif c.reporter_phone:
            out.append({"kind": "citizen", "name": c.reporter_name, "phone": c.reporter_phone,
                        "case": c.number, "tracking_code": c.tracking_code})
    return out


def _text(case: Case, zh: str, en: str) -> dict:
    return {"case": case.number, "case_id": case.id, "text_zh": f"【{case.number}】{zh}", "text_en": f"[{case.number}] {en}"}


def notify_event(session, case: Case, event: CaseEvent) -> None:
    verb = event.verb
    zh_state, en_state = STATES[event.to_state][:2]
    recipients: list[dict] = []
    if verb in ("dispatch", "redispatch") or (verb == "rule_return" and event.to_state != "opened"):
        recipients = with_role(session, R.DEPARTMENT_HANDLER, case.department_id)
    elif verb in ("supervise", "urge"):
        recipients = with_role(session, R.DEPARTMENT_HANDLER, case.department_id) if case.department_id else \
            with_role(session, R.DISPATCHER)
    elif verb in ("request_verify", "request_check") and case.assignee is not None:
        recipients = [staff_recipient(case.assignee)]
    elif verb in ("return", "request_extension", "request_suspend"):
        recipients = with_role(session, R.DISPATCHER)
    elif verb == "request_void":
        recipients = with_role(session, R.SHIFT_LEADER)
    elif verb in ("close", "reject", "self_handle") or event.to_state == "closed":
        recipients = reporters(session, case)
    elif verb == "rate" and case.rating == "unsatisfied":
        recipients = with_role(session, R.INTAKE_CLERK)
    if not recipients:
        return
    name = VERBS[verb].zh if verb in VERBS else verb
    payload = {"template": verb, **_text(case, f"{name}：案件现为「{zh_state}」。{event.note or ''}".strip(),
                                        f"{verb}: the case is now '{en_state}'. {event.note or ''}".strip()),
               "recipients": recipients}
    add(session, f"event:{event.id}", "case_event", payload)


def notify_deadline(session, clock: StageClock, kind: str) -> None:
    """80% warning to whoever owns the stage; overdue escalates to leaders as well."""
    case = session.get(Case, clock.case_id)
    if clock.stage in ("sign", "handle") and clock.department_id:
        recipients = with_role(session, R.DEPARTMENT_HANDLER, clock.department_id)
    elif clock.stage in ("verify", "check") and case.assignee is not None:
        recipients = [staff_recipient(case.assignee)]
    elif clock.stage in ("open", "close"):
        recipients = with_role(session, R.SHIFT_LEADER)
    else:
        recipients = with_role(session, R.DISPATCHER)
    if kind == "overdue":
        recipients += with_role(session, R.LEADER)
    if not recipients:
        return
    zh = "即将超时（已用80%时限）" if kind == "warning" else "已超时"
    en = "is close to its deadline (80% used)" if kind == "warning" else "is overdue"
    payload = {"template": f"deadline_{kind}", "stage": clock.stage, "clock_id": clock.id,
               "due_at": clock.due_at.isoformat() if clock.due_at else None,
               **_text(case, f"「{clock.stage}」环节{zh}", f"stage '{clock.stage}' {en}"), "recipients": recipients}
    add(session, f"deadline:{clock.id}:{kind}", "deadline", payload)
