"""Who hears about what. Each notification is an outbox row written in the same
transaction as the change that caused it, with a key that makes it unique (a retried
request or a second sweep cannot send it twice). Delivery is ``dispatch.notifications.outbox``'s job."""
from __future__ import annotations

import json
from functools import cache

from sqlalchemy import Integer, bindparam, column, or_, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dispatch.cases.models import Case, CaseEvent
from dispatch.notifications import outbox
from dispatch.notifications.models import Outbox
from dispatch.notifications.personal import (
    NOTICE_COLUMNS,
    PG_XID,
    notice_values,
    outbox_row_with_notices,
    write_notices,
)
from grid import roles as R
from grid.models import Staff, StaffRole
from wangge.i18n import t
from wangge.timeutil import utcnow


def add(session, dedup_key: str, topic: str, payload: dict) -> int | None:
    """Insert once per key; a second call with the same key is a no-op (also across
    concurrent transactions: ON CONFLICT DO NOTHING). Returns the new row's id or None."""
    ids = add_many(session, [(dedup_key, topic, payload)])
    return ids[0] if ids else None


_OUTBOX_INSERTS: dict = {}


def add_many(session, rows: list[tuple[str, str, dict]]) -> list[int]:
    """Insert many outbox rows in one statement, skipping keys that exist already; each new
    row addressed to staff members also lands in their personal inbox (``personal``)."""
    if not rows:
        return []

    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    now = utcnow()
    claim = outbox.claim_at_birth(session)
    values = [{"dedup_key": key, "topic": topic, "payload": payload, "created_at": now, "available_at": now,
               "attempts": 0, "enqueued_at": now if claim else None} for key, topic, payload in rows]
    if dialect == "postgresql" and len(rows) == 1:  # a verb's notice: row and personal notices in one statement
        new_id = outbox_row_with_notices(session, values[0], rows[0][2], now)
        ids = [] if new_id is None else [new_id]
        outbox.written(session, ids, claim=claim)
        return ids
    # on the table, not the entity: a Core INSERT (the ORM's bulk path for an entity insert cost
    # an eighth of a dispatch); its session listeners have nothing to do with these rows
    stmt = _OUTBOX_INSERTS.get(dialect)
    if stmt is None:
        table = Outbox.__table__
        stmt = _OUTBOX_INSERTS[dialect] = insert(table).on_conflict_do_nothing(index_elements=["dedup_key"]) \
            .returning(table.c.id, table.c.dedup_key)
    # one statement for any number of rows (SQLAlchemy's "insertmanyvalues"), built once
    new = dict(session.execute(stmt, values).all())
    ids = list(new)
    outbox.written(session, ids, claim=claim)
    # each person's own inbox, in this same transaction (never lost, no Redis needed)
    by_key = {key: (topic, payload) for key, topic, payload in rows}
    write_notices(session, [(outbox_id, *by_key[key]) for outbox_id, key in new.items()])
    return ids


class RecipientCache:
    """Recipients by role and department, looked up once per sweep or request."""

    def __init__(self, session):
        self.session = session
        self._cache: dict = {}

    def with_role(self, role: str, department_id: int | None = None) -> list[dict]:
        key = (role, department_id)
        if key not in self._cache:
            self._cache[key] = with_role(self.session, role, department_id)
        return list(self._cache[key])


def staff_recipient(s) -> dict:
    """A staff member (or a row with their id, name and phone) as a notification's recipient."""
    return {"kind": "staff", "id": s.id, "name": s.name, "phone": s.phone}


def with_role(session, role: str, department_id: int | None = None) -> list[dict]:
    # the recipient's three columns only (staff objects would bring their department and
    # roles), on the tables: a plain Core SELECT, built once per shape
    query = _RECIPIENTS[department_id is not None]
    params = {"role": role} if department_id is None else {"role": role, "department_id": department_id}
    return [staff_recipient(s) for s in session.execute(query, params)]


def _recipients_query(by_department: bool):
    staff, roles = Staff.__table__.c, StaffRole.__table__.c
    query = select(staff.id, staff.name, staff.phone) \
        .select_from(Staff.__table__.join(StaffRole.__table__, roles.staff_id == staff.id)) \
        .where(roles.role == bindparam("role"), staff.active.is_(True))
    if by_department:
        query = query.where(staff.department_id == bindparam("department_id"))
    return query.order_by(staff.id)


_RECIPIENTS = {False: _recipients_query(False), True: _recipients_query(True)}


def reporters(session, case: Case) -> list[dict]:
    """The person who raised the case and everyone whose report was merged into it (one
    SELECT of the columns a recipient needs: the case first, then the merged ones by id)."""
    rows = session.execute(
        select(Case.number, Case.tracking_code, Case.reporter_name, Case.reporter_phone, Staff.id, Staff.name,
               Staff.phone)
        .outerjoin(Staff, Staff.id == Case.reporter_staff_id)
        .where(or_(Case.id == case.id, Case.merged_into_id == case.id))
        .order_by((Case.id != case.id), Case.id))
    out = []
    for number, tracking_code, name, phone, staff_id, staff_name, staff_phone in rows:
        if staff_id is not None:
            out.append({"kind": "staff", "id": staff_id, "name": staff_name, "phone": staff_phone, "case": number})
        elif phone:
            out.append({"kind": "citizen", "name": name, "phone": phone, "case": number,
                        "tracking_code": tracking_code})
    return out


def _text(case: Case, zh: str, en: str) -> dict:
    return {"case": case.number, "case_id": case.id, "text_zh": f"【{case.number}】{zh}", "text_en": f"[{case.number}] {en}"}


