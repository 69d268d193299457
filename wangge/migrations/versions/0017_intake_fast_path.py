"""Intake fast path (issue 10): a version for the reference data every process caches.

``layer_versions['reference']`` gets a new random token from a trigger on ``categories``,
``responsibilities`` and ``departments`` in the transaction of any change to them, whoever
makes it; each process compares it with the token its cache was built from
(``grid.catalog.reference``). PostgreSQL: one statement-level trigger function; SQLite: a
row trigger per table and operation.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 15:30:00

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import wangge.timeutil

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

TABLES = ("categories", "responsibilities", "departments")
OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def upgrade():
    versions = sa.table('layer_versions', sa.column('name', sa.String), sa.column('version', sa.String),
                        sa.column('changed_at', wangge.timeutil.UTCDateTime()))
    op.bulk_insert(versions, [{'name': 'reference', 'version': 'initial', 'changed_at': datetime.now(UTC)}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION wangge_bump_reference() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE layer_versions SET version = md5(random()::text || clock_timestamp()::text),
                       changed_at = now()
                 WHERE name = 'reference';
                RETURN NULL;
            END $$""")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_bump_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION wangge_bump_reference()")
        return
    for table in TABLES:
        for operation in OPERATIONS:
            op.execute(f"CREATE TRIGGER {table}_bump_reference_{operation.lower()} AFTER {operation} ON {table} "
                       "BEGIN UPDATE layer_versions SET version = lower(hex(randomblob(16))) "
                       "WHERE name = 'reference'; END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_reference ON {table}")
        op.execute("DROP FUNCTION IF EXISTS wangge_bump_reference()")
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_reference_{operation.lower()}")
    op.execute("DELETE FROM layer_versions WHERE name = 'reference'")
