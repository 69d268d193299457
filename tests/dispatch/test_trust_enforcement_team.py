"""The enforcement team is not a department to dispatch to (issue 7): the responsibility
matrix refuses rules that name it, dispatching or redispatching to it is refused with a
pointer to ``refer_enforcement`` (the referral stays a verb of its own), and the demo data
sends every category to a department that handles cases."""
from __future__ import annotations

from sqlalchemy import select

from dispatch.cases.models import Case
from grid.demo import load_demo
from grid.models import Department, Responsibility
from tests.dispatch.conftest import do, report


def rules(db_session) -> list[tuple]:
    return sorted((r.category_code, r.grid_code, r.department_id) for r in db_session.scalars(select(Responsibility)))


def test_the_matrix_api_refuses_a_rule_naming_the_enforcement_team(client, city, db_session, admin):
    before = rules(db_session)
    for grid_code in ("*", "31010100100101"):
        r = client.post("/api/v1/matrix", json={"category_code": "E0101", "grid_code": grid_code,
                                                "department_code": "ZF"}, headers=admin)
        assert r.status_code == 422, r.json
        assert r.json["code"] == "validation_error" and "department_code" in r.json["fields"]
        assert "refer_enforcement" in r.json["fields"]["department_code"][0]
    # changing an existing rule to the team is refused the same way
    r = client.post("/api/v1/matrix", json={"category_code": "C0101", "grid_code": "*", "department_code": "ZF"},
                    headers=admin)
    assert r.status_code == 422 and "department_code" in r.json["fields"]
    assert rules(db_session) == before
    r = client.post("/api/v1/matrix", json={"category_code": "E0101", "grid_code": "*", "department_code": "ROAD"},
                    headers=admin)
    assert r.status_code == 200 and r.json["department_code"] == "ROAD"


def test_the_matrix_csv_import_refuses_rows_naming_the_enforcement_team(client, city, db_session, admin):
    before = rules(db_session)
    text = ("category_code,grid_code,department_code,note\n"
            "E0101,*,ROAD,fine\n"
            "E0304,*,ZF,\n"
            "E0505,31010100100101,ZF,\n")
    r = client.post("/api/v1/matrix/import", headers=admin, data=text.encode(), content_type="text/csv")
    assert r.status_code == 422 and r.json["code"] == "invalid_rows", r.json
    got = [(e["line"], e["column"], e["value"]) for e in r.json["details"]]
    assert got == [(3, "department_code", "ZF"), (4, "department_code", "ZF")]
    assert all("refer_enforcement" in e["message"] for e in r.json["details"])
    assert rules(db_session) == before


def test_dispatch_and_redispatch_to_the_enforcement_team_are_refused(client, city, db_session):
    n = report(client, city, category="C0101")["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")
    r = client.post(f"/api/v1/cases/{n}/actions/dispatch", json={"department_code": "ZF"},
                    headers=city.h("dispatcher"))
    assert r.status_code == 422 and r.json["code"] == "use_refer_enforcement", r.json
    assert "department_code" in r.json["fields"] and "refer_enforcement" in r.json["message"]
    case = db_session.scalar(select(Case).where(Case.number == n))
    db_session.refresh(case)
    assert case.state == "opened" and case.department_id is None
    do(client, city, "dispatcher", n, "dispatch", department_code="ROAD")
    r = client.post(f"/api/v1/cases/{n}/actions/redispatch", json={"department_code": "ZF"},
                    headers=city.h("dispatcher"))
    assert r.status_code == 422 and r.json["code"] == "use_refer_enforcement", r.json
    c = client.get(f"/api/v1/cases/{n}", headers=city.h("dispatcher")).json
    assert c["state"] == "dispatched" and c["department"]["code"] == "ROAD"
    # the referral is the way to the team, and its leader sees it
    do(client, city, "road", n, "sign")
    c = do(client, city, "road", n, "refer_enforcement", note="违法占道经营，需执法")
    assert c["state"] == "enforcement"
    listed = client.get("/api/v1/enforcement", headers=city.h("zfleader"))
    assert listed.status_code == 200, listed.json
    assert n in str(listed.json)


def test_a_rule_left_from_before_does_not_strand_cases(client, city, db_session):
    """A rule naming the team written before the check (or straight into the database): the
    auto-dispatch of an opened case leaves it for the dispatcher, who is told what to do."""
    rule = db_session.scalar(select(Responsibility).where(Responsibility.category_code == "E0102"))
    rule.department_id = city.departments["zf"].id  # E0102 is dispatched automatically on open
    db_session.flush()
    n = report(client, city, category="E0102")["number"]
    do(client, city, "clerk", n, "accept")
    c = do(client, city, "shift", n, "open")
    assert c["state"] == "opened"
    r = client.post(f"/api/v1/cases/{n}/actions/dispatch", json={}, headers=city.h("dispatcher"))
    assert r.status_code == 422 and r.json["code"] == "use_refer_enforcement", r.json
    c = do(client, city, "dispatcher", n, "dispatch", department_code="ENV")
    assert c["state"] == "dispatched" and c["department"]["code"] == "ENV"


def test_the_demo_matrix_names_no_enforcement_team(db_session):
    load_demo(db_session, echo=lambda *_: None)
    to_team = db_session.scalars(select(Responsibility.category_code).join(Department).where(
        Department.kind == "enforcement_team")).all()
    assert to_team == []
    for code in ("E0101", "E0304", "E0505"):
        kinds = {d.kind for d in db_session.scalars(select(Department).join(
            Responsibility, Responsibility.department_id == Department.id).where(
            Responsibility.category_code == code))}
        assert kinds and kinds <= {"functional", "street_office"}, (code, kinds)
