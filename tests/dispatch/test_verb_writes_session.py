"""What ``dispatch.workflow.writes.flush`` leaves in the session, as the unit of work would:
the verb's new event and stage clock persistent under their new ids, nothing pending; and when
the transaction they were written in rolls back, gone from the session again (a 409 or a
failure after the write must not leave an event or a clock behind for a later flush)."""
from __future__ import annotations

from sqlalchemy import func, inspect, select

from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks.models import StageClock
from dispatch.workflow.actions import Actor, act
from tests.dispatch.conftest import report


def _case(db_session, number: str) -> Case:
    return db_session.scalar(select(Case).where(Case.number == number))


def test_new_rows_are_persistent_and_a_rollback_takes_them_back(client, city, db_session):
    number = report(client, city)["number"]
    clerk = city.staff["clerk"]
    events_before = db_session.scalar(select(func.count()).select_from(CaseEvent))

    nested = db_session.begin_nested()
    case = _case(db_session, number)
    event = act(db_session, case, "accept", Actor(clerk, "intake_clerk"))
    clock = next(c for c in db_session.identity_map.values() if isinstance(c, StageClock) and c.case_id == case.id
                 and c.ended_at is None)
    for obj in (event, clock):
        state = inspect(obj)
        assert state.persistent and obj.id is not None, obj
        assert db_session.identity_map.get(state.key) is obj
    assert not db_session.new and not db_session.dirty  # written, nothing left for a flush
    assert db_session.get(CaseEvent, event.id) is event  # the identity map answers, no SELECT needed

    nested.rollback()
    for obj in (event, clock):
        assert inspect(obj).session_id is None and inspect(obj).key not in db_session.identity_map, obj
    assert db_session.scalar(select(func.count()).select_from(CaseEvent)) == events_before
    assert _case(db_session, number).state == "reported"

    # the same case acted on again in the same session: one accept, written once
    event = act(db_session, _case(db_session, number), "accept", Actor(clerk, "intake_clerk"))
    db_session.flush()
    verbs = db_session.scalars(select(CaseEvent.verb).where(CaseEvent.case_id == event.case_id)
                               .order_by(CaseEvent.id)).all()
    assert verbs == ["submit", "accept"]
