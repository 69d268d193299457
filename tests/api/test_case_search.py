"""The case queue's search (``q``), day range and counts per light, over HTTP on PostGIS.

Each kind of search (number, title, description, address, the reporter's phone or its last
digits); what each role finds (a department handler only its department's cases, whatever it
searches; the phone only for those who see it in the case's answer); cursor pages with ``q``;
``GET /api/v1/cases/counts`` equal to the list it counts, for several filters; bad input is a
422 naming the field; the counts' statements do not grow with the table."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from dispatch.cases.list_indexes import SEARCH_INDEXES
from tests.api.test_statement_counts import counting
from tests.dispatch.conftest import city  # noqa: F401 - the fixture
from tests.factories import CaseFactory, StageClockFactory
from wangge.timeutil import utcnow

ROLES = ("clerk", "shift", "dispatcher", "env", "road", "leader", "worker1", "worker2", "zfleader", "officer")


def listed(client, headers, **query) -> list[str]:
    """Every number of the list, page after page (``limit`` per page)."""
    numbers, cursor = [], None
    while True:
        r = client.get("/api/v1/cases", query_string={**query, **({"cursor": cursor} if cursor else {})},
                       headers=headers)
        assert r.status_code == 200, (query, r.json)
        numbers += [c["number"] for c in r.json["cases"]]
        cursor = r.json["next_cursor"]
        if cursor is None:
            return numbers


def counted(client, headers, **query) -> dict:
    r = client.get("/api/v1/cases/counts", query_string=query, headers=headers)
    assert r.status_code == 200, (query, r.json)
    return r.json


def refused(client, headers, path, **query) -> dict:
    r = client.get(path, query_string={**query, "lang": "en"}, headers=headers)
    assert r.status_code == 422, (query, r.status_code, r.json)
    return r.json


@pytest.fixture
def cases(city, db_session):  # noqa: F811
    """A few cases of both departments with words, addresses and phones to find."""
    env, road = city.departments["env"], city.departments["road"]
    made = {
        "garbage": CaseFactory(state="handling", department=env, title="暴露垃圾", description="路边有一堆垃圾 Garbage",
                               address="南京东路100号", reporter_phone="138-0013-4567"),
        "lid": CaseFactory(state="handling", department=road, title="井盖缺失", description="人行道井盖缺失，垃圾桶旁",
                           address="南京东路200号", reporter_phone="13900007777"),
        "tree": CaseFactory(state="dispatched", department=env, title="树木倒伏", description="大风吹倒行道树",
                            address="福州路5号", reporter_phone="+86 137 0000 2222"),
        "odd": CaseFactory(state="reported", title="100%_完成", description="通配符 50% off_sale", address=None),
    }
    db_session.flush()
    return made


def test_each_kind_of_search(client, city, cases):  # noqa: F811
    h = city.h("dispatcher")
    n = {k: c.number for k, c in cases.items()}
    assert listed(client, h, q=n["lid"]) == [n["lid"]]  # the number, exactly
    assert listed(client, h, q=n["lid"][:-1]) == []  # not a part of it
    assert listed(client, h, q="井盖") == [n["lid"]]  # title
    assert listed(client, h, q="大风吹倒") == [n["tree"]]  # description
    assert listed(client, h, q="garbage") == [n["garbage"]]  # any case
    assert set(listed(client, h, q="南京东路")) == {n["garbage"], n["lid"]}  # address
    assert set(listed(client, h, q="垃圾")) == {n["garbage"], n["lid"]}  # title of one, description of both
    # the phone: whole or its last digits, separators ignored on both sides
    assert listed(client, h, q="13800134567") == [n["garbage"]]
    assert listed(client, h, q="4567") == [n["garbage"]]
    assert listed(client, h, q="0013-4567") == [n["garbage"]]
    assert listed(client, h, q="2222") == [n["tree"]]
    assert listed(client, h, q="8613700002222") == [n["tree"]]
    assert listed(client, h, q="0000") == []  # digits in the middle of a phone are not its end
    # LIKE's wildcards are characters like any other
    assert listed(client, h, q="0%_") == [n["odd"]]
    assert listed(client, h, q="%%") == []
    assert listed(client, h, q="__") == []
    # surrounding spaces dropped; an emptied box is no search
    assert listed(client, h, q="  井盖 ") == [n["lid"]]
    assert set(listed(client, h, q="")) >= set(n.values())
    # with the other filters
    assert listed(client, h, q="南京东路", department="ENV") == [n["garbage"]]
    assert listed(client, h, q="垃圾", state="handling", sort="deadline") == [n["garbage"], n["lid"]]


def test_search_text_is_data_and_every_execution_is_planned_for_its_values(client, city, db_session):  # noqa: F811
    """Quotes, percent signs, backslashes and parameter-like text are characters of the
    search; the connections plan each execution for its own values (a prepared statement's
    one generic plan walked the whole deadline order for a case number: 1.5 s at 1,000,000
    cases), so repeating a search more than psycopg's prepare threshold gives the same rows."""
    tricky = "O'Brien %(x)s :name \\ 100%"
    made = CaseFactory(state="handling", title=f"井盖 {tricky}", description="x").number
    CaseFactory(state="handling", title="井盖 other", description="x")
    db_session.flush()
    h = city.h("dispatcher")
    for q in (tricky, "O'Brien", "%(x)s", ":name", ":name \\ 1", "n %(x)s :na"):
        for sort in ("newest", "deadline"):
            assert listed(client, h, q=q, sort=sort) == [made], (q, sort)
    assert listed(client, h, q="O'Brien'; DROP TABLE cases; --") == []
    assert db_session.execute(text("SELECT count(*) FROM cases")).scalar() >= 2
    for _ in range(7):  # past psycopg's prepare threshold (5)
        assert listed(client, h, q="井盖", sort="deadline") == [made, *listed(client, h, q="other")]
    prepared = db_session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert prepared, "psycopg prepares the statements run 5 times on this connection"
    assert not [sql for sql in prepared if "ILIKE" in sql.upper()], prepared  # the list's: planned per run


