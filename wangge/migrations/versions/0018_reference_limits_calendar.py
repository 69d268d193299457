"""Verbs (issue 10): time limits and the work calendar join the cached reference data.

The same triggers as migration 0017 on ``time_limits`` and ``calendar_days``: any change to
them, whoever makes it, puts a new random token into ``layer_versions['reference']`` in its
own transaction, so each process's cache (``grid.catalog.reference``) reloads the limits and
the calendar's local overrides with the rest. PostgreSQL reuses 0017's trigger function;
SQLite: a row trigger per table and operation.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 16:30:00

"""
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

TABLES = ("time_limits", "calendar_days")


def _triggers(dialect: str):
    """(create, drop) of each trigger this migration adds, for ``dialect``."""
    for table in TABLES:
        if dialect == "postgresql":
            yield (f"CREATE TRIGGER {table}_bump_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION wangge_bump_reference()",
                   f"DROP TRIGGER IF EXISTS {table}_bump_reference ON {table}")
            continue
        for operation in ("insert", "update", "delete"):
            name = f"{table}_bump_reference_{operation}"
            yield (f"CREATE TRIGGER {name} AFTER {operation.upper()} ON {table} BEGIN UPDATE layer_versions "
                   "SET version = lower(hex(randomblob(16))) WHERE name = 'reference'; END",
                   f"DROP TRIGGER IF EXISTS {name}")


def upgrade():
    for create, _ in _triggers(op.get_bind().dialect.name):
        op.execute(create)


def downgrade():
    for _, drop in _triggers(op.get_bind().dialect.name):
        op.execute(drop)
