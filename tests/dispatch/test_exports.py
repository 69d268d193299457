"""KPI exports as background jobs: queued on the real Redis, run by an rq worker, progress
readable while they run, the file only for its owner; when Redis is down, made at once."""
import io

import openpyxl
from rq import Queue, SimpleWorker

from dispatch.workflow.actions import replay_state
from tests.dispatch.conftest import POINT_G1
from tests.factories import CaseEventFactory, CaseFactory


def _one_dispatched_case(db_session, city):
    """A C0101 report accepted, opened and dispatched to ROAD: its rows from the factories
    (these tests are about the export job; the lifecycle has tests of its own)."""
    road = city.departments["road"]
    case = CaseFactory(category_code="C0101", channel="grid_worker", reporter=city.staff["worker1"],
                       lon=POINT_G1[0], lat=POINT_G1[1], state="dispatched", department=road)
    for who, verb, before, after in (("clerk", "accept", "reported", "accepted"),
                                     ("shift", "open", "accepted", "opened"),
                                     ("dispatcher", "dispatch", "opened", "dispatched")):
        CaseEventFactory(case=case, verb=verb, actor=city.staff[who], from_state=before, to_state=after,
                         department_id=road.id if verb == "dispatch" else None)
    assert replay_state(db_session, case) == "dispatched"
    return case.number


def test_export_runs_in_an_rq_worker_and_reports_progress(app, client, city, db_session, redis_conn):
    _one_dispatched_case(db_session, city)
    r = client.post("/api/v1/kpi/exports?from=2020-01-01&to=2030-12-31&by=department&format=xlsx",
                    headers=city.h("leader"))
    assert r.status_code == 202, r.json
    export = r.json
    assert export["state"] == "queued" and export["progress"] == 0 and export["file_url"] is None
    status_url = f"/api/v1/kpi/exports/{export['id']}"
    assert client.get(status_url + "/file", headers=city.h("leader")).status_code == 409
    assert client.get(status_url, headers=city.h("dispatcher")).status_code == 404  # not theirs

    queue = Queue(app.config["WANGGE"].queue_name, connection=redis_conn)
    assert f"export-{export['id']}" in queue.job_ids
    SimpleWorker([queue], connection=redis_conn).work(burst=True)

    done = client.get(status_url, headers=city.h("leader")).json
    assert done["state"] == "done" and done["progress"] == 1.0 and done["rows"] >= 1
    f = client.get(done["file_url"], headers=city.h("leader"))
    assert f.status_code == 200 and f.headers["Content-Disposition"].startswith("attachment")
    sheet = openpyxl.load_workbook(io.BytesIO(f.data)).active
    assert any(c.value == "ROAD" for row in sheet.iter_rows(min_row=2) for c in row)


def test_export_is_made_at_once_when_redis_is_down(app, client, city, db_session, monkeypatch):
    _one_dispatched_case(db_session, city)
    monkeypatch.setattr(app.config["WANGGE"], "redis_url", "redis://127.0.0.1:1/0")
    r = client.post("/api/v1/kpi/exports?from=2020-01-01&to=2030-12-31&by=category&format=csv",
                    headers=city.h("leader"))
    assert r.status_code == 202 and r.json["state"] == "done"
    f = client.get(r.json["file_url"], headers=city.h("leader"))
    assert f.status_code == 200 and f.mimetype == "text/csv" and "C0101" in f.data.decode("utf-8-sig")


def test_export_input_is_checked(client, city):
    r = client.post("/api/v1/kpi/exports?from=2026-01-01&to=2026-01-31&format=json", headers=city.h("leader"))
    assert r.status_code == 422 and "format" in r.json["fields"]
    r = client.post("/api/v1/kpi/exports?from=2026-02-01&to=2026-01-31&format=csv", headers=city.h("leader"))
    assert r.status_code == 422 and "to" in r.json["fields"]
    assert client.post("/api/v1/kpi/exports?from=2026-01-01&to=2026-01-31&format=csv",
                       headers=city.h("worker1")).status_code == 403
