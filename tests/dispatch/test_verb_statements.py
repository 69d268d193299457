"""How many SQL statements each verb's request costs (``POST /api/v1/cases/<n>/actions/<verb>``,
its answer included), counted with an engine listener: the same for a case with a long
history (many events and ended clocks) as for a fresh one, and within each verb's budget
(docs/dispatch.md, "A verb's answer"). Statement counts only: never timings."""
from __future__ import annotations

import pytest

from tests.dispatch.conftest import do, report
from tests.mobile.fixtures_inbox import count_statements

# Two points of grid 1 (worker1's) more than a kilometre apart: neither report is flagged as
# a possible duplicate of the other (that would add the other's number to one answer only).
FRESH, LONG = (121.4015, 31.2015), (121.4085, 31.2085)

# (who, verb, body): the whole life of a C0101 case (ROAD, no auto-dispatch).
CHAIN = [
    ("clerk", "accept", {}), ("shift", "open", {}), ("dispatcher", "dispatch", {}), ("road", "sign", {}),
    ("road", "request_extension", {"note": "需要采购配件"}), ("dispatcher", "decide_extension", {"outcome": "approve"}),
    ("road", "request_suspend", {"note": "需立项", "review_date": "2027-03-01"}),
    ("dispatcher", "decide_suspend", {"outcome": "approve"}), ("dispatcher", "restore", {}),
    ("road", "report_back", {"note": "已更换"}), ("clerk", "request_check", {}),
    ("worker1", "check", {"outcome": "pass"}), ("shift", "close", {}),
    ("clerk", "rate", {"rating": "unsatisfied"}), ("clerk", "follow_up", {"outcome": "note", "note": "已回访"}),
]

# Statements per request on PostgreSQL, test savepoints not counted: the token with the
# person's roles and department (1: no staff row, see test_a_verb_reads_no_staff_row), the case with its running clock (1), the writes (case, event, clocks: 1, one statement of data-modifying CTEs), the
# reference data's version (1 here, where the check interval is 0, for every verb since the
# answer names the case's departments from the cache; 0 in production: time limits, the work
# calendar, categories and departments come from the process's cache), a verb's own reads
# (department, workers, requests: 0-2), notifications (by role: recipients, the outbox row and
# their personal notices in one statement; a named person or the reporters: 2; 0-2; the relay after commit enqueues rows claimed by their INSERT: no statement), the
# answer's event log (1) and photos (1, none for a case whose row said it has none, as these:
# tests/dispatch/test_photo_kinds.py has the answers with photos). A verb may not exceed its budget.
BUDGET = {
    "accept": 5, "open": 5, "dispatch": 6, "sign": 5, "request_extension": 7, "decide_extension": 7,
    "request_suspend": 6, "decide_suspend": 5, "restore": 5, "report_back": 5, "request_check": 8,
    "check": 5, "close": 9, "rate": 6, "follow_up": 5,
}


def counted(client, city, who: str, number: str, verb: str, body: dict) -> tuple[int, dict]:
    """(statements, answer) of one verb's request."""
    from wangge.extensions import db

    with count_statements(db.engine) as seen:
        answer = do(client, city, who, number, verb, **body)
    return len([s for s in seen if not s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]), answer


def warm_tokens(client, city) -> None:
    """Each person's first request reads their token (then the process's cache has it): make
    it before counting, so the fresh case's counts and the long one's compare alike."""
    for headers in city.headers.values():
        assert client.get("/api/v1/cases", query_string={"limit": 1}, headers=headers).status_code == 200


def grow(client, city, number: str, n: int) -> None:
    """``n`` more events (urges: the state stays)."""
    for i in range(n):
        do(client, city, "leader", number, "urge", note=f"请加快处置 {i}")


def test_statements_per_verb_do_not_grow_with_the_history(client, city):
    warm_tokens(client, city)
    fresh = report(client, city, category="C0101", point=FRESH)["number"]
    long = report(client, city, category="C0101", point=LONG)["number"]
    grow(client, city, long, 6)
    counts = {}
    for who, verb, body in CHAIN:
        if verb == "sign":  # more ended clocks: redispatched back and forth before it is signed
            for dept in ("ENV", "ROAD", "ENV", "ROAD"):
                do(client, city, "dispatcher", long, "redispatch", department_code=dept)
        if verb not in ("rate", "follow_up"):  # a closed case cannot be urged
            grow(client, city, long, 2)
        few, _ = counted(client, city, who, fresh, verb, body)
        many, answer = counted(client, city, who, long, verb, body)
        counts[verb] = (few, many)
        assert len(answer["events"]) >= 10
    grown = {verb: c for verb, c in counts.items() if c[0] != c[1]}
    assert not grown, f"statements grow with the history: {grown}"
    over = {verb: few for verb, (few, _) in counts.items() if few > BUDGET[verb]}
    assert not over, f"over budget: {over} (budget {BUDGET})"


