"""The case page's shell over HTTP: the verbs' forms rendered as data from the lifecycle table,
the reference lists, the calls the person's roles allow; who is refused and how (anonymous to
the sign-in page, a person without a desk role a 403 page, a case not theirs the API's 404)."""
from __future__ import annotations

import json
import re

import pytest

from dispatch.cases.lifecycle import CITIZEN, SYSTEM, VERBS
from tests.factories import CaseFactory, DepartmentFactory

SETUP = re.compile(r'<script type="application/json" id="case-setup">(.*?)</script>', re.S)
WORDS = re.compile(r'<script type="application/json" id="words">(.*?)</script>', re.S)


def setup_of(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return json.loads(SETUP.search(response.get_data(as_text=True)).group(1))


def test_the_shell_renders_every_verb_form_from_the_lifecycle_table(client, login, db_session):
    clerk = login("intake_clerk")
    DepartmentFactory(code="DZF", kind="enforcement_team")
    DepartmentFactory(code="DFN", kind="functional", name="市政")
    case = CaseFactory()
    r = client.get(f"/console/cases/{case.number}", headers=clerk)
    setup = setup_of(r)
    assert setup["number"] == case.number
    verbs = setup["verbs"]
    # every verb a person may use, none that only the system or a citizen uses
    people = {n for n, v in VERBS.items() if not set(v.roles) <= {SYSTEM, CITIZEN}}
    assert people <= set(verbs)
    assert not {"enforcement_result", "close_with_master"} & set(verbs)
    fields = {name: {f["name"]: f for f in form["fields"]} for name, form in verbs.items()}
    assert fields["reject"]["note"]["required"] is True and fields["reject"]["note"]["kind"] == "text"
    assert fields["accept"]["note"]["required"] is False  # a note may go with any verb
    assert fields["verify"]["outcome"]["required"] is True
    assert [c[0] for c in fields["verify"]["outcome"]["choices"]] == list(VERBS["verify"].outcomes)
    assert fields["verify"]["outcome"]["choices"][0][1] == "属实"
    assert fields["dispatch"]["department_code"] == {
        "name": "department_code", "kind": "department", "label": "处置部门", "required": False}
    assert fields["redispatch"]["department_code"]["required"] is True
    assert fields["request_suspend"]["review_date"]["kind"] == "date"
    assert fields["merge"]["into"]["kind"] == "case"
    assert [c[0] for c in fields["rate"]["rating"]["choices"]] == ["satisfied", "basically_satisfied", "unsatisfied"]
    assert verbs["self_handle"]["needs_photos"] is True and "attachments" not in fields["self_handle"]
    assert verbs["accept"]["label"] == "受理"
    # the two verbs of the other branch: their forms are ready (category select; a place)
    assert fields["reclassify"]["category_code"]["kind"] == "category"
    assert fields["relocate"]["place"]["kind"] == "place"
    # departments one may dispatch to (not the enforcement team nor the dispatch center)
    codes = {d["code"] for d in setup["departments"]}
    assert "DFN" in codes and "DZF" not in codes
    assert setup["categories"] and all(group["items"] for group in setup["categories"])
    assert setup["may"] == {"explain": True, "nearby": True, "grids": True, "grid": True}
    words = json.loads(WORDS.search(r.get_data(as_text=True)).group(1))
    assert words["verb_accept"] == "受理" and words["console_outcome_refuse"] == "不同意"
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    html = r.get_data(as_text=True)
    assert "<script>" not in html and 'id="c-events" class="timeline"' in html  # the timeline is a list


def test_the_shell_speaks_english_and_knows_what_a_handler_may_call(client, login, db_session):
    dept = DepartmentFactory()
    handler = login("department_handler", department=dept)
    case = CaseFactory(state="handling", department=dept)
    r = client.get(f"/console/cases/{case.number}?lang=en", headers=handler)
    setup = setup_of(r)
    assert setup["verbs"]["reject"]["label"] == "Reject"
    assert {f["name"]: f["label"] for f in setup["verbs"]["reject"]["fields"]}["note"] == "Note"
    assert setup["may"]["explain"] is False  # the matrix's explanation is the dispatch center's
    assert setup["may"]["grid"] is True
    assert '<html lang="en">' in r.get_data(as_text=True)


def test_anonymous_goes_to_sign_in_and_no_desk_role_is_refused(client, login, db_session):
    case = CaseFactory()
    r = client.get(f"/console/cases/{case.number}")
    assert r.status_code == 302 and r.headers["Location"] == f"/console/login?next=/console/cases/{case.number}"
    nobody = login()  # an account with no role at all
    r = client.get(f"/console/cases/{case.number}", headers=nobody)
    assert r.status_code == 403
    assert "case-setup" not in r.get_data(as_text=True)


def test_a_case_of_another_department_is_the_apis_404(client, login, db_session):
    mine, theirs = DepartmentFactory(), DepartmentFactory()
    handler = login("department_handler", department=mine)
    case = CaseFactory(state="handling", department=theirs)
    r = client.get(f"/console/cases/{case.number}", headers=handler)
    assert r.status_code == 404
    assert "case-setup" not in r.get_data(as_text=True) and case.description not in r.get_data(as_text=True)
    api = client.get(f"/api/v1/cases/{case.number}", headers=handler)
    assert api.status_code == 404  # the same answer as the API's
    assert client.post(f"/api/v1/cases/{case.number}/actions/sign", json={}, headers=handler).status_code == 404


@pytest.mark.parametrize(("number", "status"), [
    ("no%00pe", 422), ("x" * 200, 404), ("..%2F..%2Fetc", 404), ("%E6%A1%88", 404), ("%20", 404)])
def test_a_bad_case_number_is_refused_as_the_api_refuses_it(client, login, number, status):
    clerk = login("intake_clerk")
    r = client.get(f"/console/cases/{number}", headers=clerk)
    assert r.status_code == status  # NUL: 422 naming the field, as every endpoint answers it
    assert "case-setup" not in r.get_data(as_text=True)
