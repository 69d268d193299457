"""Each person's own inbox of notices (站内信): every outbox row addressed to staff members
leaves one ``personal_notices`` row per person, in the transaction that wrote the outbox row
(``write_notices``, called by ``dispatch.notifications.notify.add_many``), so it is never
lost and needs no Redis or channel. Read / unread, counts and a sync feed are plain
functions over a session; the phone API (``mobile_api.notices``) is their only HTTP face.

Sync feed (``changed_since``): every notice carries ``change_seq``, set when it is written
and again when it is read. On PostgreSQL it is the id of the writing transaction
(``pg_current_xact_id()``) and the cursor handed out is the oldest transaction still running
(``pg_snapshot_xmin``), so a transaction that began before a pull and commits after it is in
the next pull: ids, which are taken at insert time, could not promise that. On SQLite one
writer at a time makes a counter enough."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Integer,
    String,
    Text,
    bindparam,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dispatch.notifications.models import Outbox, PersonalNotice
from grid.models import Staff
from wangge.i18n import t
from wangge.timeutil import utcnow

PG_XID = "pg_current_xact_id()::text::bigint"
PG_HORIZON = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


def _postgres(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _change_seq(session):
    """The value that orders this write among changes (a SQL expression)."""
    if _postgres(session):
        return text(PG_XID)
    return select(func.coalesce(func.max(PersonalNotice.change_seq), 0) + 1).scalar_subquery()


def staff_ids(recipients) -> list[int]:
    """The staff members among an outbox row's recipients, each once, in order."""
    out: dict[int, None] = {}
    for r in recipients or []:
        if r.get("kind", "staff") == "staff" and isinstance(r.get("id"), int) and not isinstance(r.get("id"), bool):
            out.setdefault(r["id"], None)
    return list(out)


CHUNK = 200  # outbox rows per INSERT ... SELECT (SQLite allows 500 terms in a compound SELECT)


NOTICE_COLUMNS = ["staff_id", "outbox_id", "topic", "template", "case_number", "text_zh", "text_en", "created_at",
                  "change_seq"]


def write_notices(session, rows: list[tuple[int, str, dict]]) -> int:
    """One notice per (new outbox row, staff recipient): ``rows`` are (outbox id, topic,
    payload). Recipients that are not (or no longer) staff are skipped: the notices are
    selected from ``staff`` (``INSERT ... SELECT``, one SELECT per outbox row joined by UNION
    ALL), so the check costs no statement of its own. Idempotent (ON CONFLICT DO NOTHING on
    person and row). Returns how many were written."""
    wanted = [(outbox_id, topic, payload, staff_ids(payload.get("recipients"))) for outbox_id, topic, payload in rows]
    wanted = [w for w in wanted if w[3]]
    if not wanted:
        return 0
    now = utcnow()
    insert = postgresql_insert if _postgres(session) else sqlite_insert
    change_seq = literal_column(PG_XID) if _postgres(session) else _change_seq(session)
    created_at_type = PersonalNotice.__table__.c.created_at.type
    written = 0
    for start in range(0, len(wanted), CHUNK):
        selects = []
        for outbox_id, topic, payload, ids in wanted[start:start + CHUNK]:
            v = notice_values(outbox_id, topic, payload, now)
            selects.append(select(Staff.id, literal(outbox_id, Integer), literal(v["topic"], String),
                                  literal(v["template"], String), literal(v["case_number"], String),
                                  literal(v["text_zh"], Text), literal(v["text_en"], Text),
                                  literal(now, created_at_type), change_seq).where(Staff.id.in_(ids)))
        source = selects[0] if len(selects) == 1 else union_all(*selects)
        stmt = insert(PersonalNotice.__table__).from_select(NOTICE_COLUMNS, source) \
            .on_conflict_do_nothing(index_elements=["staff_id", "outbox_id"])
        written += session.execute(stmt).rowcount or 0
    return written