def notify_event(session, case: Case, event: CaseEvent) -> None:
    verb = event.verb
    recipients: list[dict] = []
    by_role: tuple[str, int | None] | None = None  # everyone active with this role (in this department)
    if verb == "rate":
        if case.rating == "unsatisfied":
            by_role = (R.INTAKE_CLERK, None)  # 回访: a bad rating is followed up
    elif verb in ("dispatch", "redispatch") or (verb == "rule_return" and event.to_state != "opened"):
        by_role = (R.DEPARTMENT_HANDLER, case.department_id)
    elif verb in ("supervise", "urge"):
        by_role = (R.DEPARTMENT_HANDLER, case.department_id) if case.department_id else (R.DISPATCHER, None)
    elif (verb in ("request_verify", "request_check") or (verb == "relocate" and "assignee_id" in event.data)) \
            and case.assignee is not None:  # relocate: the verify task followed the case to another grid
        recipients = [staff_recipient(case.assignee)]
    elif verb in ("return", "request_extension", "request_suspend"):
        by_role = (R.DISPATCHER, None)
    elif verb == "request_void":
        by_role = (R.SHIFT_LEADER, None)
    elif verb == "close_with_master":
        return  # the master's answer went to every reporter, this one's included
    elif verb == "unmerge":
        by_role = (R.INTAKE_CLERK, None)  # back on the desk to be triaged
    elif verb == "enforcement_result":
        by_role = (R.INTAKE_CLERK, None)  # back from enforcement: send the check (核查)
    elif verb == "follow_up" and event.to_state == "opened":
        by_role = (R.DISPATCHER, None)  # reopened after a bad rating: dispatch again
    elif event.to_state in ("closed", "rejected") and verb != "follow_up":
        recipients = reporters(session, case)  # 点对点反馈: every reporter gets the answer
    if by_role is None and not recipients:
        return
    zh, en = (t("notify_case_event", lang=lang, verb=_verb_words(verb, lang), verb_en=verb,
                state=t(f"state_{event.to_state}", lang=lang), note=event.note or "").strip()
              for lang in ("zh", "en"))
    payload = {"template": verb, **_text(case, zh, en)}
    key = f"event:{event.id}"
    if by_role is not None:
        if session.get_bind().dialect.name == "postgresql":
            add_for_role(session, key, "case_event", payload, *by_role)
            return
        recipients = with_role(session, *by_role)
        if not recipients:
            return
    add(session, key, "case_event", {**payload, "recipients": recipients})


# Recipients by role, the outbox row and their personal notices in one statement (PostgreSQL):
# what ``with_role`` + ``add`` do in three. No row when nobody holds the role, as there.
_FOR_ROLE = """
WITH recipient AS (
    SELECT staff.id, staff.name, staff.phone
      FROM staff JOIN staff_roles ON staff_roles.staff_id = staff.id
     WHERE staff_roles.role = :role AND staff.active IS true {department}
),
new_outbox AS (
    INSERT INTO outbox (dedup_key, topic, payload, created_at, available_at, attempts, enqueued_at)
    SELECT CAST(:dedup_key AS varchar), CAST(:topic AS varchar),
           CAST(CAST(:payload AS jsonb) || jsonb_build_object('recipients', jsonb_agg(
               jsonb_build_object('kind', 'staff', 'id', recipient.id, 'name', recipient.name,
                                  'phone', recipient.phone) ORDER BY recipient.id)) AS json),
           :created_at, :created_at, 0, CAST(:enqueued_at AS timestamptz)
      FROM recipient
    HAVING count(*) > 0
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING id
),
new_notices AS (
    INSERT INTO personal_notices ({notice_columns})
    SELECT recipient.id, new_outbox.id, CAST(:notice_topic AS varchar), CAST(:notice_template AS varchar),
           CAST(:notice_case_number AS varchar), CAST(:notice_text_zh AS text), CAST(:notice_text_en AS text),
           CAST(:created_at AS timestamptz), {change_seq}
      FROM recipient JOIN new_outbox ON true
    ON CONFLICT (staff_id, outbox_id) DO NOTHING
    RETURNING id
)
SELECT new_outbox.id, (SELECT count(*) FROM new_notices) AS notices FROM new_outbox
"""


@cache
def _for_role_statement(by_department: bool):
    sql = _FOR_ROLE.format(department="AND staff.department_id = :department_id" if by_department else "",
                           notice_columns=", ".join(NOTICE_COLUMNS), change_seq=PG_XID)
    return text(sql).columns(column("id", Integer), column("notices", Integer))  # by position (intake.fast)


def add_for_role(session, dedup_key: str, topic: str, payload: dict, role: str,
                 department_id: int | None = None) -> int | None:
    """PostgreSQL: an outbox row to everyone active holding ``role`` (in ``department_id``),
    with their personal notices, in one statement; the recipients land in the payload as
    ``with_role`` lists them (by id). None when nobody holds the role or the key exists."""
    now = utcnow()
    claim = outbox.claim_at_birth(session)
    notice = notice_values(0, topic, payload, now)
    params = {"role": role, "dedup_key": dedup_key, "topic": topic,
              "payload": json.dumps(payload, ensure_ascii=False), "created_at": now,
              "enqueued_at": now if claim else None,
              **{f"notice_{name}": value for name, value in notice.items() if name not in ("outbox_id", "created_at")}}
    if department_id is not None:
        params["department_id"] = department_id
    row = session.execute(_for_role_statement(department_id is not None), params).first()
    ids = [] if row is None else [row.id]
    outbox.written(session, ids, claim=claim)
    return ids[0] if ids else None


def _verb_words(verb: str, lang: str) -> str:
    key = f"verb_{verb}"
    text = t(key, lang=lang)
    return verb if text == key else text
