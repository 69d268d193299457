"""A version for the credentials each process caches (issue 10: the token read on every request).

``layer_versions['credentials']`` gets a new random token from a trigger in the transaction
of any change that could make a cached token answer differently: a token revoked, re-dated
or deleted; a staff member disabled, moved to another department, given another language or
time zone, or deleted; a role granted or taken; a device session revoked or deleted. New
tokens and a phone's ``last_seen_at`` do not move it (nothing cached can be stale by them).
Each process compares it with the token its cache was built from (``grid.accounts.token_cache``).
PostgreSQL: one statement-level trigger function; SQLite: a row trigger per table and operation.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-27 11:40:00

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import wangge.timeutil

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

# table -> (columns whose UPDATE matters, or None for any; whether an INSERT matters)
WATCHED = {
    "api_tokens": (("revoked_at", "expires_at", "staff_id", "token_hash"), False),
    "staff": (("active", "department_id", "language", "timezone"), False),
    "staff_roles": (None, True),
    "device_sessions": (("revoked_at", "staff_id"), False),
}


def _operations(columns, on_insert: bool) -> list[str]:
    update = "UPDATE" if columns is None else f"UPDATE OF {', '.join(columns)}"
    return (["INSERT"] if on_insert else []) + [update, "DELETE"]


def upgrade():
    versions = sa.table('layer_versions', sa.column('name', sa.String), sa.column('version', sa.String),
                        sa.column('changed_at', wangge.timeutil.UTCDateTime()))
    op.bulk_insert(versions, [{'name': 'credentials', 'version': 'initial', 'changed_at': datetime.now(UTC)}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION wangge_bump_credentials() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE layer_versions SET version = md5(random()::text || clock_timestamp()::text),
                       changed_at = now()
                 WHERE name = 'credentials';
                RETURN NULL;
            END $$""")
        for table, (columns, on_insert) in WATCHED.items():
            events = " OR ".join([*_operations(columns, on_insert), "TRUNCATE"])
            op.execute(f"CREATE TRIGGER {table}_bump_credentials AFTER {events} ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION wangge_bump_credentials()")
        return
    for table, (columns, on_insert) in WATCHED.items():
        for operation in _operations(columns, on_insert):
            op.execute(f"CREATE TRIGGER {table}_bump_credentials_{operation.split()[0].lower()} AFTER {operation} "
                       f"ON {table} BEGIN UPDATE layer_versions SET version = lower(hex(randomblob(16))) "
                       "WHERE name = 'credentials'; END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_credentials ON {table}")
        op.execute("DROP FUNCTION IF EXISTS wangge_bump_credentials()")
    else:
        for table, (columns, on_insert) in WATCHED.items():
            for operation in _operations(columns, on_insert):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_credentials_{operation.split()[0].lower()}")
    op.execute("DELETE FROM layer_versions WHERE name = 'credentials'")