def test_a_department_handler_finds_only_its_departments_cases(client, city, cases):  # noqa: F811
    n = {k: c.number for k, c in cases.items()}
    env = city.h("env")
    assert listed(client, env, q="垃圾") == [n["garbage"]]
    assert listed(client, env, q=n["lid"]) == []  # another department's number: nothing
    assert listed(client, env, q="7777") == []  # another department's reporter
    assert counted(client, env, q="垃圾")["total"] == 1
    assert counted(client, env, q=n["lid"])["total"] == 0
    road = city.h("road")
    assert listed(client, road, q="南京东路") == [n["lid"]]
    assert listed(client, city.h("worker1"), q="垃圾") == []  # nothing in their grid nor reported


def test_phone_search_is_for_whoever_sees_the_phone(client, city, cases):  # noqa: F811
    """Role by role, the phone search finds a case exactly when the case's answer shows that
    role the reporter's phone (scope.sees_reporter_phone keeps the two together)."""
    case = cases["lid"]
    for who in ROLES:
        h = city.h(who)
        detail = client.get(f"/api/v1/cases/{case.number}", headers=h)
        shows = detail.status_code == 200 and detail.json["reporter"]["phone"] == "13900007777"
        found = case.number in listed(client, h, q="7777")
        assert found == shows, (who, detail.status_code, found)
        assert (counted(client, h, q="7777")["total"] == 1) == shows, who
    assert client.get("/api/v1/cases", query_string={"q": "7777"}).status_code == 401
    assert client.get("/api/v1/cases/counts", query_string={"q": "7777"}).status_code == 401