@pytest.mark.parametrize("who, verb", [("clerk", "accept"), ("shift", "open"), ("dispatcher", "dispatch"),
                                        ("road", "sign")])
def test_a_verb_reads_no_staff_row(client, city, who, verb):
    """Who acts (id, roles, department) comes with the token's SELECT: a verb's checks, the
    scope of the case and its answer's allowed verbs need no SELECT of the staff row or roles."""
    from wangge.extensions import db

    n = report(client, city, category="C0101", point=FRESH)["number"]
    for step_who, step, body in CHAIN:
        if step == verb:
            break
        do(client, city, step_who, n, step, **body)
    with count_statements(db.engine) as seen:
        answer = do(client, city, who, n, verb)
    assert answer["state"] and answer["allowed_verbs"] is not None
    # a Staff object loads every column (password_hash among them) and its roles; reading the
    # department's handlers to notify them (dispatch) selects a few columns, not a person's row
    assert not [s for s in seen if "staff.password_hash" in s or s.startswith("SELECT staff_roles.")], seen


@pytest.mark.parametrize("verb", ["accept", "open", "dispatch", "sign", "report_back"])
def test_the_answer_is_the_case_as_written(client, city, verb):
    """What the answer is built from (the session's objects, the running clock the verb
    started) matches a fresh read of the case."""
    n = report(client, city, category="C0101", point=FRESH)["number"]
    answer = None
    for who, step, body in CHAIN:
        answer = do(client, city, who, n, step, **body)
        if step == verb:
            break
    r = client.get(f"/api/v1/cases/{n}", headers=city.h("leader"))
    assert r.status_code == 200
    fresh = r.json
    for key in ("state", "version", "department", "clock", "events", "photos", "suggested_department",
                "assignee_id", "closed_at"):
        assert answer[key] == fresh[key], key


# The corrections before dispatch (docs/dispatch.md, "Correcting a case"): a relocation (the
# point's grid from memory, the matrix from the cache, the duplicate query), a reclassification
# in ``reported`` (no clock) and one in ``opened`` that re-arms the dispatch clock (ends it,
# starts its replacement). Two points of grid 2 more than a kilometre apart, as above.
CORRECTIONS = [
    ("relocate", "reported", {"lon": 121.4115, "lat": 31.2015}, {"lon": 121.4185, "lat": 31.2085}),
    ("reclassify", "reported", {"category_code": "C0102"}, None),
    ("reclassify_rearm", "opened", {"category_code": "E0401"}, None),
]
CORRECTION_BUDGET = {"relocate": 8, "reclassify": 7, "reclassify_rearm": 7}


def test_statements_of_the_corrections_do_not_grow_with_the_history(client, city):
    warm_tokens(client, city)
    fresh = report(client, city, category="C0101", point=FRESH)["number"]
    long = report(client, city, category="C0101", point=LONG)["number"]
    grow(client, city, long, 8)
    counts = {}
    for name, state, body, long_body in CORRECTIONS:
        if state == "opened":
            for n in (fresh, long):
                do(client, city, "clerk", n, "accept")
                do(client, city, "shift", n, "open")
        verb = name.removesuffix("_rearm")
        few, answer = counted(client, city, "clerk" if verb == "relocate" else "dispatcher", fresh, verb, body)
        many, _ = counted(client, city, "clerk" if verb == "relocate" else "dispatcher", long, verb,
                          long_body or body)
        assert answer["events"][-1]["verb"] == verb and answer["state"] == state
        counts[name] = (few, many)
    grown = {name: c for name, c in counts.items() if c[0] != c[1]}
    assert not grown, f"statements grow with the history: {grown}"
    over = {name: few for name, (few, _) in counts.items() if few > CORRECTION_BUDGET[name]}
    assert not over, f"over budget: {over} (budget {CORRECTION_BUDGET}, counted {counts})"


@pytest.mark.parametrize("who, verb", [("clerk", "accept"), ("shift", "open"), ("road", "sign"),
                                        ("road", "report_back")])
