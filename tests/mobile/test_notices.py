"""My notifications on the phone (/api/m/v1/notifications): every notification addressed to a
person lands in their own inbox, in the transaction of the change, once per person; only
mine are listed, counted and marked read; keyset pages; text in the reader's language."""
from __future__ import annotations

from sqlalchemy import func, select

from dispatch.notifications import notify, personal
from dispatch.notifications.models import Outbox, PersonalNotice
from tests.dispatch.conftest import do, report

URL = "/api/m/v1/notifications"


def dispatched(client, city) -> str:
    """Report, accept, open: E0102 goes to ENV at once, whose handler is told."""
    n = report(client, city)["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")
    return n


def items(client, city, who, query="") -> list[dict]:
    r = client.get(f"{URL}{query}", headers=city.h(who))
    assert r.status_code == 200, r.json
    return r.json["items"]


def test_a_dispatched_case_lands_in_the_handlers_inbox_only(client, city, db_session):
    n = dispatched(client, city)
    mine = items(client, city, "env")
    assert [i["case_number"] for i in mine] == [n]
    notice = mine[0]
    assert notice["topic"] == "case_event" and notice["template"] in ("dispatch", "open")
    assert notice["read"] is False and notice["read_at"] is None
    assert notice["title"] == "案件通知" and n in notice["text"]
    assert notice["created_at"].endswith("+08:00")
    # the handler of another department, the reporter, the dispatcher: nothing of it
    for other in ("road", "worker1", "dispatcher", "leader"):
        assert items(client, city, other) == []
    # the notice was written with its outbox row (same transaction), pointing at it
    row = db_session.get(PersonalNotice, notice["id"])
    outbox = db_session.get(Outbox, row.outbox_id)
    assert outbox.payload["case"] == n and row.staff_id == city.staff["env"].id


def test_text_in_the_readers_language(client, city, db_session):
    dispatched(client, city)
    en = client.get(f"{URL}?lang=en", headers=city.h("env")).json["items"][0]
    assert en["title"] == "Case notice" and en["text"].startswith("[")
    staff = city.staff["env"]
    staff.language = "en"
    db_session.commit()
    assert items(client, city, "env")[0]["title"] == "Case notice"  # the person's own preference


def test_reporter_hears_the_answer_in_the_inbox(client, city):
    n = report(client, city)["number"]
    do(client, city, "clerk", n, "reject", note="不属于受理范围")
    texts = [i["text"] for i in items(client, city, "worker1")]
    assert len(texts) == 1 and n in texts[0]


def test_once_per_person_even_if_listed_twice(db_session, city):
    env = city.staff["env"]
    me = {"kind": "staff", "id": env.id, "name": env.name, "phone": env.phone}
    ids = notify.add_many(db_session, [
        ("twice:1", "case_event", {"text_zh": "一", "text_en": "one", "recipients": [me, dict(me), me]}),
        ("twice:2", "deadline", {"text_zh": "二", "text_en": "two",
                                 "recipients": [me, {"kind": "citizen", "phone": "13900000099"},
                                                {"kind": "staff", "id": 2**31 - 1}]}),  # no such person
    ])
    assert len(ids) == 2
    # one row at a time (a verb's notice: on PostgreSQL row and notices in one statement)
    ids.append(notify.add(db_session, "twice:3", "deadline", {
        "text_zh": "三", "text_en": "three",
        "recipients": [me, dict(me), {"kind": "citizen", "phone": "13900000098"}, {"kind": "staff", "id": 2**31 - 1}]}))
    assert ids[-1] is not None
    assert notify.add(db_session, "twice:1", "case_event", {"recipients": [me]}) is None  # same key: nothing
    assert notify.add(db_session, "twice:3", "deadline", {"text_zh": "又", "recipients": [me]}) is None
    rows = db_session.scalars(select(PersonalNotice).where(PersonalNotice.staff_id == env.id)).all()
    assert sorted(r.text_zh for r in rows) == ["一", "三", "二"]
    assert db_session.scalar(select(func.count(PersonalNotice.id)).where(PersonalNotice.outbox_id.in_(ids))) == 3