def test_cursor_pages_with_a_search(client, city, db_session):  # noqa: F811
    env = city.departments["env"]
    now = utcnow()
    matching = []
    for i in range(7):
        c = CaseFactory(state="handling", department=env, description=f"共享单车乱停放 {i}")
        CaseFactory(state="handling", department=env, description=f"无关 {i}")
        db_session.flush()
        if i % 2:
            StageClockFactory(case=c, started_at=now - timedelta(hours=i))
        matching.append(c.number)
    h = city.h("dispatcher")
    newest = listed(client, h, q="单车", limit=3)
    assert newest == sorted(matching, key=lambda n: -next(i for i, m in enumerate(matching) if m == n))
    by_deadline = listed(client, h, q="单车", limit=2, sort="deadline")
    assert sorted(by_deadline) == sorted(matching) and len(by_deadline) == 7
    # a cursor of one search read with another search still only answers matches
    r = client.get("/api/v1/cases", query_string={"q": "单车", "limit": 3}, headers=h)
    more = client.get("/api/v1/cases", query_string={"q": "无关", "cursor": r.json["next_cursor"]}, headers=h)
    assert more.status_code == 200 and all("无关" not in n for n in more.json["cases"])


def test_counts_equal_the_list(client, city, db_session, cases):  # noqa: F811
    env = city.departments["env"]
    now = utcnow()
    # lights: red (overdue), yellow (warned), green, paused (counted as none), none
    red = CaseFactory(state="handling", department=env, description="红灯 垃圾")
    yellow = CaseFactory(state="handling", department=env, description="黄灯 垃圾")
    green = CaseFactory(state="handling", department=env, description="绿灯")
    paused = CaseFactory(state="suspended", department=env, description="挂账 垃圾")
    db_session.flush()
    StageClockFactory(case=red, warn_at=now - timedelta(hours=2), due_at=now - timedelta(hours=1))
    StageClockFactory(case=yellow, warn_at=now - timedelta(hours=1), due_at=now + timedelta(hours=1))
    StageClockFactory(case=green, warn_at=now + timedelta(hours=1), due_at=now + timedelta(hours=2))
    StageClockFactory(case=paused, segment_started_at=None, consumed=3.9)
    CaseFactory(reported_at=datetime(2024, 3, 1, 2, 0, tzinfo=UTC), description="旧案 垃圾")  # 10:00 in Shanghai
    db_session.flush()
    combos = [{}, {"q": "垃圾"}, {"state": "handling"}, {"department": "ENV"}, {"department": "ENV", "q": "垃圾"},
              {"light": "red"}, {"light": "green", "q": "绿灯"}, {"supervised": "false", "state": "handling,suspended"},
              {"reported_from": "2024-03-01", "reported_to": "2024-03-01"}, {"reported_to": "2024-02-29"},
              {"reported_from": "2024-03-02", "q": "垃圾"}, {"grid": "310101001"}]
    for who in ("dispatcher", "env", "road", "worker1"):
        h = city.h(who)
        for combo in combos:
            counts = counted(client, h, **combo)
            assert counts["total"] == len(listed(client, h, limit=500, **combo)), (who, combo, counts)
            assert counts["total"] == sum(counts["lights"].values())
    h = city.h("dispatcher")
    for light in ("green", "yellow", "red"):  # each light's count is what its filter lists
        assert counted(client, h)["lights"][light] == len(listed(client, h, light=light, limit=500)), light
    assert counted(client, h, q="垃圾", department="ENV")["lights"] == {"green": 0, "yellow": 1, "red": 1, "none": 2}
    assert counted(client, h, reported_from="2024-03-01", reported_to="2024-03-01")["total"] == 1
    assert counted(client, h, reported_from="2024-03-01", reported_to="2024-03-01", lang="en")["total"] == 1


