"""The change feed's retention: ``sync_feed.created_at`` (a database default, so the triggers
of 0009, which name their columns, stay as they are), an index on it for the prune, an index
on (kind, entity_id) for mobile_api.push.history, and ``sync_feed_horizon`` (one row: how far
the feed has been pruned; a pull from a cursor before it is answered with a reset).

Existing rows get the upgrade's time (PostgreSQL stores the default once, no table rewrite):
they are pruned one retention period after the upgrade.

SQLite cannot add a column whose default is CURRENT_TIMESTAMP, so the table is rebuilt
(Alembic's batch copy), this time with AUTOINCREMENT: SQLite's feed order is the row id, and
a plain INTEGER PRIMARY KEY would hand out the deleted ids again once the prune emptied the
table. The triggers on cases, enforcement_cases and stage_clocks write into ``sync_feed`` by
name; SQLite (3.26+) refuses to rename a table while a trigger names a table that is gone,
so the rebuild runs with ``legacy_alter_table`` on (the triggers then find the new table
under the old name).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 15:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.add_column('sync_feed', sa.Column('created_at', sa.DateTime(timezone=True), server_default=NOW,
                                             nullable=False))
    else:
        op.execute("PRAGMA legacy_alter_table = ON")
        with op.batch_alter_table('sync_feed', recreate="always",
                                  table_kwargs={"sqlite_autoincrement": True}) as batch:
            batch.add_column(sa.Column('created_at', sa.DateTime(timezone=True), server_default=NOW,
                                       nullable=False))
        op.execute("PRAGMA legacy_alter_table = OFF")
    op.create_index('ix_sync_feed_kind_entity', 'sync_feed', ['kind', 'entity_id'], unique=False)
    op.create_index('ix_sync_feed_created_at', 'sync_feed', ['created_at'], unique=False)
    horizon = op.create_table(
        'sync_feed_horizon',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('pruned_id', sa.BigInteger(), nullable=False),
        sa.Column('pruned_txid', sa.BigInteger(), nullable=True),
        sa.Column('pruned_rows', sa.BigInteger(), nullable=False),
        sa.Column('pruned_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_feed_horizon')),
    )
    op.bulk_insert(horizon, [{"id": 1, "pruned_id": 0, "pruned_txid": None, "pruned_rows": 0, "pruned_at": None}])


def downgrade():
    op.drop_table('sync_feed_horizon')
    op.drop_index('ix_sync_feed_created_at', table_name='sync_feed')
    op.drop_index('ix_sync_feed_kind_entity', table_name='sync_feed')
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column('sync_feed', 'created_at')
    else:
        op.execute("PRAGMA legacy_alter_table = ON")
        with op.batch_alter_table('sync_feed', recreate="always") as batch:
            batch.drop_column('created_at')
        op.execute("PRAGMA legacy_alter_table = OFF")
