"""Each process caches the tokens it resolved (``grid.accounts.token_cache``): a signed-in
person's next request reads no token row, yet a change that makes a cached answer wrong is
acted on at once in the process that made it and within ``WANGGE_TOKEN_CHECK_SECONDS`` in
any other (here: another connection writing plain SQL, as another process or a DBA would).
The version triggers of migration 0022 are checked on PostgreSQL and on the embedded SQLite
file: what they must move, and what they must leave alone."""
from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import text

from grid.accounts.service import hash_password, issue_token
from grid.models import DeviceSession, Staff, StaffRole
from tests.committed import own_app
from tests.mobile.fixtures_inbox import count_statements
from wangge.timeutil import utcnow

PAGE = "/api/v1/cases"  # any endpoint whose answer needs only the token's roles
KPI = "/api/v1/kpi?from=2026-11-01&to=2026-11-02"  # leaders and the dispatch center only


@contextmanager
def app_on(url: str, **settings):
    """``own_app`` in an app context, with the session; a SQLite file is migrated first."""
    from wangge.cli import upgrade_database
    from wangge.extensions import db

    with own_app(url, **settings) as app, app.app_context():
        if url.startswith("sqlite"):
            upgrade_database()
        yield app, db.session


def person(session, username: str, *roles: str) -> tuple[Staff, dict]:
    staff = Staff(username=username, name=username, password_hash=hash_password("pw-1234567"),
                  role_rows=[StaffRole(role=r) for r in roles])
    session.add(staff)
    session.flush()
    secret, _ = issue_token(session, staff, ttl_hours=1)
    session.commit()
    return staff, {"Authorization": f"Bearer {secret}"}


def reads(seen: list[str], table: str) -> int:
    return sum(1 for s in seen if s.lstrip().upper().startswith("SELECT") and table in s)


def test_the_next_request_reads_no_token_and_a_change_here_acts_at_once(fresh_pg_url):
    with app_on(fresh_pg_url, token_check_seconds=600) as (app, session):
        from wangge.extensions import db

        _, admin = person(session, "cache_admin", "admin")
        worker, headers = person(session, "cache_worker", "grid_worker", "leader")
        client = app.test_client()
        assert client.get(KPI, headers=headers).status_code == 200
        with count_statements(db.engine) as first:
            assert client.get(PAGE, headers=headers).status_code == 200
        with count_statements(db.engine) as second:
            assert client.get(PAGE, headers=headers).status_code == 200
        assert reads(first, "api_tokens") == 0 and reads(second, "api_tokens") == 0, second  # cached by the KPI's
        assert reads(second, "layer_versions") == 0, second  # the version is checked every 600 s here

        # taking a role through the API: the next request here knows at once
        r = client.patch(f"/api/v1/staff/{worker.id}", json={"roles": ["grid_worker"]}, headers=admin)
        assert r.status_code == 200, r.json
        r = client.get(KPI, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden_role", r.json

        # signing out: refused on the very next request, although the interval is long
        assert client.post("/api/v1/auth/logout", headers=headers).status_code == 200
        r = client.get(PAGE, headers=headers)
        assert r.status_code == 401 and r.json["code"] == "token_revoked", r.json

        # disabling an account through the API
        other, other_headers = person(session, "cache_other", "grid_worker")
        assert client.get(PAGE, headers=other_headers).status_code == 200
        r = client.patch(f"/api/v1/staff/{other.id}", json={"active": False}, headers=admin)
        assert r.status_code == 200, r.json
        assert client.get(PAGE, headers=other_headers).status_code in (401, 403)


def test_a_change_made_elsewhere_acts_within_the_interval(fresh_pg_url):
    interval = 0.3
    with app_on(fresh_pg_url, token_check_seconds=interval) as (app, session):
        worker, headers = person(session, "elsewhere_worker", "grid_worker")
        leader, leader_headers = person(session, "elsewhere_leader", "leader")
        client = app.test_client()
        assert client.get(PAGE, headers=headers).status_code == 200
        assert client.get(KPI, headers=leader_headers).status_code == 200
        with psycopg.connect(fresh_pg_url, autocommit=True) as other:
            other.execute("UPDATE api_tokens SET revoked_at = now() WHERE staff_id = %s", (worker.id,))
            other.execute("DELETE FROM staff_roles WHERE staff_id = %s", (leader.id,))
        time.sleep(interval * 1.5)
        r = client.get(PAGE, headers=headers)
        assert r.status_code == 401 and r.json["code"] == "token_revoked", r.json
        r = client.get(KPI, headers=leader_headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden_role", r.json


def test_a_cached_token_still_expires(fresh_pg_url, monkeypatch):
    import grid.accounts.service as service

    with app_on(fresh_pg_url, token_check_seconds=600) as (app, session):
        _, headers = person(session, "expiring_worker", "grid_worker")
        client = app.test_client()
        assert client.get(PAGE, headers=headers).status_code == 200  # cached now
        later = utcnow() + timedelta(hours=2)
        monkeypatch.setattr(service, "utcnow", lambda: later)
        r = client.get(PAGE, headers=headers)
        assert r.status_code == 401 and r.json["code"] == "token_expired", r.json


MOVES = [
    "UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP WHERE staff_id = :staff",
    "UPDATE staff SET active = false WHERE id = :staff",
    "UPDATE staff SET timezone = 'UTC' WHERE id = :staff",
    "INSERT INTO staff_roles (staff_id, role) VALUES (:staff, 'leader')",
    "DELETE FROM staff_roles WHERE staff_id = :staff",
    "UPDATE device_sessions SET revoked_at = CURRENT_TIMESTAMP WHERE staff_id = :staff",
    "DELETE FROM api_tokens WHERE staff_id = :staff",
]
STAYS = [
    "UPDATE device_sessions SET last_seen_at = CURRENT_TIMESTAMP WHERE staff_id = :staff",
    "UPDATE staff SET name = 'renamed' WHERE id = :staff",
    "UPDATE staff SET password_hash = 'x' WHERE id = :staff",
]


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_the_version_moves_with_what_can_change_a_cached_answer(dialect, fresh_pg_url, tmp_path):
    url = fresh_pg_url if dialect == "postgresql" else f"sqlite:///{tmp_path / 'w.sqlite3'}"
    with app_on(url, jobs_inline=True) as (_app, session):
        staff, _ = person(session, "versioned", "grid_worker")
        session.add(DeviceSession(staff_id=staff.id, device_id="phone-1", platform="android"))
        session.commit()

        def version() -> str:
            return session.execute(text("SELECT version FROM layer_versions WHERE name = 'credentials'")).scalar_one()

        before = version()
        issue_token(session, staff, ttl_hours=1)  # a new token cannot make a cached answer wrong
        session.commit()
        for sql in STAYS:
            session.execute(text(sql), {"staff": staff.id})
            session.commit()
            assert version() == before, sql
        for sql in MOVES:
            session.execute(text(sql), {"staff": staff.id})
            session.commit()
            now = version()
            assert now != before, sql
            before = now
