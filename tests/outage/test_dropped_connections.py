"""Pooled connections killed under the app (``pg_terminate_backend``, as a PostgreSQL
restart or a failover does) with no ping before each use (issue 10): a signed-in request
retries its token lookup on a fresh connection and succeeds; any request either succeeds or
answers a clean 503 ``database_unavailable``; a report retried with its key after a 503
makes exactly one case. Nothing accepted is lost."""
from __future__ import annotations

import threading

import psycopg

from grid import roles as R
from grid.accounts.service import issue_token
from tests.committed import own_app, post_race
from tests.factories import StaffFactory

BODY = {"description": "井盖缺失", "category_code": "C0101", "address": "测试路1号"}


def _terminate(url: str) -> int:
    """Kill every other backend of the database and wait (bounded) until they are gone
    (``pg_terminate_backend`` only signals them)."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                           "AND pid <> pg_backend_pid()")]
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))  # waits up to 5 s for each
        return len(pids)


def _cases(url: str, prefix: str) -> list[tuple[str, int]]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute("SELECT idempotency_key, count(*) FROM cases WHERE idempotency_key LIKE %s "
                            "GROUP BY idempotency_key", (f"%{prefix}%",)).fetchall()


def test_killed_connections_are_replaced_and_nothing_is_lost(fresh_pg_url):
    from wangge.extensions import db

    with own_app(fresh_pg_url) as app:
        with app.app_context():
            assert not db.engine.pool._pre_ping
            clerk = StaffFactory(roles=[R.INTAKE_CLERK])
            auth = {"Authorization": f"Bearer {issue_token(db.session, clerk, ttl_hours=2)[0]}"}
            db.session.commit()
            clerk_id = clerk.id

        def post(key, public=False):
            if public:
                return app.test_client().post("/api/v1/public/reports", json={"description": "路灯不亮", "address": "测试路2号"},
                                              headers={"Idempotency-Key": key})
            return app.test_client().post("/api/v1/cases", json=BODY, headers={**auth, "Idempotency-Key": key})

        # several pooled connections, then all of them killed while idle
        answers = post_race(app, [("/api/v1/cases", BODY, {**auth, "Idempotency-Key": f"warm-key-{i}"})
                                  for i in range(3)], name="warm")
        assert [s for s, _ in answers] == [201] * 3
        assert _terminate(fresh_pg_url) >= 1
        r = post("signed-in-after-kill")
        assert r.status_code == 201, r.json  # the token lookup was retried on a fresh connection
        for i in range(3):
            assert post(f"signed-in-next-{i}").status_code == 201

        # a request without a token: 201, or a clean 503 on the first dead connection it meets
        # (which drops the pool's other dead ones: at most one 503), then 201 when sent again
        assert _terminate(fresh_pg_url) >= 1
        answers = [post(f"public-after-kill-{i}", public=True) for i in range(4)]
        assert all(r.status_code in (201, 503) for r in answers), [r.json for r in answers]
        unavailable = [i for i, r in enumerate(answers) if r.status_code == 503]
        assert len(unavailable) <= 1
        for i in unavailable:
            assert answers[i].json["code"] == "database_unavailable" and answers[i].headers["Retry-After"]
            assert post(f"public-after-kill-{i}", public=True).status_code == 201

        # killed again and again while a client reports: 201 or a clean 503, then retried
        stop = threading.Event()
        statuses: dict[str, list[int]] = {}

        def client():
            i = 0
            while not stop.is_set() and i < 200:
                key = f"midrun-key-{i:04d}"
                r = post(key)
                statuses.setdefault(key, []).append(r.status_code)
                assert r.status_code in (201, 503), r.json
                if r.status_code == 503:
                    assert r.json["code"] == "database_unavailable"
                i += 1

        worker = threading.Thread(target=client)
        worker.start()
        for _ in range(5):
            stop.wait(0.15)
            _terminate(fresh_pg_url)
        stop.set()
        worker.join(60)
        assert not worker.is_alive()
        for key, seen in statuses.items():
            if seen[-1] == 503:
                retried = post(key)
                assert retried.status_code in (200, 201), retried.json
        made = dict(_cases(fresh_pg_url, "midrun-key-"))
        assert set(made) == {f"staff:{clerk_id}:{k}" for k in statuses}
        assert set(made.values()) == {1}
