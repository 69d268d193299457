"""A merge racing a rejection of its master (issue 7), on PostgreSQL with committed data:
every report either follows its master or goes back to the desk; none is left merged under
a master that is rejected, voided or closed. Each round sends both requests from their own
threads (own sessions and connections), released together by a barrier."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased

from dispatch.cases.models import Case, CaseEvent
from grid import roles as R
from grid.accounts.service import issue_token
from tests.committed import own_app, post_race
from tests.factories import StaffFactory

ROUNDS = 20


@pytest.fixture
def desk(fresh_pg_url):
    """An app on a database of its own with two intake clerks, committed."""
    from wangge.extensions import db

    with own_app(fresh_pg_url) as app:
        headers = {}
        with app.app_context():
            for name in ("clerk1", "clerk2"):
                staff = StaffFactory(roles=[R.INTAKE_CLERK])
                headers[name] = {"Authorization": f"Bearer {issue_token(db.session, staff, ttl_hours=2)[0]}"}
            db.session.commit()
        yield app, headers, fresh_pg_url


def _report(app, headers, text: str) -> str:
    r = app.test_client().post("/api/v1/cases", json={"description": text, "category_code": "C0101",
                                                      "address": "测试路1号"}, headers=headers["clerk1"])
    assert r.status_code == 201, r.json
    return r.json["number"]


def _rejection_done_or_waiting(url: str, master_id: int) -> bool:
    """The master's rejection has committed, or some request waits on a row lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        waiting = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock'").fetchone()[0]
        state = conn.execute("SELECT state FROM cases WHERE id = %s", (master_id,)).fetchone()[0]
    return bool(waiting) or state == "rejected"


@pytest.fixture
def hold_merge(monkeypatch):
    """When armed, the merge (thread race-0) pauses once it has read its master, before it
    writes the child, until the master's rejection has committed or waits on a lock."""
    import dispatch.workflow.actions

    original = dispatch.workflow.actions.EFFECTS["merge"]
    hold = {"armed": False, "url": None}

    def held_merge(session, case, *args):
        target = original(session, case, *args)
        if hold["armed"] and threading.current_thread().name == "race-0":
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not _rejection_done_or_waiting(hold["url"], case.merged_into_id):
                time.sleep(0.01)
        return target

    monkeypatch.setitem(dispatch.workflow.actions.EFFECTS, "merge", held_merge)
    return hold


def _stranded(session) -> list[str]:
    """Reports still merged into a master that will never close them."""
    master = aliased(Case)
    return list(session.scalars(select(Case.number).join(master, Case.merged_into_id == master.id).where(
        Case.state == "merged", master.state.in_(("rejected", "voided", "closed")))))


def test_merge_racing_the_rejection_of_its_master_strands_nothing(desk, hold_merge):
    from wangge.extensions import db

    app, headers, url = desk
    hold_merge["url"] = url
    lost = []
    for i in range(ROUNDS):
        hold_merge["armed"] = i % 2 == 1
        master, child = _report(app, headers, f"井盖缺失 {i}"), _report(app, headers, f"井盖缺失（重复） {i}")
        merge, reject = post_race(app, [
            (f"/api/v1/cases/{child}/actions/merge", {"into": master, "note": "同一井盖"}, headers["clerk1"]),
            (f"/api/v1/cases/{master}/actions/reject", {"note": "不属于受理范围"}, headers["clerk2"])])
        assert reject[0] == 200 and reject[1]["state"] == "rejected", reject
        assert merge[0] in (200, 422), merge
        if merge[0] == 422:  # the rejection came first: the merge is refused, nothing written
            assert "into" in merge[1]["fields"]
        with app.app_context():
            row = db.session.scalar(select(Case).where(Case.number == child))
            verbs = [e.verb for e in db.session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == row.id).order_by(CaseEvent.id))]
            # merged then released with its master, or never merged: back on the desk either way
            expected = ["submit"] if merge[0] == 422 else ["submit", "merge", "unmerge"]
            if (row.state, row.merged_into_id, verbs) != ("reported", None, expected):
                lost.append((i, merge[0], row.state, verbs))
            db.session.remove()
    with app.app_context():
        stranded = _stranded(db.session)
        db.session.remove()
    assert stranded == [] and lost == [], f"{len(stranded)} of {ROUNDS} stranded: {lost}"
