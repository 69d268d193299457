"""A deadlock or serialization failure reported by PostgreSQL is a 409 the client may retry,
not a 503 outage and not a 500."""
import threading

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError


def _real_deadlock(url: str) -> DBAPIError:
    """Two transactions locking two rows in opposite order: PostgreSQL kills one."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS deadlock_probe (id int primary key)"))
        conn.execute(text("INSERT INTO deadlock_probe VALUES (1), (2) ON CONFLICT DO NOTHING"))
    barrier = threading.Barrier(2)
    errors: list[DBAPIError] = []

    def worker(first: int, second: int):
        try:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
                conn.execute(text("SELECT id FROM deadlock_probe WHERE id = :i FOR UPDATE"), {"i": first})
                barrier.wait(timeout=10)
                conn.execute(text("SELECT id FROM deadlock_probe WHERE id = :i FOR UPDATE"), {"i": second})
        except DBAPIError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=pair) for pair in ((1, 2), (2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    engine.dispose()
    assert len(errors) == 1, errors
    return errors[0]


def test_a_deadlock_answers_409_concurrent_update(app, fresh_pg_url):
    from wangge.errors import is_concurrency_conflict, is_database_unavailable

    exc = _real_deadlock(fresh_pg_url)
    assert is_concurrency_conflict(exc) and not is_database_unavailable(exc)
    with app.test_request_context("/api/v1/cases", method="POST"):
        response = app.make_response(app.handle_user_exception(exc))
    assert response.status_code == 409
    assert response.json["code"] == "concurrent_update"
    assert response.headers["Retry-After"] == "1"
