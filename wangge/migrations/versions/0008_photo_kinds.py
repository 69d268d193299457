"""Photo kinds (before, after, evidence), what they document, capture flags, citizens' uploads.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 12:50:00

"""
from alembic import op
import sqlalchemy as sa

import wangge.timeutil


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('event_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('flags', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('distance_m', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('upload_token_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('upload_expires_at', wangge.timeutil.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_attachments_event_id_case_events'), 'case_events',
                                    ['event_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_attachments_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachments_upload_token_hash'), ['upload_token_hash'], unique=True)
    # Photos attached before this revision: their kind was never asked; their event and flags
    # stay NULL ("not checked"), which the case detail shows as such.
    op.execute("UPDATE attachments SET kind = 'evidence' WHERE case_id IS NOT NULL")


def downgrade():
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_upload_token_hash'))
        batch_op.drop_index(batch_op.f('ix_attachments_event_id'))
        batch_op.drop_constraint(batch_op.f('fk_attachments_event_id_case_events'), type_='foreignkey')
        batch_op.drop_column('upload_expires_at')
        batch_op.drop_column('upload_token_hash')
        batch_op.drop_column('distance_m')
        batch_op.drop_column('flags')
        batch_op.drop_column('event_id')
        batch_op.drop_column('kind')