def test_a_verb_writes_without_the_unit_of_work(client, city, who, verb):
    """On PostgreSQL a verb's case, clocks and event are written by ``dispatch.workflow.writes``
    (one statement for all of them) and left as a flush leaves them: no unit-of-work flush runs in the
    request, not even an empty one before the answer's reads (the case left marked modified
    cost a tenth of a verb), and the answer equals a fresh read."""
    from sqlalchemy import event

    from wangge.extensions import db

    n = report(client, city, category="C0101", point=FRESH)["number"]
    for step_who, step, body in CHAIN:
        if step == verb:
            break
        do(client, city, step_who, n, step, **body)
    flushes = []
    listener = lambda session, context, instances: flushes.append(  # noqa: E731
        [type(o).__name__ for o in (*session.new, *session.dirty)])
    event.listen(db.session, "before_flush", listener)
    try:
        with count_statements(db.engine) as seen:
            answer = do(client, city, who, n, verb, **next(b for _, v, b in CHAIN if v == verb))
    finally:
        event.remove(db.session, "before_flush", listener)
    assert flushes == [], flushes
    writes = [" ".join(s.split()) for s in seen if s.startswith(("INSERT", "UPDATE", "WITH"))]
    # the case (with its version check first), its clocks and the event in one statement
    verb_writes = [s for s in writes if "INSERT INTO case_events" in s]
    assert len(verb_writes) == 1 and verb_writes[0].startswith("WITH w0 AS (UPDATE cases SET "), writes
    assert verb_writes[0].count("UPDATE cases") == 1 and "WHERE cases.id = " in verb_writes[0], verb_writes
    assert "cases.version = " in verb_writes[0] and not any(s.startswith("UPDATE cases") for s in writes), writes
    fresh = client.get(f"/api/v1/cases/{n}", headers=city.h("leader")).json
    for key in ("state", "version", "department", "clock", "events", "assignee_id"):
        assert answer[key] == fresh[key], key


def test_the_shared_case_statement_keeps_each_department_to_its_own(client, city):
    """A verb's case SELECT is one statement for every dispatcher and one for every handler of
    a single department (``scope.shared_visibility``, bound parameters): the department next
    door still cannot see the case (404, as for a number that does not exist), and each
    handler acts on their own department's cases with the same statement."""
    road_case = report(client, city, category="C0101", point=FRESH)["number"]
    env_case = report(client, city, category="E0102", point=LONG)["number"]
    for n, dept in ((road_case, "ROAD"), (env_case, "ENV")):
        do(client, city, "clerk", n, "accept")
        if do(client, city, "shift", n, "open")["state"] == "opened":  # E0102 dispatches itself to ENV
            do(client, city, "dispatcher", n, "dispatch", department_code=dept)
    for who, mine, theirs in (("road", road_case, env_case), ("env", env_case, road_case)):
        refused = do(client, city, who, theirs, "sign", expect=404)
        assert refused["code"] == "not_found", refused
        assert do(client, city, who, mine, "sign")["state"] == "handling"
    r = client.post(f"/api/v1/cases/{road_case}/actions/report_back", json={"note": "已修复"}, headers=city.h("env"))
    assert r.status_code == 404 and r.json["code"] == "not_found"


def test_each_verbs_answer_is_what_a_get_answers(client, city):
    """A verb's answer is built from what the request wrote (the case and clock as the session
    holds them, the answer not re-dumped): at every step of a case's life, with urges from
    another person in between and a back-and-forth of departments, it equals the case's GET
    by the same person, event times in the person's zone, names, notes, data and clocks."""
    warm_tokens(client, city)
    number = report(client, city, category="C0101", point=FRESH)["number"]
    for who, verb, body in CHAIN:
        if verb == "sign":
            for dept in ("ENV", "ROAD"):
                answer = do(client, city, "dispatcher", number, "redispatch", department_code=dept)
                assert answer == client.get(f"/api/v1/cases/{number}", headers=city.h("dispatcher")).json, dept
        if verb not in ("rate", "follow_up"):
            grow(client, city, number, 1)
        answer = do(client, city, who, number, verb, **body)
        got = client.get(f"/api/v1/cases/{number}", headers=city.h(who))
        assert got.status_code == 200 and answer == got.json, verb
        assert answer["events"][-1]["verb"] == verb and answer["events"][-1]["actor"]["name"]
        assert [e["id"] for e in answer["events"]] == sorted(e["id"] for e in answer["events"])
