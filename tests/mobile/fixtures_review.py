"""Helpers of the review's tests (tests/mobile/test_review_*.py): an app on a database of its
own whose work is committed (for races), and running requests at the same moment."""
from __future__ import annotations

import threading
from contextlib import contextmanager

from tests.conftest import make_settings


@contextmanager
def committed(fresh_pg_url, **settings):
    """``with committed(fresh_pg_url) as (app, make_staff)``: an app on that database (its work
    is committed); ``make_staff(*roles, **fields)`` commits a staff member and answers (staff
    id, Authorization headers)."""
    from grid.accounts.service import issue_token
    from tests.factories import StaffFactory
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(fresh_pg_url, **{"push_vendor_url": "https://push.vendor.example/send",
                                                      **settings}))

    def make_staff(*roles, **fields):
        with app.app_context():
            staff = StaffFactory(roles=list(roles), **fields)
            secret, _ = issue_token(db.session, staff, ttl_hours=2)
            db.session.commit()
            out = staff.id, {"Authorization": f"Bearer {secret}"}
            db.session.remove()
            return out

    try:
        yield app, make_staff
    finally:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def race(app, calls) -> list:
    """Run each ``call(client)`` in its own thread (own session and connection), released
    together by a barrier; their answers (status, json) in order."""
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(i, call):
        client = app.test_client()
        barrier.wait()
        r = call(client)
        answers[i] = (r.status_code, r.json)

    threads = [threading.Thread(target=run, args=(i, c), name=f"review-race-{i}") for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(a is not None for a in answers), answers
    return answers
