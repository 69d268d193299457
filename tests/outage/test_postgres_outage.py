"""PostgreSQL stopped and back: a private cluster this test starts and stops under a running
app. During the outage requests answer 503 ``database_unavailable`` with ``Retry-After`` and
``/readyz`` is 503 (``/healthz`` stays 200); afterwards full service without a restart and
nothing answered 2xx before is lost. A connection lost at commit is a 503, not a 409."""
from __future__ import annotations

import psycopg
from flask import g
from sqlalchemy import text

from tests.conftest import make_settings


def setup_database(app) -> dict:
    from grid.accounts.service import create_staff, issue_token
    from grid.catalog.service import load_catalog
    from wangge.cli import upgrade_database
    from wangge.extensions import db

    with app.app_context():
        upgrade_database()
        load_catalog(db.session)
        admin = create_staff(db.session, username="admin", name="管理员", password="outage-test-pass",
                             roles=["admin"])
        secret, _ = issue_token(db.session, admin, ttl_hours=1)
        db.session.commit()
        db.session.remove()
    return {"Authorization": f"Bearer {secret}"}


def add_department(client, headers, code: str):
    return client.post("/api/v1/departments", headers=headers,
                       json={"code": code, "name": f"部门{code}", "kind": "functional"})


def assert_unavailable(resp):
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.json["code"] == "database_unavailable"
    assert int(resp.headers["Retry-After"]) > 0


def test_postgres_outage_gives_503_and_service_resumes_without_restart(private_pg):
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(private_pg.url, jobs_inline=True))
    kill_at_commit = {"on": False}

    @app.after_request
    def _lose_connection_before_commit(response):
        # Runs before the app's commit (after_request hooks run last-registered first): the
        # server ends this request's session, as a crash or a failover would.
        if kill_at_commit["on"] and getattr(g, "staff", None) is not None:
            pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
            with psycopg.connect(private_pg.url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return response

    try:
        headers = setup_database(app)
        client = app.test_client()
        accepted = [code for code in ("A1", "A2", "A3") if add_department(client, headers, code).status_code == 201]
        assert accepted == ["A1", "A2", "A3"]
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json["database"] == "ok"

        # the connection dies between the work and its commit: 503 (retry), not 409 (conflict)
        kill_at_commit["on"] = True
        assert_unavailable(add_department(client, headers, "LOST"))
        kill_at_commit["on"] = False

        private_pg.stop()
        assert_unavailable(client.get("/api/v1/departments", headers=headers))
        assert_unavailable(add_department(client, headers, "B1"))
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "Retry-After" in ready.headers
        assert ready.json["code"] == "not_ready" and ready.json["details"]["database"] == "down"
        assert client.get("/healthz").status_code == 200  # liveness: the process is fine

        private_pg.start()
        assert client.get("/readyz").status_code == 200
        assert add_department(client, headers, "B1").status_code == 201
        listed = client.get("/api/v1/departments", headers=headers)
        assert listed.status_code == 200
        codes = {d["code"] for d in listed.json}
        assert {"A1", "A2", "A3", "B1"} <= codes and "LOST" not in codes
    finally:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def test_the_workers_relay_survives_postgres_stopping(private_pg, receiver, tmp_path):
    """A real ``wangge worker`` relays what requests wrote (its relay thread, every half
    second); PostgreSQL stops under it and comes back: the worker keeps running, says so in its
    log, and relays and delivers what is written afterwards, each once."""
    import uuid
    from collections import Counter

    from tests.committed import dispose
    from tests.conftest import REDIS_URL
    from tests.outage.conftest import start_wangge, stop_process, wait_until, wangge_env
    from tests.outage.test_redis_outage import outbox_state, write_notifications
    from wangge import create_app

    channels = dict(redis_url=REDIS_URL, queue_name=f"pg{uuid.uuid4().hex[:8]}", notification_channels="webhook",
                    webhook_url=receiver.url)
    app = create_app(make_settings(private_pg.url, **channels))
    worker = None
    log = tmp_path / "worker.log"
    try:
        setup_database(app)
        worker = start_wangge(wangge_env(database_url=private_pg.url, **channels), "worker", log_path=log)
        expected = write_notifications(app, "before", 2)
        wait_until(lambda: outbox_state(app) == (2, 2), 60, "the first deliveries")

        private_pg.stop()
        wait_until(lambda: "the frequent work failed" in log.read_text(), 30, "the relay to notice the outage")
        assert worker.poll() is None, "wangge worker exited:\n" + log.read_text()

        private_pg.start()
        dispose(app)  # this test's own pooled connections died with the server (not the worker's)
        expected += write_notifications(app, "after", 2)
        # well within the minute of the periodic tick: the relay thread itself carried on
        wait_until(lambda: outbox_state(app) == (4, 4), 20, "the deliveries after PostgreSQL returned")
        assert worker.poll() is None
        assert sorted(receiver.accepted) == sorted(expected)
        assert max(Counter(receiver.accepted).values()) == 1
    finally:
        stop_process(worker)
        dispose(app)
