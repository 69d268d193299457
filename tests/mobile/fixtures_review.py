"""Helpers of the review's tests (tests/mobile/test_review_*.py): an app on a database of its
own whose work is committed (for races), and running requests at the same moment."""
from __future__ import annotations

from contextlib import contextmanager

from tests.committed import own_app
from tests.committed import race as shared_race


@contextmanager
def committed(fresh_pg_url, **settings):
    """``with committed(fresh_pg_url) as (app, make_staff)``: an app on that database (its work
    is committed); ``make_staff(*roles, **fields)`` commits a staff member and answers (staff
    id, Authorization headers)."""
    from grid.accounts.service import issue_token
    from tests.factories import StaffFactory
    from wangge.extensions import db

    with own_app(fresh_pg_url, **{"push_vendor_url": "https://push.vendor.example/send", **settings}) as app:

        def make_staff(*roles, **fields):
            with app.app_context():
                staff = StaffFactory(roles=list(roles), **fields)
                secret, _ = issue_token(db.session, staff, ttl_hours=2)
                db.session.commit()
                out = staff.id, {"Authorization": f"Bearer {secret}"}
                db.session.remove()
                return out

        yield app, make_staff


def race(app, calls) -> list:
    """Run each ``call(client)`` in its own thread (own session and connection), released
    together by a barrier; their answers (status, json) in order."""
    return shared_race(app, calls, name="review-race")