def test_bad_input_is_a_422_naming_the_field(client, city, cases):  # noqa: F811
    h = city.h("dispatcher")
    for path in ("/api/v1/cases", "/api/v1/cases/counts"):
        assert list(refused(client, h, path, q="井" * 101)["fields"]) == ["q"]
        assert list(refused(client, h, path, q="井")["fields"]) == ["q"]  # one character matches anything
        nul = refused(client, h, path, q="井盖\x00")
        assert nul["code"] == "invalid_characters" and list(nul["fields"]) == ["q"]
        assert list(refused(client, h, path, q="井盖\x01x")["fields"]) == ["q"]
        assert list(refused(client, h, path, q="a\nb")["fields"]) == ["q"]
        for day in ("0001-01-01", "9999-12-31", "2026-02-30", "yesterday", "2026-01-01T00:00:00"):
            assert list(refused(client, h, path, reported_from=day)["fields"]) == ["reported_from"], day
            assert list(refused(client, h, path, reported_to=day)["fields"]) == ["reported_to"], day
        wrong = refused(client, h, path, reported_from="2026-03-02", reported_to="2026-03-01")
        assert list(wrong["fields"]) == ["reported_to"] and "reported_from" in wrong["fields"]["reported_to"][0]
        assert list(refused(client, h, path, light="blue", q="井盖")["fields"]) == ["light"]
        assert list(refused(client, h, path, department="NOPE", q="井盖")["fields"]) == ["department"]
    assert list(refused(client, h, "/api/v1/cases/counts", sort="deadline")["fields"]) == ["sort"]
    assert list(refused(client, h, "/api/v1/cases/counts", cursor="x")["fields"]) == ["cursor"]


def test_counts_statements_do_not_grow_with_the_table(client, city, db_session):  # noqa: F811
    """Three cases or four hundred: the same statements, one of them reading cases (the capped
    counts, each a LIMIT), and a capped total that is still exact under the cap."""
    h = city.h("env")
    query = {"q": "垃圾", "state": "handling,dispatched", "category": "E0102"}

    def statements() -> list[str]:
        client.get("/api/v1/cases/counts", query_string=query, headers=h)  # warm the caches
        with counting() as seen:
            r = client.get("/api/v1/cases/counts", query_string=query, headers=h)
        assert r.status_code == 200, r.json
        return seen

    env = city.departments["env"]
    for _ in range(3):
        CaseFactory(state="handling", department=env, description="垃圾", category_code="E0102")
    db_session.commit()
    few = statements()
    db_session.execute(text(
        "INSERT INTO cases (number, tracking_code, channel, description, state, department_id, supervised, "
        "category_code, reported_at, updated_at, version) SELECT 'S' || g, 'T' || g, 'web', '垃圾 ' || g, "
        "CASE WHEN g % 2 = 0 THEN 'handling' ELSE 'closed' END, :dept, false, 'E0102', now(), now(), 1 "
        "FROM generate_series(1, 400) g"), {"dept": env.id})
    db_session.commit()
    many = statements()
    assert len(many) == len(few), (few, many)
    assert sum("FROM cases" in s and "count(*)" in s for s in many) == 1, many
    assert counted(client, h, **query)["total"] == 203


def test_the_search_indexes_are_trigram_gin_and_used(db_session, city):  # noqa: F811
    """Migration 0020 made the indexes of list_indexes.SEARCH_INDEXES; the search's own SQL (the
    phone's expression included) is answered from them when a scan is not an option."""
    from dispatch.workflow.queue import search_clause

    found = dict(db_session.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases' AND indexname LIKE 'ix_cases_search%'")).all())
    assert set(found) == set(SEARCH_INDEXES)
    assert all("USING gin" in d and "gin_trgm_ops" in d for d in found.values()), found
    from sqlalchemy import select

    from dispatch.cases.models import Case

    db_session.execute(text("SET LOCAL enable_seqscan = off"))
    for q, index in (("井盖缺失", "ix_cases_search_text"), ("13900007777", "ix_cases_search_phone")):
        query = select(Case.id).where(search_clause(q, city.staff["dispatcher"]))
        sql = str(query.compile(db_session.get_bind(), compile_kwargs={"literal_binds": True}))
        plan = "\n".join(db_session.execute(text("EXPLAIN " + sql)).scalars())
        assert index in plan, plan
