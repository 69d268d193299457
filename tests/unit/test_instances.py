"""``wangge.instances.filled`` skips what the instrumented constructor does per column: the
models it is used for must have nothing there to skip (no ``@validates``, no ``init``
listeners), and an instance it fills must insert like one built by the constructor."""
import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import configure_mappers

import dispatch.models  # noqa: F401 - every mapped class, so the mappers configure
from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks.models import StageClock
from wangge.instances import filled

FILLED_MODELS = (Case, CaseEvent, StageClock)


@pytest.mark.parametrize("model", FILLED_MODELS, ids=lambda m: m.__name__)
def test_models_filled_directly_have_no_validators_or_init_listeners(model):
    configure_mappers()
    mapper = inspect(model)
    assert not mapper.validators, f"{model.__name__} has @validates; filled() would skip them"
    # the mapper's own (configure on first use, polymorphic identity) is all there may be
    ours = [fn for fn in mapper.class_manager.dispatch.init if not fn.__module__.startswith("sqlalchemy.")]
    assert not ours, f"{model.__name__} has init listeners: {ours}"
    assert mapper.polymorphic_on is None


def test_filled_instance_is_transient_with_the_given_values_only():
    configure_mappers()
    clock = filled(StageClock, case_id=7, stage="open", amount=2.0, unit="work_hours")
    state = inspect(clock)
    assert state.transient
    assert (clock.case_id, clock.stage, clock.amount, clock.unit) == (7, "open", 2.0, "work_hours")
    assert clock.ended_at is None and "ended_at" not in clock.__dict__  # left to the column default


def test_only_column_attributes_are_filled():
    configure_mappers()
    with pytest.raises(TypeError, match="case_idd"):
        filled(StageClock, case_idd=7)
    with pytest.raises(TypeError, match="case"):
        filled(CaseEvent, case=Case())  # a relationship: its foreign key would never be written
