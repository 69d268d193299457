"""A verb's writes without the unit of work, on PostgreSQL.

What a verb changes is almost always the same small set: columns of its case (with the
version check), columns of stage clocks, and new rows of events and clocks. The ORM's
unit of work sorts and cascades over every relationship of those mappers to find that out
(a quarter of a verb's CPU, twice what the statements themselves cost). ``flush`` writes
such a set with one Core statement each, in the unit of work's order (the case, then
clocks updated, clocks inserted, events inserted), and leaves the objects as a flush would:
persistent, their history cleared, ids and defaults filled in. Anything else in the session
(another model, a relationship changed, a deletion), and SQLite, goes through
``session.flush()`` as before.
"""
from __future__ import annotations

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import NO_VALUE, instance_state
from sqlalchemy.orm.exc import StaleDataError

from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks.models import StageClock
from wangge.timeutil import utcnow

_NEW = (CaseEvent, StageClock)


def flush(session, case: Case) -> None:
    """Write what the session holds of the verb on ``case``; a concurrent change of the case
    raises ``StaleDataError`` as the unit of work would."""
    plan = _plan(session, case)
    if plan is None:
        session.flush()
        return
    dirty, new = plan
    with session.no_autoflush:  # each statement would flush the rest through the unit of work
        for obj, changes in dirty:
            _update(session, obj, changes)
        for obj in sorted(new, key=lambda o: isinstance(o, CaseEvent)):  # clocks, then events
            _insert(session, obj)


def _plan(session, case: Case):
    """([(object, {key: value})], [new objects]) when the fast path can write it all, else None."""
    if session.get_bind().dialect.name != "postgresql" or session.deleted:
        return None
    new = list(session.new)
    if any(type(obj) not in _NEW or _relationships_set(obj) for obj in new):
        return None
    dirty = []
    for obj in session.dirty:
        if obj is not case and type(obj) is not StageClock:
            return None
        changes = _changes(obj)
        if changes is None:
            return None
        if changes:
            dirty.append((obj, changes))
    dirty.sort(key=lambda pair: pair[0] is not case)  # the case (its version check) first
    return dirty, new


def _relationships_set(obj) -> bool:
    mapper = instance_state(obj).mapper
    return any(obj.__dict__.get(rel.key) is not None for rel in mapper.relationships)


def _changes(obj) -> dict | None:
    """The columns whose values differ from what was loaded; None when a relationship or an
    expired attribute was touched (the unit of work knows what to do with those)."""
    state = instance_state(obj)
    columns = state.mapper.column_attrs
    out = {}
    for key, old in state.committed_state.items():
        if key not in columns:
            return None
        value = state.dict.get(key, NO_VALUE)
        if value is NO_VALUE or old is NO_VALUE:
            return None
        if value != old:
            out[key] = value
    return out


_UPDATES: dict = {}
_INSERTS: dict = {}


def _update_statement(table, columns: tuple[str, ...], versioned: bool):
    """One UPDATE per table and set of columns, built once (its compiled form is cached with it)."""
    key = (table.name, columns, versioned)
    statement = _UPDATES.get(key)
    if statement is None:
        statement = update(table).where(table.c.id == bindparam("pk")).values(
            {name: bindparam(name) for name in columns})
        if versioned:
            statement = statement.where(table.c.version == bindparam("expected_version"))
        statement = _UPDATES[key] = statement
    return statement


def _update(session, obj, changes: dict) -> None:
    mapper = instance_state(obj).mapper
    table = mapper.local_table
    params = {mapper.column_attrs[key].columns[0].key: value for key, value in changes.items()}
    versioned = isinstance(obj, Case)
    if versioned:
        changes["updated_at"] = params["updated_at"] = utcnow()  # the column's onupdate, known to the object
        changes["version"] = params["version"] = obj.version + 1
        params["expected_version"] = obj.version
    statement = _update_statement(table, tuple(sorted(k for k in params if k != "expected_version")), versioned)
    params["pk"] = obj.id
    result = session.connection().execute(statement, params)
    if result.rowcount != 1:
        raise StaleDataError(f"{table.name} {obj.id}: changed by someone else or gone")
    state = instance_state(obj)
    state.dict.update(changes)
    # as the unit of work ends a flush: the values are the row's now, nothing left modified
    # (InstanceState._commit_all, what make_transient_to_detached uses too; set_committed_value
    # would leave the object marked modified, and the next query would run a flush for nothing)
    state._commit_all(state.dict, session.identity_map)


def _insert(session, obj) -> None:
    """INSERT the new object with every column given (Python defaults applied here, as the
    unit of work does), then make it persistent with nothing left to load."""
    state = instance_state(obj)
    mapper = state.mapper
    table = mapper.local_table
    values = {}
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        if column.primary_key:
            continue
        if attr.key not in obj.__dict__:
            default = column.default
            if default is None:
                obj.__dict__[attr.key] = None
            elif default.is_scalar:
                obj.__dict__[attr.key] = default.arg
            elif default.is_callable:
                obj.__dict__[attr.key] = default.arg(None)
            else:  # a SQL expression default (none today): only the unit of work knows it
                raise TypeError(f"{table.name}.{column.key}: a default writes.flush cannot apply")
        values[column.key] = obj.__dict__[attr.key]
    statement = _INSERTS.get(table.name)
    if statement is None:
        statement = _INSERTS[table.name] = insert(table).returning(table.c.id)
    obj.__dict__["id"] = session.connection().execute(statement, values).scalar_one()
    session.expunge(obj)
    make_transient_to_detached(obj)
    session.add(obj)