def test_counts_read_and_idempotent(client, city, db_session):
    env = city.staff["env"]
    me = {"kind": "staff", "id": env.id}
    for i in range(5):
        notify.add(db_session, f"count:{i}", "deadline", {"text_zh": f"第{i}条", "text_en": f"no {i}",
                                                         "recipients": [me]})
    h = city.h("env")
    assert client.get(f"{URL}/counts", headers=h).json == {"unread": 5, "total": 5}
    ids = [i["id"] for i in items(client, city, "env")]
    assert ids == sorted(ids, reverse=True)  # newest first

    r = client.post(f"{URL}/read", json={"ids": [ids[0], ids[0]]}, headers=h)
    assert r.status_code == 200 and r.json == {"marked": 1, "unread": 4, "total": 5}
    first_read_at = items(client, city, "env")[0]["read_at"]
    r = client.post(f"{URL}/read", json={"ids": [ids[0]]}, headers=h)  # the same again: nothing changes
    assert r.json == {"marked": 0, "unread": 4, "total": 5}
    assert items(client, city, "env")[0]["read_at"] == first_read_at

    assert [i["id"] for i in items(client, city, "env", "?unread=true")] == ids[1:]
    r = client.post(f"{URL}/read", json={"up_to": ids[2]}, headers=h)  # the three oldest
    assert r.json == {"marked": 3, "unread": 1, "total": 5}
    assert [i["id"] for i in items(client, city, "env", "?unread=true")] == [ids[1]]
    assert client.get(f"{URL}/counts", headers=h).json == {"unread": 1, "total": 5}


