"""Model instances filled as the ORM's loader fills a row in: values straight into the
instance's dict, without the constructor's attribute event per column.

For the objects a request makes many of on its hot paths (the intake's case and event, a
verb's event and stage clock): setting a dozen columns one by one through the instrumented
constructor was a twentieth of a request's CPU. The models concerned have no ``@validates``
and no ``init`` listeners, which such an instance would skip (tests/unit/test_instances.py
keeps it so). Added to a session, it is pending like any new object: the unit of work (or
``dispatch.workflow.writes``) inserts the values in its dict and applies the columns'
defaults to those not given."""
from __future__ import annotations

_COLUMNS: dict[type, frozenset] = {}


def filled(model, **values):
    """A new ``model`` instance holding ``values`` in its dict (transient: add it to a session
    to insert it, or give it the row's identity to stand for a row already written). Only
    column attributes: a name that is not one is a ``TypeError``, as in the constructor (a
    relationship set this way would record no change, and the unit of work would not write
    its foreign key)."""
    columns = _COLUMNS.get(model)
    if columns is None:
        columns = _COLUMNS[model] = frozenset(model.__mapper__.column_attrs.keys())
    if not columns.issuperset(values):
        raise TypeError(f"{model.__name__}: not column attributes: {sorted(set(values) - columns)}")
    instance = model.__mapper__.class_manager.new_instance()
    instance.__dict__.update(values)
    return instance
