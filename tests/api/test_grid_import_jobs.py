"""Grid imports as background jobs (``POST /api/v1/grids/imports``): read at once (a bad
file is refused before anything is queued), queued on the real Redis, run by an rq worker
that reports done of total features as it writes, all or nothing, the status only for the
admin who started it; when Redis is down, run at once."""
import json

import pytest
from rq import Queue, SimpleWorker
from shapely.geometry import box, mapping
from sqlalchemy import func, select

from grid.grids import imports
from grid.models import Grid

BOWTIE = {"type": "Polygon", "coordinates": [[[121.45, 31.20], [121.46, 31.21], [121.46, 31.20],
                                              [121.45, 31.21], [121.45, 31.20]]]}


def cells(n, prefix="T"):
    """``n`` small square unit grids side by side, without a parent."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": f"{prefix}{i:04d}", "name": f"格{i}", "level": "grid"},
         "geometry": mapping(box(121.0 + (i % 30) * 0.001, 31.0 + (i // 30) * 0.001,
                                 121.0 + (i % 30 + 1) * 0.001, 31.0 + (i // 30 + 1) * 0.001))}
        for i in range(n)]}


def post(client, headers, doc, query="crs=wgs84"):
    body = doc if isinstance(doc, (str, bytes)) else json.dumps(doc)
    return client.post(f"/api/v1/grids/imports?{query}", data=body, headers=headers, content_type="application/json")


def grids_named(session, prefix):
    return session.scalar(select(func.count(Grid.id)).where(Grid.code.like(f"{prefix}%")))


def work(app, redis_conn):
    queue = Queue(app.config["WANGGE"].queue_name, connection=redis_conn)
    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    return queue


def test_import_runs_in_an_rq_worker_and_reports_progress(app, client, admin, login, db_session, redis_conn,
                                                          monkeypatch):
    r = post(client, admin, cells(450))
    assert r.status_code == 202, r.json
    job = r.json
    assert (job["state"], job["done"], job["total"], job["progress"], job["result"]) == ("queued", 0, 450, 0, None)
    url = f"/api/v1/grids/imports/{job['id']}"
    assert client.get(url, headers=login("admin")).status_code == 404  # another admin's import
    assert client.get(url, headers=login("dispatcher")).status_code == 403
    assert client.get(url).status_code == 401
    assert grids_named(db_session, "T") == 0  # nothing written before the job runs

    seen = []
    update = imports.ImportJob.update

    def spy(self, **changes):  # the real update, remembered
        status = update(self, **changes)
        seen.append((status["state"], status["step"], status["done"]))
        return status

    monkeypatch.setattr(imports.ImportJob, "update", spy)
    queue = Queue(app.config["WANGGE"].queue_name, connection=redis_conn)
    assert f"grid-import-{job['id']}" in queue.job_ids
    work(app, redis_conn)
    assert seen == [("running", "validating", 0), ("running", "writing", 200), ("running", "writing", 400),
                    ("running", "writing", 450), ("done", None, 450)]

    done = client.get(url, headers=admin).json
    assert done["state"] == "done" and done["progress"] == 1.0 and done["error"] is None
    assert done["result"]["created"] == 450 and done["result"]["skipped"] == 0
    assert grids_named(db_session, "T") == 450


def test_a_bad_feature_fails_the_job_and_writes_nothing(app, client, admin, db_session, redis_conn):
    doc = cells(3, prefix="B")
    doc["features"][1]["geometry"] = BOWTIE
    r = post(client, admin, doc, "crs=wgs84&lang=en")
    assert r.status_code == 202
    work(app, redis_conn)
    failed = client.get(f"/api/v1/grids/imports/{r.json['id']}?lang=en", headers=admin).json
    assert failed["state"] == "failed" and failed["result"] is None
    error = failed["error"]
    assert error["code"] == "invalid_features" and error["status"] == 422
    assert [(d["index"], d["code"], d["reason"]) for d in error["details"]] == [(1, "B0001", "self_intersection")]
    assert error["details"][0]["reason_text"].isascii()  # in the reader's language
    zh = client.get(f"/api/v1/grids/imports/{r.json['id']}?lang=zh", headers=admin).json["error"]
    assert zh["message"] != error["message"] and not zh["details"][0]["reason_text"].isascii()
    assert grids_named(db_session, "B") == 0


def test_skip_invalid_and_fix_are_passed_to_the_job(app, client, admin, db_session, redis_conn):
    doc = cells(3, prefix="S")
    doc["features"][2]["geometry"] = BOWTIE
    r = post(client, admin, doc, "crs=wgs84&fix=true")
    work(app, redis_conn)
    result = client.get(f"/api/v1/grids/imports/{r.json['id']}", headers=admin).json["result"]
    assert result["created"] == 3 and [f["code"] for f in result["fixes"]] == ["S0002"]


@pytest.mark.parametrize("body, query, status, field", [
    ("not json", "crs=wgs84", 400, None),
    ('{"type": "Feature"}', "crs=wgs84", 400, None),
    ("\x00\x00", "crs=wgs84", 400, None),
    ('{"type": "FeatureCollection", "features": []}', "crs=wgs84", 422, "features"),
    (json.dumps(cells(1)), "crs=mars", 422, "crs"),
    (json.dumps(cells(1)), "", 422, "crs"),
    (json.dumps(cells(1)), "crs=wgs84&level=planet", 422, "level"),
])
def test_a_bad_request_is_refused_before_anything_is_queued(app, client, admin, db_session, redis_conn,
                                                           body, query, status, field):
    r = post(client, admin, body, query)
    assert r.status_code == status, r.json
    assert r.json["code"] == ("invalid_file" if status == 400 else "validation_error")
    if field:
        assert field in r.json["fields"]
    assert Queue(app.config["WANGGE"].queue_name, connection=redis_conn).count == 0


def test_only_an_admin_imports(client, login, db_session):
    for role in ("leader", "dispatcher", "grid_worker"):
        assert post(client, login(role), cells(1)).status_code == 403
    assert post(client, {}, cells(1)).status_code == 401


@pytest.mark.parametrize("job_id, status", [("nope", 404), ("..%2F..%2Fetc", 404), ("a" * 300, 404),
                                            ("%00", 422)])
def test_an_unknown_import_is_refused(client, admin, db_session, job_id, status):
    r = client.get(f"/api/v1/grids/imports/{job_id}", headers=admin)
    assert r.status_code == status and r.json["code"] in ("not_found", "route_not_found", "invalid_characters")


def test_the_import_runs_at_once_when_redis_is_down(app, client, admin, db_session, monkeypatch):
    monkeypatch.setattr(app.config["WANGGE"], "redis_url", "redis://127.0.0.1:1/0")
    r = post(client, admin, cells(2, prefix="R"))
    assert r.status_code == 202 and r.json["state"] == "done" and r.json["result"]["created"] == 2
    assert grids_named(db_session, "R") == 2