def test_keyset_pages(client, city, db_session):
    env = city.staff["env"]
    for i in range(7):
        notify.add(db_session, f"page:{i}", "deadline", {"text_zh": str(i), "text_en": str(i),
                                                        "recipients": [{"kind": "staff", "id": env.id}]})
    seen, cursor = [], None
    while True:
        r = client.get(f"{URL}?limit=3" + (f"&cursor={cursor}" if cursor else ""), headers=city.h("env"))
        assert r.status_code == 200
        seen += [i["text"] for i in r.json["items"]]
        cursor = r.json["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(i) for i in reversed(range(7))]
    # a notice written while paging does not shift the pages (keyset, not offset)
    first = client.get(f"{URL}?limit=3", headers=city.h("env")).json
    notify.add(db_session, "page:new", "deadline", {"text_zh": "新", "text_en": "new",
                                                    "recipients": [{"kind": "staff", "id": env.id}]})
    second = client.get(f"{URL}?limit=3&cursor={first['next_cursor']}", headers=city.h("env")).json
    assert [i["text"] for i in second["items"]] == ["3", "2", "1"]


def test_another_persons_notices_are_never_mine(client, city, db_session):
    dispatched(client, city)
    theirs = [i["id"] for i in items(client, city, "env")]
    r = client.post(f"{URL}/read", json={"ids": theirs, "up_to": 2**31 - 1}, headers=city.h("road"))
    assert r.status_code == 200 and r.json == {"marked": 0, "unread": 0, "total": 0}
    assert client.get(f"{URL}/counts", headers=city.h("env")).json == {"unread": 1, "total": 1}
    assert items(client, city, "env")[0]["read"] is False


def test_anonymous_and_bad_input(client, city):
    for method, path, body in (("get", URL, None), ("get", f"{URL}/counts", None),
                               ("post", f"{URL}/read", {"ids": [1]})):
        assert getattr(client, method)(path, json=body).status_code == 401
        bad = {"Authorization": "Bearer nope"}
        assert getattr(client, method)(path, json=body, headers=bad).status_code == 401
    h = city.h("env")
    for query in ("?cursor=0", f"?cursor={2**31}", f"?cursor={10**30}", "?limit=0", "?limit=201", "?unread=maybe",
                  "?unred=true", "?cursor=1%00"):
        r = client.get(f"{URL}{query}", headers=h)
        assert r.status_code == 422, (query, r.json)
    for body in ({}, {"ids": []}, {"ids": [0]}, {"ids": [2**31]}, {"up_to": 10**40}, {"ids": ["1\x00"]},
                 {"ids": list(range(1, 502))}, {"ids": [1], "mine": True}, {"ids": "1"}):
        r = client.post(f"{URL}/read", json=body, headers=h)
        assert r.status_code == 422, (body, r.json)
    assert client.get(f"{URL}/counts?x=1", headers=h).status_code == 422


def test_changed_since_brings_new_and_read_notices(client, city, db_session):
    """The service the sync pull calls: new notices, then the ones read since the cursor."""
    env = city.staff["env"].id
    for i in range(3):
        notify.add(db_session, f"feed:{i}", "deadline", {"text_zh": str(i), "text_en": str(i),
                                                        "recipients": [{"kind": "staff", "id": env}]})
    first = personal.changed_since(db_session, env, None)
    assert [n.text_zh for n in first.notices] == ["0", "1", "2"] and not first.more
    ids = [n.id for n in first.notices]
    personal.mark_read(db_session, env, ids=[ids[1]])
    notify.add(db_session, "feed:3", "deadline", {"text_zh": "3", "text_en": "3",
                                                 "recipients": [{"kind": "staff", "id": env}]})
    # one test transaction: every change shares its id, so all come again (repeats, never misses)
    again = personal.changed_since(db_session, env, first.cursor)
    assert {n.text_zh for n in again.notices} >= {"1", "3"}
    assert {n.id: n.read_at is not None for n in again.notices}[ids[1]] is True
    assert personal.changed_since(db_session, city.staff["road"].id, None).notices == []


def test_changed_since_never_misses_a_late_commit(fresh_pg_url):
    """A slow transaction writes a notice first (the lower id) and commits after a fast one
    and after a pull: the next pull from that pull's cursor still brings it. An id cursor
    would have skipped it."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from grid.models import Staff

    engine = create_engine(fresh_pg_url)
    try:
        with Session(engine) as setup:
            me = Staff(username="late-commit", name="迟到", password_hash="x")
            setup.add(me)
            setup.commit()
            staff_id = me.id
        recipients = [{"kind": "staff", "id": staff_id}]
        slow, fast, puller = Session(engine), Session(engine), Session(engine)
        notify.add(slow, "late:slow", "deadline", {"text_zh": "慢", "text_en": "slow", "recipients": recipients})
        slow.flush()
        notify.add(fast, "late:fast", "deadline", {"text_zh": "快", "text_en": "fast", "recipients": recipients})
        fast.commit()

        first = personal.changed_since(puller, staff_id, None)
        assert [n.text_zh for n in first.notices] == ["快"]
        puller.commit()
        slow.commit()  # commits after the pull, with the lower id

        second = personal.changed_since(puller, staff_id, first.cursor)
        texts = {n.text_zh: n.id for n in second.notices}
        assert "慢" in texts and texts["慢"] < max(n.id for n in first.notices)
        puller.commit()
        third = personal.changed_since(puller, staff_id, second.cursor)
        # nothing new; repeats only while some older transaction (anywhere in the cluster:
        # xids are cluster-wide) is still running, and the cursor never goes back
        assert {n.text_zh for n in third.notices} <= {"慢", "快"} and third.cursor >= second.cursor
        for s in (slow, fast, puller):
            s.close()
    finally:
        engine.dispose()


def test_by_role_in_one_statement_is_what_with_role_and_add_make(db_session, city):
    """``notify.add_for_role`` (PostgreSQL: recipients, row and notices in one statement) gives
    the payload ``with_role`` would list (active holders of the role in the department, by id)
    and a notice for each of them; nobody holding the role means no row; a key seen before
    adds nothing."""
    from grid import roles as R
    from tests.factories import DepartmentFactory, StaffFactory

    dept = DepartmentFactory(code="FOLD", name="一条语句局")
    other = DepartmentFactory(code="FOLD2", name="隔壁局")
    second, first = (StaffFactory(roles=[R.DEPARTMENT_HANDLER], department_id=dept.id, phone=p)
                     for p in ("13900000101", None))
    StaffFactory(roles=[R.DEPARTMENT_HANDLER], department_id=dept.id, active=False)
    StaffFactory(roles=[R.DEPARTMENT_HANDLER], department_id=other.id)
    StaffFactory(roles=[R.LEADER], department_id=dept.id)
    db_session.flush()
    payload = {"template": "dispatch", "case": "C-1", "case_id": 1, "text_zh": "派单", "text_en": "dispatched"}
    row_id = notify.add_for_role(db_session, "fold:1", "case_event", payload, R.DEPARTMENT_HANDLER, dept.id)
    assert row_id is not None
    row = db_session.get(Outbox, row_id)
    expected = notify.with_role(db_session, R.DEPARTMENT_HANDLER, dept.id)
    assert [r["id"] for r in expected] == sorted([first.id, second.id])
    assert row.payload == {**payload, "recipients": expected} and row.enqueued_at is None
    notices = db_session.scalars(select(PersonalNotice).where(PersonalNotice.outbox_id == row_id)).all()
    assert sorted(n.staff_id for n in notices) == sorted([first.id, second.id])
    assert {(n.text_zh, n.text_en, n.case_number, n.template) for n in notices} == {("派单", "dispatched", "C-1",
                                                                                      "dispatch")}
    assert notify.add_for_role(db_session, "fold:1", "case_event", payload, R.DEPARTMENT_HANDLER, dept.id) is None
    assert notify.add_for_role(db_session, "fold:2", "case_event", payload, R.SHIFT_LEADER, other.id) is None
    assert db_session.scalar(select(func.count(Outbox.id)).where(Outbox.dedup_key.like("fold:%"))) == 1
    assert db_session.scalar(select(func.count(PersonalNotice.id)).where(PersonalNotice.outbox_id == row_id)) == 2