def notice_values(outbox_id: int, topic: str, payload: dict, now) -> dict:
    """A notice's values, as ``write_notices`` writes them (cut to the columns' lengths)."""
    return {"outbox_id": outbox_id, "topic": topic[:32],
            "template": str(payload.get("template"))[:64] if payload.get("template") else None,
            "case_number": str(payload.get("case"))[:64] if payload.get("case") else None,
            "text_zh": str(payload.get("text_zh") or payload.get("text_en") or ""),
            "text_en": str(payload.get("text_en") or payload.get("text_zh") or ""), "created_at": now}


_WITH_OUTBOX: list = []
OUTBOX_COLUMNS = ("dedup_key", "topic", "payload", "created_at", "available_at", "attempts", "enqueued_at")


def outbox_row_with_notices(session, values: dict, payload: dict, now) -> int | None:
    """PostgreSQL: one outbox row (``values``, skipped when its key exists) and its staff
    recipients' notices in one statement: the notices are selected from ``staff`` joined to
    the row the INSERT returned, so a row that was already there gets none, as with
    ``write_notices`` after ``add_many``'s INSERT. The new row's id, or None."""
    notice = notice_values(0, values["topic"], payload, now)
    params = {**values, "staff_ids": staff_ids(payload.get("recipients")),
              **{f"notice_{key}": value for key, value in notice.items() if key != "outbox_id"}}
    row = session.execute(_with_outbox_statement(), params).first()
    return None if row is None else row[0]


def _with_outbox_statement():
    """``WITH new_outbox AS (INSERT INTO outbox … ON CONFLICT DO NOTHING RETURNING id),
    new_notices AS (INSERT INTO personal_notices SELECT … FROM staff JOIN new_outbox …)
    SELECT new_outbox.id, (SELECT count(*) FROM new_notices) FROM new_outbox``, built once."""
    if not _WITH_OUTBOX:
        outbox, staff, notices = Outbox.__table__, Staff.__table__, PersonalNotice.__table__
        new_outbox = postgresql_insert(outbox).values(
            {name: bindparam(name, type_=outbox.c[name].type) for name in OUTBOX_COLUMNS}) \
            .on_conflict_do_nothing(index_elements=["dedup_key"]).returning(outbox.c.id).cte("new_outbox")
        source = select(staff.c.id, new_outbox.c.id, bindparam("notice_topic", type_=String),
                        bindparam("notice_template", type_=String), bindparam("notice_case_number", type_=String),
                        bindparam("notice_text_zh", type_=Text), bindparam("notice_text_en", type_=Text),
                        bindparam("notice_created_at", type_=notices.c.created_at.type), literal_column(PG_XID)) \
            .select_from(staff.join(new_outbox, true())) \
            .where(staff.c.id == func.any(bindparam("staff_ids", type_=ARRAY(Integer))))
        new_notices = postgresql_insert(notices).from_select(NOTICE_COLUMNS, source) \
            .on_conflict_do_nothing(index_elements=["staff_id", "outbox_id"]).returning(notices.c.id) \
            .cte("new_notices")
        _WITH_OUTBOX.append(select(new_outbox.c.id, select(func.count()).select_from(new_notices).scalar_subquery()))
    return _WITH_OUTBOX[0]


def notice_title(topic: str | None, lang: str) -> str:
    """A notice's title in ``lang``: what kind of notice it is (case, deadline, enforcement)."""
    key = f"notice_topic_{topic}"
    text = t(key, lang=lang)
    return t("notice_topic_other", lang=lang) if text == key else text


# --- reading -------------------------------------------------------------------------------

