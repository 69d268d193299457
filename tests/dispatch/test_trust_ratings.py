"""One rating per closure (issue 7): a second rating is refused for citizens and for intake
clerks entering a phone rating; a reopen after a bad rating allows a new one after the new
closure. The public endpoints are rate limited per client address and per tracking code."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from dispatch.cases.models import Case, CaseEvent
from dispatch.notifications.models import Outbox
from tests.dispatch.conftest import POINT_G2, do
from tests.dispatch.test_paths import STEPS


def address() -> dict:
    n = uuid.uuid4().int
    return {"REMOTE_ADDR": f"10.{n % 250 + 1}.{n // 250 % 250}.{n // 62500 % 250 + 1}"}


def closed_citizen_case(client, city) -> tuple[str, str]:
    r = client.post("/api/v1/public/reports", json={"description": "路灯不亮", "category_code": "C0101",
                                                    "lon": POINT_G2[0], "lat": POINT_G2[1], "phone": "13955556666"},
                    environ_base=address())
    assert r.status_code == 201, r.json
    n, code = r.json["number"], r.json["tracking_code"]
    for who, verb, body in STEPS["closed"]:
        do(client, city, "worker2" if who == "worker1" else who, n, verb, **body)
    return n, code


def rate(client, code, rating, env=None, **extra):
    return client.post(f"/api/v1/public/reports/{code}/rating", json={"rating": rating, **extra},
                       environ_base=env or address())


def rate_events(db_session, number) -> list[CaseEvent]:
    case = db_session.scalar(select(Case).where(Case.number == number))
    return list(db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.verb == "rate")))


def rate_notifications(db_session, number) -> int:
    return sum(1 for row in db_session.scalars(select(Outbox))
               if row.payload.get("case") == number and row.payload.get("template") == "rate")


def test_a_citizen_rates_once(client, city, db_session):
    n, code = closed_citizen_case(client, city)
    r = rate(client, code, "unsatisfied", note="灯还是不亮")
    assert r.status_code == 200 and r.json["rating"] == "unsatisfied"
    notified = rate_notifications(db_session, n)
    for rating in ("satisfied", "unsatisfied"):
        r = rate(client, code, rating)
        assert r.status_code == 409 and r.json["code"] == "already_rated", r.json
        assert n in r.json["message"]
    assert db_session.scalar(select(Case.rating).where(Case.number == n)) == "unsatisfied"
    assert len(rate_events(db_session, n)) == 1
    assert rate_notifications(db_session, n) == notified


def test_a_clerk_cannot_rate_over_a_citizen_nor_twice(client, city, db_session):
    n, code = closed_citizen_case(client, city)
    assert rate(client, code, "unsatisfied").status_code == 200
    r = client.post(f"/api/v1/cases/{n}/actions/rate", json={"rating": "satisfied", "note": "电话回访"},
                    headers=city.h("clerk"))
    assert r.status_code == 409 and r.json["code"] == "already_rated"
    m, code2 = closed_citizen_case(client, city)
    do(client, city, "clerk", m, "rate", rating="basically_satisfied", note="电话回访")
    r = client.post(f"/api/v1/cases/{m}/actions/rate", json={"rating": "satisfied"}, headers=city.h("clerk"))
    assert r.status_code == 409 and r.json["code"] == "already_rated"
    assert rate(client, code2, "unsatisfied").json["code"] == "already_rated"
    assert [e.data["rating"] for e in rate_events(db_session, m)] == ["basically_satisfied"]


def test_after_a_reopen_the_new_closure_can_be_rated_once(client, city, db_session):
    n, code = closed_citizen_case(client, city)
    assert rate(client, code, "unsatisfied").status_code == 200
    do(client, city, "clerk", n, "follow_up", outcome="note", note="已解释")
    assert rate(client, code, "satisfied").json["code"] == "already_rated"  # a note reopens nothing
    c = do(client, city, "clerk", n, "follow_up", outcome="reopen", note="回访：仍未修好")
    assert c["rating"] is None and c["state"] == "opened"
    r = rate(client, code, "satisfied")
    assert r.status_code == 409 and r.json["code"] == "verb_not_allowed"  # not closed yet
    for who, verb, body in STEPS["closed"][2:]:
        do(client, city, "worker2" if who == "worker1" else who, n, verb, **body)
    assert rate(client, code, "satisfied").status_code == 200
    assert rate(client, code, "unsatisfied").json["code"] == "already_rated"
    assert [e.data["rating"] for e in rate_events(db_session, n)] == ["unsatisfied", "satisfied"]


# --- rate limits ---------------------------------------------------------------------------

def assert_limited(r):
    assert r.status_code == 429, (r.status_code, r.json)
    assert r.json["code"] == "rate_limited" and r.json["status"] == 429 and r.json["message"]
    assert int(r.headers["Retry-After"]) > 0


def test_ratings_of_one_code_are_limited_whatever_the_address(client, city, db_session):
    n, code = closed_citizen_case(client, city)
    answers = [rate(client, code, "satisfied").status_code for _ in range(5)]
    assert answers == [200, 409, 409, 409, 409]
    assert_limited(rate(client, code, "unsatisfied"))
    # another case's code is not affected
    _, other = closed_citizen_case(client, city)
    assert rate(client, other, "satisfied").status_code == 200


def test_ratings_from_one_address_are_limited(client, city, db_session):
    env = address()
    codes = [f"NOSUCH{i:04d}" for i in range(20)]
    assert {rate(client, c, "satisfied", env).status_code for c in codes} == {404}
    assert_limited(rate(client, "NOSUCH9999", "satisfied", env))
    assert rate(client, "NOSUCH9999", "satisfied").status_code == 404  # another address


def test_tracking_reads_are_limited_per_address_and_per_code(client, city, db_session):
    _, code = closed_citizen_case(client, city)
    env = address()
    codes = [code] + [f"NOSUCH{i:04d}" for i in range(3)]
    for i in range(60):
        assert client.get(f"/api/v1/public/reports/{codes[i % 4]}", environ_base=env).status_code in (200, 404)
    assert_limited(client.get(f"/api/v1/public/reports/{code}", environ_base=env))
    # one code read from many addresses (someone polling or guessing it) is limited too
    _, code = closed_citizen_case(client, city)
    for _ in range(30):
        assert client.get(f"/api/v1/public/reports/{code}", environ_base=address()).status_code == 200
    assert_limited(client.get(f"/api/v1/public/reports/{code}", environ_base=address()))


def test_reports_from_one_address_are_limited(client, city, db_session):
    env = address()
    for i in range(20):
        r = client.post("/api/v1/public/reports", json={"description": f"路灯不亮 {i}", "address": "测试路 9 号"},
                        environ_base=env)
        assert r.status_code == 201
    assert_limited(client.post("/api/v1/public/reports", json={"description": "路灯不亮", "address": "测试路 9 号"},
                               environ_base=env))
