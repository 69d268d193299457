"""A verb's writes without the unit of work, on PostgreSQL.

What a verb changes is almost always the same small set: columns of its case (with the
version check), columns of stage clocks, and new rows of events and clocks. The ORM's
unit of work sorts and cascades over every relationship of those mappers to find that out
(a quarter of a verb's CPU, twice what the statements themselves cost). ``flush`` writes
such a set in one round trip: one statement whose data-modifying CTEs update the case (with
the version check), update clocks, insert clocks and insert events, in the unit of work's
order, and whose one row answers how many rows each UPDATE matched and each INSERT's id. It
leaves the objects as a flush would: persistent, their history cleared, ids and defaults
filled in. Anything else in the session (another model, a relationship changed, a deletion),
and SQLite, goes through ``session.flush()`` as before.

Why one statement is safe: the parts touch different rows, so no part needs to see another's
effect; the clock triggers (``stage_clock_owner_deadline``, the KPI and sync-feed marks) are
AFTER ROW triggers, which PostgreSQL fires when the whole statement is done, so they see
every part. A concurrent change of the case matches no row (the version moved); the other
parts have written by then, and ``StaleDataError`` rolls the transaction back with them.
"""
from __future__ import annotations

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm.attributes import NO_VALUE, instance_state
from sqlalchemy.orm.exc import StaleDataError

from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks.models import StageClock
from wangge.db_session import READ_FROM, plain_session
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
    parts = [_update_part(obj, changes) for obj, changes in dirty]
    parts += [_insert_part(obj) for obj in sorted(new, key=lambda o: isinstance(o, CaseEvent))]  # clocks, then events
    if not parts:
        return
    params = {f"w{i}_{name}": value for i, part in enumerate(parts) for name, value in part.params.items()}
    with session.no_autoflush:  # the statement would flush the rest through the unit of work
        row = session.connection().execute(_statement(tuple(part.shape for part in parts)), params).one()
    for part, answer in zip(parts, row, strict=True):
        part.done(answer)
    # What the unit of work does with every object of its flush once it is done
    # (``UOWTransaction.finalize_flush_changes``): identity keys (the new ids), the identity
    # map, the values committed (nothing left modified: the next query runs no flush), new
    # ones out of ``session.new``, and each remembered by the transaction, so that rolling it
    # back, a savepoint included, expunges the new rows' objects and expires the changed ones.
    plain_session(session)._register_persistent({instance_state(part.obj) for part in parts})


def _plan(session, case: Case):
    """([(object, {key: value})], [new objects]) when the fast path can write it all, else None."""
    if session.get_bind().dialect.name != "postgresql" or session.deleted or session.info.get(READ_FROM):
        return None  # (a read routed to the replica: the unit of work's flush refuses to write there)
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


class _Part:
    """One row's write: its statement's shape (kind, table, columns, versioned), its values,
    and what to do to the object once the statement answered."""

    __slots__ = ("obj", "shape", "params", "changes")

    def __init__(self, obj, shape, params, changes=None):
        self.obj, self.shape, self.params, self.changes = obj, shape, params, changes

    def done(self, answer) -> None:
        """The statement's answer for this row into the object (``flush`` then registers it)."""
        if self.shape[0] == "update":
            if answer != 1:
                raise StaleDataError(f"{self.shape[1]} {self.obj.id}: changed by someone else or gone")
            instance_state(self.obj).dict.update(self.changes)
        else:
            self.obj.__dict__["id"] = answer


def _update_part(obj, changes: dict) -> _Part:
    mapper = instance_state(obj).mapper
    table = mapper.local_table
    params = {mapper.column_attrs[key].columns[0].key: value for key, value in changes.items()}
    versioned = isinstance(obj, Case)
    if versioned:
        changes["updated_at"] = params["updated_at"] = utcnow()  # the column's onupdate, known to the object
        changes["version"] = params["version"] = obj.version + 1
        params["expected_version"] = obj.version
    params["pk"] = obj.id
    columns = tuple(sorted(k for k in params if k not in ("expected_version", "pk")))
    return _Part(obj, ("update", table.name, columns, versioned), params, changes)


def _insert_part(obj) -> _Part:
    """The new object's INSERT with every column given (Python defaults applied here, as the
    unit of work does)."""
    mapper = instance_state(obj).mapper
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
    return _Part(obj, ("insert", table.name, tuple(values), False), values)


_TABLES = {mapper_class.__table__.name: mapper_class.__table__ for mapper_class in (Case, CaseEvent, StageClock)}
_STATEMENTS: dict = {}


def _statement(shapes: tuple):
    """``WITH w0 AS (UPDATE … RETURNING id), w1 AS (INSERT … RETURNING id), … SELECT (SELECT
    count(*) FROM w0), (SELECT id FROM w1), …``: built once per shape, so its compiled form
    (and psycopg's prepared statement) is reused. The select list runs the parts in order."""
    statement = _STATEMENTS.get(shapes)
    if statement is None:
        answers = []
        for i, (kind, table_name, columns, versioned) in enumerate(shapes):
            table = _TABLES[table_name]
            values = {name: bindparam(f"w{i}_{name}", type_=table.c[name].type) for name in columns}
            if kind == "update":
                dml = update(table).where(table.c.id == bindparam(f"w{i}_pk", type_=table.c.id.type)).values(values)
                if versioned:
                    dml = dml.where(table.c.version == bindparam(f"w{i}_expected_version", type_=table.c.version.type))
                part = dml.returning(table.c.id).cte(f"w{i}")
                answers.append(select(func.count()).select_from(part).scalar_subquery().label(f"w{i}"))
            else:
                part = insert(table).values(values).returning(table.c.id).cte(f"w{i}")
                answers.append(select(part.c.id).scalar_subquery().label(f"w{i}"))
        statement = _STATEMENTS[shapes] = select(*answers)
    return statement
