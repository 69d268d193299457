"""A time limit stored before amounts were bounded (1e300 urgent hours) no longer turns every
`open` of its category into a 500: the clock runs on the largest amount allowed."""
from datetime import datetime, timedelta

from sqlalchemy import update

from grid.catalog.limits import MAX_AMOUNT
from grid.models import TimeLimit
from tests.dispatch.conftest import do, report


def test_an_absurd_stored_limit_opens_with_the_largest_allowed_amount(client, city, db_session):
    db_session.execute(update(TimeLimit).where(TimeLimit.stage == "dispatch")
                       .values(amount=1e300, unit="urgent_hours"))
    db_session.commit()
    n = report(client, city, category="C0101")["number"]
    do(client, city, "clerk", n, "accept")
    opened = do(client, city, "shift", n, "open")
    assert opened["state"] == "opened"
    assert opened["clock"]["stage"] == "dispatch"
    assert opened["clock"]["amount"] == MAX_AMOUNT["urgent_hours"]
    started = datetime.fromisoformat(opened["clock"]["started_at"])
    assert datetime.fromisoformat(opened["clock"]["due_at"]) - started == timedelta(hours=8760)
