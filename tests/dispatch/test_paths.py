"""End-to-end paths through the HTTP API on PostGIS."""
from dispatch.cases import replay_state
from dispatch.models import Case, CaseEvent
from tests.dispatch.conftest import do, report


def test_straight_through(client, city, db_session):
    case = report(client, city, category="C0101")
    n = case["number"]
    assert case["state"] == "reported" and case["grid_code"] == "31010100100101"
    assert case["suggested_department"]["code"] == "ROAD" and "路政" in case["suggestion_reason"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")
    c = do(client, city, "dispatcher", n, "dispatch")
    assert c["department"]["code"] == "ROAD" and c["clock"]["stage"] == "sign"
    do(client, city, "road", n, "sign")
    c = do(client, city, "road", n, "report_back", note="已更换井盖")
    assert c["state"] == "handled"
    c = do(client, city, "clerk", n, "request_check")
    assert c["assignee_id"] == city.staff["worker1"].id
    do(client, city, "worker1", n, "check", outcome="pass")
    c = do(client, city, "shift", n, "close")
    assert c["state"] == "closed" and c["clock"] is None
    row = db_session.query(Case).filter_by(number=n).one()
    assert replay_state(db_session, row) == "closed"
    verbs = [e.verb for e in db_session.query(CaseEvent).filter_by(case_id=row.id).order_by(CaseEvent.id)]
    assert verbs == ["submit", "accept", "open", "dispatch", "sign", "report_back", "request_check", "check", "close"]


def test_auto_dispatch_category_goes_out_on_open(client, city, db_session):
    n = report(client, city, category="E0102")["number"]
    do(client, city, "clerk", n, "accept")
    c = do(client, city, "shift", n, "open")
    assert c["state"] == "dispatched" and c["department"]["code"] == "ENV"
    roles = [e["role"] for e in c["events"]]
    assert roles[-1] == "system"