def mine(session, staff_id: int, *, unread: bool = False, before: int | None = None, limit: int = 50):
    """My notices, newest first, keyset-paged by id: the next page is ``before=<last id>``.
    Returns (notices, next cursor or None)."""
    query = select(PersonalNotice).where(PersonalNotice.staff_id == staff_id)
    if unread:
        query = query.where(PersonalNotice.read_at.is_(None))
    if before is not None:
        query = query.where(PersonalNotice.id < before)
    rows = list(session.scalars(query.order_by(PersonalNotice.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def counts(session, staff_id: int) -> dict:
    total, unread = session.execute(
        select(func.count(PersonalNotice.id),
               func.count(PersonalNotice.id).filter(PersonalNotice.read_at.is_(None)))
        .where(PersonalNotice.staff_id == staff_id)).one()
    return {"total": total or 0, "unread": unread or 0}


def mark_read(session, staff_id: int, *, ids=None, up_to: int | None = None) -> int:
    """Mark my notices read: those of ``ids`` and/or every one up to and including id
    ``up_to``. Another person's ids are ignored (the WHERE names me). Already read ones keep
    their first ``read_at``. Returns how many changed now."""
    conditions = []
    if ids:
        conditions.append(PersonalNotice.id.in_(sorted(set(ids))))
    if up_to is not None:
        conditions.append(PersonalNotice.id <= up_to)
    if not conditions:
        return 0
    stmt = update(PersonalNotice).where(PersonalNotice.staff_id == staff_id, PersonalNotice.read_at.is_(None),
                                        or_(*conditions)) \
        .values(read_at=utcnow(), change_seq=_change_seq(session)).execution_options(synchronize_session="fetch")
    return session.execute(stmt).rowcount or 0


# --- the sync feed -------------------------------------------------------------------------

@dataclass
class NoticeChanges:
    notices: list          # PersonalNotice rows, new or read since the cursor (some may repeat)
    cursor: int            # pass it back as ``since`` next time
    more: bool             # True: call again at once with ``cursor``


def changed_since(session, staff_id: int, since: int | None = None, *, limit: int = 500) -> NoticeChanges:
    """My notices written or read since ``since`` (a cursor this function returned; None: all).

    The cursor is the server's, never a clock. A notice may come twice (the feed errs on the
    side of repeating, never of missing); clients upsert by ``id``. A transaction that
    started before a pull and commits after it is in the next pull (module docstring). When
    ``more`` is True, call again at once with the returned cursor."""
    if _postgres(session):
        horizon = session.scalar(text(f"SELECT {PG_HORIZON}"))
    else:
        horizon = (session.scalar(select(func.max(PersonalNotice.change_seq))) or 0) + 1
    query = select(PersonalNotice).where(PersonalNotice.staff_id == staff_id)
    if since is not None:
        query = query.where(PersonalNotice.change_seq >= since)
    ordered = query.order_by(PersonalNotice.change_seq, PersonalNotice.id)
    rows = list(session.scalars(ordered.limit(limit + 1)))
    cursor = horizon if since is None else max(horizon, since)
    if len(rows) <= limit:
        return NoticeChanges(rows, cursor, False)
    last = rows[limit - 1].change_seq
    if last >= horizon:  # the page reaches transactions still settling: send the rest now
        return NoticeChanges(list(session.scalars(ordered)), cursor, False)
    # finish the last transaction's notices, so the cursor can move past it
    rows = rows[:limit] + list(session.scalars(select(PersonalNotice).where(
        PersonalNotice.staff_id == staff_id, PersonalNotice.change_seq == last,
        PersonalNotice.id > rows[limit - 1].id).order_by(PersonalNotice.id)))
    return NoticeChanges(rows, last + 1, True)


def notice_for(session, staff_id: int, outbox_id: int):
    """The notice of outbox row ``outbox_id`` in ``staff_id``'s inbox, or None."""
    return session.scalar(select(PersonalNotice).where(PersonalNotice.staff_id == staff_id,
                                                       PersonalNotice.outbox_id == outbox_id))


__all__ = ["NoticeChanges", "changed_since", "counts", "mark_read", "mine", "notice_title", "write_notices"]
